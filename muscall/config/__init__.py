"""Typed configuration: nested dataclasses, named YAML configs and ``key.sub=value`` overrides.

``schema`` holds the sections, ``scoring`` the quality-scorer section, ``checks`` the cross-field checks and
``load`` the YAML + overrides merge that runs them. Importing this package imports nothing of muscall but
:mod:`muscall.errors`, and no torch.
"""

from muscall.config.checks import validate_augment_config, validate_config
from muscall.config.load import (
    CONFIG_DIR,
    RETIRED_KEYS,
    ConfigError,
    config_to_dict,
    drop_retired,
    from_dict,
    list_configs,
    load_config,
)
from muscall.config.schema import (
    CHROMA_ROWS,
    FACT_HEADS,
    NOISE_COLORS,
    AudioConfig,
    AudioEncoderConfig,
    AugmentConfig,
    ChainConfig,
    Config,
    DataConfig,
    FactsLossConfig,
    IndexConfig,
    LossConfig,
    MaskConfig,
    ModelConfig,
    ServeConfig,
    TextEncoderConfig,
    TrainConfig,
)

__all__ = ["CHROMA_ROWS", "CONFIG_DIR", "FACT_HEADS", "NOISE_COLORS", "RETIRED_KEYS", "AudioConfig",
           "AudioEncoderConfig", "AugmentConfig", "ChainConfig", "Config", "ConfigError", "FactsLossConfig", "DataConfig", "IndexConfig", "LossConfig", "MaskConfig", "ModelConfig", "ServeConfig",
           "TextEncoderConfig", "TrainConfig", "config_to_dict", "drop_retired", "from_dict", "list_configs",
           "load_config", "validate_augment_config", "validate_config"]
