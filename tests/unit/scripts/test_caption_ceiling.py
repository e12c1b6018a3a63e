"""scripts/caption_ceiling.py: phrase sets, longest-first parsing, oracle metrics."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from muscall.data.manifest import ClipRow
from muscall.data.synth.captions import derive_moods, make_caption
from muscall.data.synth.styles import STYLES

_PATH = Path(__file__).resolve().parents[3] / "scripts" / "caption_ceiling.py"
_SPEC = importlib.util.spec_from_file_location("caption_ceiling", _PATH)
cc = importlib.util.module_from_spec(_SPEC)
sys.modules.setdefault("caption_ceiling", cc)  # dataclasses look their module up by name
_SPEC.loader.exec_module(cc)


def _attrs(genre: str, bpm: int, mode: str = "minor", dynamics: str = "soft", key: str = "A", reverb: float = 0.3):
    """Plausible attributes for a clip of ``genre`` (first program of each role)."""
    style = STYLES[genre]
    inst = [{"role": r, "program": p[0]} for r, p in style.programs.items()]
    return {"genre": genre, "bpm": bpm, "key": key, "mode": mode, "meter": f"{style.meter}/4", "dynamics": dynamics,
            "moods": derive_moods(genre, mode, bpm, dynamics), "reverb": reverb, "instruments": inst}


def test_every_generated_caption_fits_its_own_clip():
    """The generator's captions, over all genres and many wordings, never name a phrase outside their clip."""
    clips = [_attrs(g, bpm, mode, dyn, reverb=rev) for g in STYLES
             for bpm, mode, dyn, rev in [(70, "minor", "soft", 0.1), (170, "major", "loud", 0.9)]]
    parser = cc.PhraseParser(frozenset().union(*map(cc.clip_phrases, clips)))
    rng = np.random.default_rng(0)
    for attrs in clips:
        own = cc.clip_phrases(attrs)
        for _ in range(60):
            caption = make_caption(attrs, rng)
            found = parser.parse(caption)
            assert found & {s.lower() for s in STYLES[attrs["genre"]].synonyms}, caption  # the genre is read
            assert found <= own, (caption, sorted(found - own))


def test_longest_match_blanks_shorter_phrases():
    parser = cc.PhraseParser({"fast", "very fast", "soft", "softly played", "a minor", "a minor key", "drums",
                              "one-drop drums"})
    assert parser.parse("Very fast reggae, softly played, one-drop drums") == {"very fast", "softly played",
                                                                               "one-drop drums"}
    assert parser.parse("In a minor key, fast and soft") == {"a minor key", "fast", "soft"}
    assert parser.parse("In A minor, breakfast") == {"a minor"}  # no match inside a word


def test_clip_phrases_cover_bpm_key_and_meter():
    phrases = cc.clip_phrases(_attrs("waltz", 133, mode="major", key="F#"))
    assert {"133 bpm", "around 135 bpm", "f# major", "a major key", "in three-four", "waltz"} <= phrases
    assert "in three-four" not in cc.clip_phrases(_attrs("rock", 120))
    assert "very fast" in phrases or "fast" in phrases


def _row(i: int, genre: str, caption: str, bpm: int = 120) -> ClipRow:
    return ClipRow(id=f"c{i}", audio_path="x.flac", caption=caption, split="test", attributes=_attrs(genre, bpm))


def test_ceilings_count_consistent_clips():
    rows = [_row(0, "rock", "A rock tune at 120 bpm"), _row(1, "rock", "rock"), _row(2, "rock", "rock", bpm=90),
            _row(3, "jazz", "jazz")]
    parser = cc.PhraseParser(frozenset().union(*(cc.clip_phrases(r.attributes) for r in rows)))
    (chance, genre, oracle), bad = cc.ceilings(rows, parser)
    assert bad == []
    assert oracle.k.tolist() == [2, 3, 3, 1]  # "120 bpm" fits clips 0 and 1; "rock" fits all three rock clips
    assert genre.k.tolist() == [3, 3, 3, 1] and chance.k.tolist() == [4] * 4
    assert oracle.recall(1) == pytest.approx(np.mean([1 / 2, 1 / 3, 1 / 3, 1]))
    assert oracle.recall(2) == pytest.approx(np.mean([1, 2 / 3, 2 / 3, 1]))
    assert cc.Ceiling("x", np.array([1, 1, 1])).medr() == 1.0
