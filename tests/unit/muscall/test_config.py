"""Configs: every shipped one loads and validates; overrides, unknown keys and wrong types are handled."""

from __future__ import annotations

import pytest

from muscall.cli.main import main
from muscall.config import (
    AugmentConfig,
    Config,
    ConfigError,
    config_to_dict,
    from_dict,
    list_configs,
    load_config,
    validate_config,
)


@pytest.mark.parametrize("name", list_configs())
def test_every_shipped_config_validates(name):
    cfg = load_config(name)
    assert isinstance(cfg, Config) and cfg.name == name
    assert validate_config(cfg) == []


def test_shipped_set():
    assert {"paper", "resnet50", "small", "tiny"} <= set(list_configs())


def test_paper_matches_the_published_settings():
    cfg = load_config("paper")
    a = cfg.audio
    assert (a.sample_rate, a.n_fft, a.hop_length, a.n_mels, a.clip_seconds) == (16000, 1024, 512, 128, 20.0)
    assert cfg.model.audio.layers == [3, 4, 6, 3] and cfg.model.audio.base_width == 16
    assert cfg.model.audio.pooling == "attention" and cfg.model.embed_dim == 512 and cfg.model.text.layers == 4
    assert cfg.loss.ssl and cfg.loss.caption_weighting and cfg.loss.ssl_weight == pytest.approx(0.3)


def test_overrides_are_typed():
    cfg = load_config("tiny", ["train.epochs=7", "audio.f_max=4000", "model.audio.layers=[2,2,2,2]",
                               "audio.top_db=null", "train.device=cpu"])
    assert cfg.train.epochs == 7 and cfg.audio.f_max == 4000.0 and isinstance(cfg.audio.f_max, float)
    assert cfg.model.audio.layers == [2, 2, 2, 2] and cfg.audio.top_db is None and cfg.train.device == "cpu"


@pytest.mark.parametrize("override, message", [
    ("train.epoch=3", "unknown config key 'train.epoch'"),
    ("nosuch.key=1", "unknown config key 'nosuch'"),
    ("train.epochs=abc", "'train.epochs' expects int"),
    ("train.amp=yes please", "'train.amp' expects bool"),
    ("model.audio.layers=3", "'model.audio.layers' expects a list"),
    ("train.epochs", "must look like key.sub=value"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config("tiny", [override])


def test_cross_field_checks():
    cfg = load_config("tiny")
    cfg.audio.f_max = 9000.0
    assert any("Nyquist" in p for p in validate_config(cfg))
    cfg = load_config("tiny")
    cfg.train.batch_size = 1
    assert any("batch_size" in p for p in validate_config(cfg))


@pytest.mark.parametrize("override, message", [
    ("audio.f_max=9000", "Nyquist"),
    ("train.batch_size=1", "batch_size"),
    ("scoring.pooling=max", "scoring.pooling"),
    ("augment.p_noise=1.5", "augment.p_noise"),
    ("augment.gain_db=[6, -6]", "augment.gain_db"),
])
def test_load_config_runs_the_cross_field_checks(override, message):
    with pytest.raises(ConfigError, match=f"config 'tiny' is invalid:(.|\n)*{message}"):
        load_config("tiny", [override])


def test_augment_section_defaults_and_overrides(tmp_path):
    cfg = load_config("tiny", ["augment.p_pitch_shift=0.9", "augment.freq_mask.count=3", "augment.snr_db=[10, 20]"])
    assert cfg.augment.p_pitch_shift == 0.9 and cfg.augment.freq_mask.count == 3
    assert cfg.augment.snr_db == [10.0, 20.0] and isinstance(cfg.augment.snr_db[0], float)
    default = Config().augment
    assert (default.p_gain, default.gain_db, default.p_noise, default.snr_db) == (0.5, [-6.0, 6.0], 0.5, [5.0, 30.0])
    assert default.noise_colors == ["white", "pink", "brown"]
    assert (default.p_pitch_shift, default.max_semitones) == (0.4, 2.0)
    assert (default.time_mask.p, default.time_mask.max_fraction, default.time_mask.count) == (0.5, 0.1, 2)
    assert (default.freq_mask.p, default.freq_mask.max_fraction, default.freq_mask.count) == (0.5, 0.15, 2)
    path = tmp_path / "aug.yaml"
    path.write_text("augment: {p_gain: 0.25, time_mask: {p: 1.0}}\n")
    cfg = load_config(path)
    assert cfg.augment.p_gain == 0.25 and cfg.augment.time_mask.p == 1.0 and cfg.augment.time_mask.count == 2


def test_unknown_config_name_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no config named 'nope'"):
        load_config("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_validate_command(capsys):
    assert main(["validate", "--all"]) == 0
    assert "small: ok" in capsys.readouterr().out
    assert main(["validate", "tiny", "audio.f_max=9000"]) == 2
    assert "Nyquist" in capsys.readouterr().err


def test_float_override_accepts_exponent_without_a_dot():
    assert load_config("tiny", ["train.lr=2e-3"]).train.lr == 0.002
    with pytest.raises(ConfigError, match="train.lr"):
        load_config("tiny", ["train.lr=fast"])


def test_a_retired_key_in_a_config_file_says_it_was_removed(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("train: {batch_clusters: 4}\n")
    with pytest.raises(ConfigError, match="no longer exists"):
        load_config(path)


def test_a_config_saved_before_the_augment_section_loads_with_its_defaults():
    raw = config_to_dict(load_config("tiny"))
    del raw["augment"]  # what a checkpoint's config.yaml from before the section holds
    assert from_dict(Config, raw).augment == AugmentConfig()
