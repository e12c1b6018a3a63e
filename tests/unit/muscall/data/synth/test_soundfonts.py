"""Soundfont sets: naming, packaged defaults, seeded per-clip choice, the held-out soundfont (no audio rendered)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from muscall.data.synth import soundfonts
from muscall.data.synth.clips import SOUND, stream
from muscall.data.synth.soundfonts import (HOLDOUT_SHARE, KnownSoundfont, check_holdout, choose_soundfont,
                                           resolve_soundfonts, split_pairs)
from muscall.errors import MuscallError


@pytest.fixture
def fake_known(tmp_path, monkeypatch) -> dict[str, KnownSoundfont]:
    """The packaged set pointed at files under tmp_path: two installed, one missing."""
    known = {
        "gm": KnownSoundfont("gm", "pkg-gm", tmp_path / "GM.sf2"),
        "mono": KnownSoundfont("mono", "pkg-mono", tmp_path / "Mono.sf3"),
        "general": KnownSoundfont("general", "pkg-general", tmp_path / "General.sf3"),
    }
    (tmp_path / "GM.sf2").write_bytes(b"x")
    (tmp_path / "Mono.sf3").write_bytes(b"x")
    monkeypatch.setattr(soundfonts, "KNOWN", known)
    monkeypatch.setattr(soundfonts, "DEFAULT_SET", tuple(known))
    return known


def test_packaged_defaults_are_the_gm_soundfonts_with_their_packages():
    assert soundfonts.DEFAULT_SET == ("fluidr3-gm", "fluidr3mono-gm", "musescore-general")
    assert {k.package for k in soundfonts.KNOWN.values()} == {
        "fluid-soundfont-gm", "fluidr3mono-gm-soundfont", "musescore-general-soundfont-small"}


def test_a_missing_default_soundfont_names_its_package(fake_known):
    with pytest.raises(MuscallError, match=r"missing: general = .*General.sf3.*apt-get install pkg-general"):
        resolve_soundfonts()
    with pytest.raises(MuscallError, match="'general' is not installed.*apt-get install pkg-general"):
        resolve_soundfonts("gm,general")


def test_entries_are_names_paths_or_named_paths(fake_known, tmp_path):
    mine = tmp_path / "My Own GM.sf2"
    mine.write_bytes(b"x")
    got = resolve_soundfonts(["mono", f"alt={fake_known['gm'].path}", str(mine)])
    assert list(split_pairs(got)) == ["mono", "alt", "my-own-gm"]
    assert split_pairs(got)["my-own-gm"] == str(mine.resolve())
    assert list(split_pairs(resolve_soundfonts(str(fake_known["gm"].path)))) == ["gm"]  # a packaged file's name
    with pytest.raises(MuscallError, match="given twice"):
        resolve_soundfonts(f"gm,{fake_known['gm'].path}")
    with pytest.raises(MuscallError, match="'.*nope.sf2' does not exist"):
        resolve_soundfonts(f"x={tmp_path / 'nope.sf2'}")


def test_choice_is_seeded_and_uniform():
    names = ["a", "b", "c"]
    picks = [choose_soundfont(stream(0, i, SOUND), names, "train") for i in range(900)]
    assert picks == [choose_soundfont(stream(0, i, SOUND), names, "train") for i in range(900)]
    assert picks != [choose_soundfont(stream(1, i, SOUND), names, "train") for i in range(900)]
    assert all(250 < c < 350 for c in Counter(picks).values())


def test_holdout_never_renders_train_or_val():
    names = ["a", "b", "c"]
    for split in ("train", "val"):
        picks = {choose_soundfont(stream(0, i, SOUND), names, split, holdout="b") for i in range(500)}
        assert picks == {"a", "c"}
    test = [choose_soundfont(stream(0, i, SOUND), names, "test", holdout="b") for i in range(1000)]
    share = test.count("b") / len(test)
    assert abs(share - HOLDOUT_SHARE) < 0.06 and {"a", "c"} <= set(test)


def test_holdout_must_be_usable():
    check_holdout(["a", "b"], "", 0.1)
    check_holdout(["a", "b"], "b", 0.1)
    with pytest.raises(MuscallError, match="not one of this corpus's soundfonts"):
        check_holdout(["a", "b"], "z", 0.1)
    with pytest.raises(MuscallError, match="second soundfont"):
        check_holdout(["a"], "a", 0.1)
    with pytest.raises(MuscallError, match="test split no clips"):
        check_holdout(["a", "b"], "b", 0.0)
    assert np.isclose(HOLDOUT_SHARE, 0.5)
