"""Typed configuration: nested dataclasses, named YAML configs and ``key.sub=value`` overrides.

``load_config("small", ["train.epochs=3"])`` merges, in order: the dataclass defaults, the named
YAML file shipped in ``muscall/configs`` (or any YAML path), then the overrides. Unknown keys and
values of the wrong type raise :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from muscall.errors import MuscallError
from muscall.scoring.config import ScoringConfig, validate_scoring_config

CONFIG_DIR = Path(__file__).parent / "configs"
CHROMA_ROWS = 12  # pitch classes C, C#, ..., B


class ConfigError(MuscallError, ValueError):
    """A config key, value or file is wrong; the message names it and the fix."""


@dataclass
class AudioConfig:
    """Audio front end: decoding, log-mel and windowing."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 128
    f_min: float = 0.0
    f_max: float | None = 8000.0  # None means Nyquist
    power: float = 2.0
    top_db: float | None = 80.0
    chroma_n_fft: int = 0  # > 0: append 12 chroma rows (pitch-class energy, dB) from an STFT of this size
    clip_seconds: float = 20.0  # training crop and catalog window length
    window_hop_seconds: float = 10.0  # hop between full-track windows (eval, catalog)
    min_seconds: float = 1.0  # shorter files are rejected
    max_seconds: float = 1800.0  # longer files are rejected

    @property
    def feature_rows(self) -> int:
        """Rows of the front end's output: the mel bands, then 12 chroma rows when ``chroma_n_fft > 0``."""
        return self.n_mels + (CHROMA_ROWS if self.chroma_n_fft > 0 else 0)


@dataclass
class AudioEncoderConfig:
    """ResNet-style CNN over log-mels with attention pooling."""

    layers: list[int] = field(default_factory=lambda: [3, 4, 6, 3])  # bottleneck blocks per stage
    base_width: int = 16  # ResNet-50 proper is 64
    pooling: str = "attention"  # attention | mean
    attention_heads: int = 4
    dropout: float = 0.0
    rhythm: bool = False  # a tempo branch: onset-envelope autocorrelation over 40-240 BPM lags
    fact_width: int = 128  # width of the chroma/rhythm branch (used when either is on)


@dataclass
class TextEncoderConfig:
    """Text tower: a small Transformer over a trained tokenizer, or frozen/fine-tuned MiniLM."""

    encoder: str = "transformer"  # transformer | minilm
    width: int = 512
    layers: int = 4
    heads: int = 8
    max_tokens: int = 77
    vocab_size: int = 8000
    dropout: float = 0.1
    freeze: bool = True  # minilm only: keep its weights fixed


@dataclass
class ModelConfig:
    """The dual encoder and its joint space."""

    embed_dim: int = 512
    init_temperature: float = 0.07
    max_logit_scale: float = 100.0
    audio: AudioEncoderConfig = field(default_factory=AudioEncoderConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)


@dataclass
class LossConfig:
    """Contrastive loss, caption-similarity weighting and the SSL audio objective."""

    caption_weighting: bool = False
    caption_weight_temperature: float = 0.01  # MusCALL's k at batch 256; scale with batch size (weights ~ 1/B)
    caption_similarity: str = "auto"  # auto | minilm | tfidf
    ssl: bool = False
    ssl_weight: float = 0.3  # total = (1 - ssl_weight) * contrastive + ssl_weight * ssl
    ssl_temperature: float = 0.5
    ssl_projection_dim: int = 128
    ssl_fraction: float = 1.0  # share of each batch that also gets an augmented view (SSL pairs); <1 saves compute


@dataclass
class TrainConfig:
    """Optimisation, data loading, validation and checkpointing."""

    epochs: int = 200
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 0.1
    warmup_steps: int = 500
    grad_clip: float = 1.0
    accum_steps: int = 1
    amp: bool = True  # used only where the device supports it well (CUDA)
    seed: int = 0
    num_workers: int = 2
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    feature_cache: bool = True
    val_pool_size: int = 1000
    early_stop_patience: int = 10
    max_minutes: float | None = None  # wall-clock budget for the whole run
    log_every: int = 10
    checkpoint_every: int = 0  # also save checkpoints/last every N steps (0: at epoch ends only)
    compile: bool = False  # torch.compile the audio tower for training (needs a C++ compiler; falls back to eager)


@dataclass
class DataConfig:
    """Where training data lives."""

    manifest: str = "data/corpus/manifest.jsonl"
    cache_dir: str | None = None  # default: <manifest dir>/cache
    caption_field: str = "caption"
    # Train on every caption of a clip (``caption`` plus the row's further ``captions``), one drawn per epoch;
    # false: ``caption`` only. Validation and evaluation always use ``caption``.
    all_captions: bool = True
    # Training and validation see at most the first N seconds of each clip (cached or decoded), so one long
    # track does not pad every row of the feature cache to its length; None: whole clips.
    cache_max_seconds: float | None = 60.0


@dataclass
class IndexConfig:
    """FAISS index choice and tuning."""

    factory: str = "auto"  # a FAISS factory string, or auto
    memory_budget_mb: float = 4096.0
    target_recall: float = 0.95
    embedding_dtype: str = "float16"  # float16 | float32 (catalog shards)
    keep_window_embeddings: bool = True


@dataclass
class ServeConfig:
    """HTTP service settings."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    api_key: str | None = None
    max_upload_mb: float = 20.0
    max_query_chars: int = 512
    max_k: int = 200
    query_cache_size: int = 1024
    max_offset: int = 1000  # deepest search page: offset + k results are ranked
    max_clip_seconds: float = 600.0  # uploaded clips (search, tag, score, add) longer than this are refused
    protect_reads: bool = False  # also require the API key for searches and track reads
    threads_per_request: int = 1  # torch / FAISS threads of one request; parallelism comes from concurrent requests


@dataclass
class Config:
    """Everything one run needs."""

    name: str = "paper"
    audio: AudioConfig = field(default_factory=AudioConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)


def list_configs() -> list[str]:
    """Names of the configs shipped inside the package."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(name_or_path: str | Path = "paper", overrides: list[str] | None = None) -> Config:
    """Load a named config (or a YAML path) and apply ``key.sub=value`` overrides."""
    path = _resolve(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err}); fix the syntax") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(raw).__name__}")
    raw.setdefault("name", path.stem)
    for item in overrides or []:
        key, value = _parse_override(item)
        _set_dotted(raw, key, value)
    return from_dict(Config, raw)


# Keys that existed once and were removed: a checkpoint written before the removal still loads (the key is dropped
# with a log line); a config file that sets one is refused with the reason. Add a key here when you remove it.
RETIRED_KEYS: dict[str, str] = {
    "train.batch_clusters": "caption-cluster batches were measured far worse and removed (commit 1e81df1)",
    "train.caption_clusters": "the cluster count of the removed caption-cluster batches (commit 1e81df1)",
}


def drop_retired(raw: dict[str, Any]) -> list[str]:
    """Remove retired keys from a nested config dict in place; returns the dotted keys it removed."""
    dropped = []
    for dotted in RETIRED_KEYS:
        *parents, leaf = dotted.split(".")
        node = raw
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            del node[leaf]
            dropped.append(dotted)
    return dropped


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a config dataclass (for YAML, JSON and checkpoints)."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a nested dict, checking every key and type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        where = prefix.rstrip(".") or "top level"
        if f"{prefix}{unknown[0]}" in RETIRED_KEYS:
            raise ConfigError(f"config key '{prefix}{unknown[0]}' no longer exists: "
                              f"{RETIRED_KEYS[prefix + unknown[0]]}; delete it from the config")
        raise ConfigError(f"unknown config key '{prefix}{unknown[0]}' ({where} accepts: {', '.join(sorted(names))})")
    kwargs = {}
    for key, value in data.items():
        kwargs[key] = _coerce(hints[key], value, f"{prefix}{key}")
    return cls(**kwargs)


def _resolve(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"config file '{path}' does not exist")
        return path
    shipped = CONFIG_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ConfigError(f"no config named '{name_or_path}'; choose one of {list_configs()} or give a .yaml path")
    return shipped


def _parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"override '{item}' must look like key.sub=value (e.g. train.epochs=3)")
    key, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        value = text
    return key.strip(), value


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override '{key}': '{part}' is a value, not a section")
    node[parts[-1]] = value


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' expects a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        return [_coerce(item_tp, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "2e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"config key '{key}' expects {getattr(tp, '__name__', tp)}, got {value!r}")


def validate_config(cfg: Config) -> list[str]:
    """Cross-field checks beyond types; returns the problems found (empty when valid)."""
    problems = []
    a = cfg.audio
    nyquist = a.sample_rate / 2
    if a.f_max is not None and a.f_max > nyquist:
        problems.append(f"audio.f_max={a.f_max} is above Nyquist ({nyquist}) for audio.sample_rate={a.sample_rate}")
    if a.f_min >= (a.f_max or nyquist):
        problems.append(f"audio.f_min={a.f_min} must be below f_max")
    if a.hop_length <= 0 or a.n_fft <= 0 or a.n_mels <= 0:
        problems.append("audio.n_fft, audio.hop_length and audio.n_mels must be positive")
    if a.chroma_n_fft < 0 or (a.chroma_n_fft and a.chroma_n_fft < a.n_fft):
        problems.append(f"audio.chroma_n_fft={a.chroma_n_fft}: use 0 (no chroma rows) or an FFT size >= audio.n_fft "
                        "(4096 at 16 kHz resolves semitones from about 100 Hz)")
    if a.clip_seconds <= 0 or a.window_hop_seconds <= 0:
        problems.append("audio.clip_seconds and audio.window_hop_seconds must be positive")
    if a.min_seconds > a.clip_seconds:
        problems.append("audio.min_seconds must not exceed audio.clip_seconds")
    if cfg.model.audio.pooling not in ("attention", "mean"):
        problems.append(f"model.audio.pooling='{cfg.model.audio.pooling}': use attention or mean")
    if cfg.model.text.encoder not in ("transformer", "minilm"):
        problems.append(f"model.text.encoder='{cfg.model.text.encoder}': use transformer or minilm")
    if cfg.model.text.width % cfg.model.text.heads:
        problems.append("model.text.width must be divisible by model.text.heads")
    if cfg.loss.caption_similarity not in ("auto", "minilm", "tfidf"):
        problems.append(f"loss.caption_similarity='{cfg.loss.caption_similarity}': use auto, minilm or tfidf")
    if not 0.0 <= cfg.loss.ssl_weight < 1.0:
        problems.append("loss.ssl_weight must be in [0, 1)")
    if cfg.loss.ssl and not (cfg.train.batch_size * cfg.loss.ssl_fraction >= 2 and cfg.loss.ssl_fraction <= 1.0):
        problems.append("loss.ssl_fraction must be in (0, 1] and leave at least 2 SSL pairs per batch")
    if cfg.index.embedding_dtype not in ("float16", "float32"):
        problems.append("index.embedding_dtype must be float16 or float32")
    if cfg.data.cache_max_seconds is not None and cfg.data.cache_max_seconds < a.clip_seconds:
        problems.append(f"data.cache_max_seconds={cfg.data.cache_max_seconds} is shorter than one crop "
                        f"(audio.clip_seconds={a.clip_seconds}); raise it or set it to null")
    if cfg.train.batch_size < 2:
        problems.append("train.batch_size must be at least 2 for a contrastive loss")
    return problems + validate_scoring_config(cfg.scoring)
