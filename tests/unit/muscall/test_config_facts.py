"""loss.facts and augment.chain: off in the base schema, on where shipped, bad values named with their fix."""

from __future__ import annotations

import re

import pytest

from muscall.config import ConfigError, load_config


def test_off_in_the_base_schema_and_on_in_small_and_tiny():
    paper = load_config("paper")
    assert paper.loss.facts.weight == 0.0 and paper.augment.chain.p == 0.0
    for name in ("small", "tiny"):
        cfg = load_config(name)
        assert cfg.loss.facts.weight > 0 and cfg.loss.facts.heads == ["key", "mode", "tempo", "instruments", "genre"]
    assert load_config("tiny").augment.chain.p > 0


@pytest.mark.parametrize("override, message", [
    ("loss.facts.weight=-1", "loss.facts.weight=-1.0 must be >= 0 (0 turns the fact heads off)"),
    ("loss.facts.heads=[key,chords]", "loss.facts.heads=['key', 'chords']: name each head once, from key, mode"),
    ("loss.facts.heads=[key,key]", "name each head once"),
    ("loss.facts.heads=[]", "loss.facts.heads is empty while loss.facts.weight > 0: name heads or set the weight"),
    ("augment.chain.p=2", "augment.chain.p=2.0 must be in [0, 1]"),
    ("augment.chain.cutoff=[0.0,1.0]", "augment.chain.cutoff=[0.0, 1.0]: the lowest cutoff must be above 0"),
    ("augment.chain.reverb_wet=[0.0,2.0]", "augment.chain.reverb_wet=[0.0, 2.0]: keep both ends within [0.0, 1.0]"),
    ("augment.chain.tilt_db=[3.0,-3.0]", "augment.chain.tilt_db=[3.0, -3.0]: give [low, high] with low <= high"),
])
def test_bad_values_name_the_key_and_the_fix(override, message):
    with pytest.raises(ConfigError, match=f"config 'tiny' is invalid:(.|\n)*{re.escape(message)}"):
        load_config("tiny", [override])
