"""Configs: every shipped one loads and validates; overrides, unknown keys and wrong types are handled."""

from __future__ import annotations

import pytest

from muscall.cli.main import main
from muscall.config import Config, ConfigError, list_configs, load_config, validate_config


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
    assert any("Nyquist" in p for p in validate_config(load_config("tiny", ["audio.f_max=9000"])))
    assert any("batch_size" in p for p in validate_config(load_config("tiny", ["train.batch_size=1"])))


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
