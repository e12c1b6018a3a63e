"""Fact targets: classes from the training rows, unknown attributes masked, text targets only where stated."""

from __future__ import annotations

import numpy as np

from muscall.data.facts import UNKNOWN, FactTargets, FactVocab, key_class
from muscall.data.manifest import ClipRow


def _row(i: int, **attrs) -> ClipRow:
    return ClipRow(id=f"r{i}", audio_path=f"{i}.wav", caption="x", attributes=attrs)


ROWS = [
    _row(0, genre="jazz", key="Eb", mode="minor", bpm=70,
         instruments=[{"name": "piano", "role": "lead"}, {"name": "acoustic bass", "role": "bass"}]),
    _row(1, genre="hip_hop", key="D#", mode="major", bpm=170, instruments=[{"name": "drums"}]),
    _row(2),  # a user's row without attributes
]


def test_vocab_and_audio_targets():
    vocab = FactVocab.from_rows(ROWS)
    assert vocab.genres == ("hip hop", "jazz") and vocab.instruments == ("acoustic bass", "drums", "piano")
    assert vocab.classes("key") == 24 and vocab.classes("tempo") == 4
    facts = FactTargets.build(ROWS, vocab)
    t = facts.audio(np.array([0, 1, 2]))
    assert t["key"].tolist() == [3 + 12, 3, UNKNOWN]  # Eb minor, D# major (enharmonic of Eb), unknown
    assert t["mode"].tolist() == [1, 0, UNKNOWN]
    assert t["tempo"].tolist() == [0, 3, UNKNOWN]  # slow, very fast
    assert t["genre"].tolist() == [1, 0, UNKNOWN]
    np.testing.assert_array_equal(t["instruments"], [[1, 0, 1], [0, 1, 0], [UNKNOWN] * 3])


def test_key_class_needs_tonic_and_mode():
    assert key_class("C", "major") == 0 and key_class("B", "minor") == 23
    assert key_class("H", "major") == UNKNOWN and key_class("C", None) == UNKNOWN


def test_heads_without_classes_are_left_out():
    rows = [_row(0, key="C", mode="major")]
    facts = FactTargets.build(rows, FactVocab.from_rows(rows), ["key", "genre", "instruments"])
    assert facts.heads == ("key",)


def test_text_targets_keep_only_what_the_drawn_caption_states():
    facts = FactTargets.build(ROWS, FactVocab.from_rows(ROWS))
    index = np.array([0, 0, 1])
    captions = ["A slow jazz tune in Eb minor with piano.",
                "jazz piece, minor-free wording, at 70 bpm",
                "hip hop track with drums"]
    t = facts.text(index, captions)
    assert t["key"].tolist() == [15, UNKNOWN, UNKNOWN]
    assert t["mode"].tolist() == [1, UNKNOWN, UNKNOWN]  # "minor-free" is not the word "minor"
    assert t["tempo"].tolist() == [0, 0, UNKNOWN]  # "slow", "bpm"; the third says nothing of tempo
    assert t["genre"].tolist() == [1, 1, 0]
    np.testing.assert_array_equal(t["instruments"], [[0, 0, 1], [UNKNOWN] * 3, [0, 1, 0]])


def test_text_targets_read_synonyms_and_leave_unnamed_genres_unknown():
    facts = FactTargets.build(ROWS, FactVocab.from_rows(ROWS))
    captions = ["a slow tune with PIANOFORTE and acoustic bass",  # an augmentation synonym put back
                "hip-hop beat with a drum kit",  # the generator's words for hip hop and drums
                "calm tune with sax"]  # no genre named; an instrument that is not in the vocabulary
    t = facts.text(np.array([0, 1, 0]), captions)
    assert t["genre"].tolist() == [UNKNOWN, 0, UNKNOWN]
    np.testing.assert_array_equal(t["instruments"], [[1, 0, 1], [0, 1, 0], [UNKNOWN] * 3])
