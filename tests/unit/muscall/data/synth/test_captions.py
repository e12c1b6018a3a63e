"""Moods and captions."""

from __future__ import annotations

import numpy as np

from muscall.data.synth.captions import derive_moods, make_caption, mood_vocabulary, tempo_class
from muscall.data.synth.styles import GENRES, STYLES

ATTRS = {"genre": "jazz", "bpm": 150, "key": "Bb", "mode": "minor", "meter": "4/4", "dynamics": "loud",
         "instruments": [{"role": "lead", "program": 65, "name": "saxophone"},
                         {"role": "comp", "program": 0, "name": "piano"},
                         {"role": "bass", "program": 32, "name": "upright bass"},
                         {"role": "drums", "program": 32, "name": "drums"}],
         "moods": ["sophisticated", "dark", "intense"], "reverb": 0.3}


def test_moods_follow_mode_tempo_and_dynamics():
    assert "melancholic" in derive_moods("string quartet", "minor", 66, "soft")
    assert "calm" in derive_moods("string quartet", "minor", 66, "soft")
    assert "happy" in derive_moods("country", "major", 130, "medium")
    assert derive_moods("metal", "minor", 180, "loud")[0] == "aggressive"
    assert tempo_class(60) == "slow" and tempo_class(170) == "very fast"
    vocab = set(mood_vocabulary())
    for genre in GENRES:
        for mode in ("major", "minor"):
            for dyn in ("soft", "medium", "loud"):
                assert set(derive_moods(genre, mode, 100, dyn)) <= vocab


def test_captions_name_the_genre_and_vary():
    for genre in GENRES:
        attrs = {**ATTRS, "genre": genre, "moods": derive_moods(genre, "minor", 150, "loud")}
        caps = [make_caption(attrs, np.random.default_rng(i)) for i in range(40)]
        for cap in caps:
            assert any(s in cap.lower() for s in STYLES[genre].synonyms), cap
            assert "  " not in cap and ".." not in cap
        assert len(set(caps)) >= 36, f"{genre}: captions repeat"
        assert len({c.split()[0] for c in caps}) >= 5, f"{genre}: captions all start alike"


def test_captions_mention_other_attributes_sometimes():
    caps = " ".join(make_caption(ATTRS, np.random.default_rng(i)) for i in range(60)).lower()
    assert "sax" in caps and "piano" in caps and "bass" in caps
    assert "150 bpm" in caps
    assert "bb minor" in caps or "minor key" in caps
    assert any(w in caps for w in ("dark", "brooding", "ominous"))


def test_caption_is_seeded():
    assert make_caption(ATTRS, np.random.default_rng(3)) == make_caption(ATTRS, np.random.default_rng(3))
