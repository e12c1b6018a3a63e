"""Held-out wording: its phrases never occur in training captions; test clips get a held-out caption and query."""

from __future__ import annotations

import re

import numpy as np

from muscall.data.synth import heldout_words
from muscall.data.synth.captions import TRAINING, derive_moods, make_caption
from muscall.data.synth.heldout import make_heldout_caption, make_short_query, plain
from muscall.data.synth.instruments import lookup
from muscall.data.synth.styles import GENRES, STYLES

MARKERS = ("if you like", "through and through", "for fans of", "trade ideas", "perfect for", "sets the tone",
           "from start to finish", "courtesy of", "do the talking", "somebody gathered", "in feel")


def clip_attrs(genre: str, i: int) -> dict:
    """Attributes of a plausible clip of ``genre``, varied by ``i`` (every role's programs in turn)."""
    style, rng = STYLES[genre], np.random.default_rng(i)
    mode, dyn = ("major", "minor")[i % 2], ("soft", "medium", "loud")[i % 3]
    bpm = int(rng.integers(*style.bpm))
    insts = [{"role": role, "program": progs[i % len(progs)], "name": lookup(progs[i % len(progs)], role == "drums").name}
             for role, progs in style.programs.items()]
    return {"genre": genre, "bpm": bpm, "key": "D", "mode": mode, "meter": f"{style.meter}/4", "dynamics": dyn,
            "instruments": insts, "moods": derive_moods(genre, mode, bpm, dyn), "reverb": (0.1, 0.4, 0.9)[i % 3]}


def contains(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text.lower()) is not None


def training_captions(per_genre: int = 60) -> list[str]:
    return [make_caption(clip_attrs(g, i), np.random.default_rng([i, 1])) for g in GENRES for i in range(per_genre)]


def test_heldout_phrases_and_sentence_shapes_never_occur_in_training_captions():
    text = "\n".join(training_captions())
    leaks = [p for p in (*heldout_words.vocabulary(), *MARKERS) if contains(text, p)]
    assert not leaks


def test_heldout_caption_uses_heldout_genre_words_and_shapes():
    for genre in GENRES:
        caps = [make_heldout_caption(clip_attrs(genre, i), np.random.default_rng(i)) for i in range(30)]
        for cap in caps:
            assert any(contains(cap, p) for p in heldout_words.GENRES[genre]), cap
            assert not any(contains(cap, s) for s in ("the mood is", "featuring", "takes the melody", "bpm")), cap
        assert len(set(caps)) >= 25
        assert sum(any(m in c.lower() for m in MARKERS) for c in caps) >= 15


def test_short_query_is_mood_genre_and_one_instrument_in_plain_heldout_words():
    orders = set()
    for i in range(40):
        attrs = clip_attrs(GENRES[i % len(GENRES)], i)
        query = make_short_query(attrs, np.random.default_rng(i))
        assert query == plain(query) and query == query.lower() and len(query.split()) <= 12
        genre_at = min(query.find(plain(p)) for p in heldout_words.GENRES[attrs["genre"]] if plain(p) in query)
        moods = [plain(w) for m in attrs["moods"] for w in heldout_words.MOODS[m] if plain(w) in query]
        insts = [plain(w) for t in attrs["instruments"] for w in heldout_words.INSTRUMENTS[t["name"]]
                 if plain(w) in query]
        assert genre_at >= 0 and moods and insts, query
        orders.add(genre_at == 0)
    assert orders == {True, False}  # the genre sometimes leads, sometimes not


def test_heldout_descriptions_are_deterministic_per_draw():
    attrs = clip_attrs("funk", 3)
    assert make_heldout_caption(attrs, np.random.default_rng(5)) == make_heldout_caption(attrs, np.random.default_rng(5))


def test_heldout_shapes_and_short_queries_can_be_drawn_in_training_words():
    """The wording-gap benchmark's control: the held-out sentence shapes with the generator's own words."""
    for genre in GENRES:
        for i in range(10):
            attrs = clip_attrs(genre, i)
            cap = make_heldout_caption(attrs, np.random.default_rng(i), TRAINING)
            query = make_short_query(attrs, np.random.default_rng(i), TRAINING)
            for text in (cap, query):
                assert any(contains(text, plain(p)) or contains(text, p) for p in STYLES[genre].synonyms), text
            assert not any(contains(cap, p) for p in heldout_words.vocabulary()), cap  # the query is plain(): the
            assert query == plain(query)  # training word "bebop-style" reads "bebop style" there, a held-out word
    shapes = [make_heldout_caption(clip_attrs("funk", i), np.random.default_rng(i), TRAINING) for i in range(30)]
    assert sum(any(m in c.lower() for m in MARKERS) for c in shapes) >= 15
