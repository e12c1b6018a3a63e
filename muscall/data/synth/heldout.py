"""Held-out descriptions of a clip: a caption in held-out templates and words, and a short user-style query.

Both draw only from ``heldout_words`` and from sentence shapes the training templates never use ("If you like X,
this Y ..."), so a benchmark can ask whether retrieval survives other wording of the same facts.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from muscall.data.synth import heldout_words as hw
from muscall.data.synth.captions import Lexicon, Words, article, tidy
from muscall.data.synth.instruments import lookup

HELDOUT = Lexicon(hw.GENRES, lambda program, drums: hw.INSTRUMENTS[lookup(program, drums).name], hw.MOODS, hw.TEMPO,
                  hw.DYNAMICS, hw.REVERB, hw.NOUNS)


def _aside(w: Words) -> str:
    """Optional held-out remarks (tempo, level, space, key), as a trailing clause."""
    opts = [("tempo", 0.5, lambda: f"{w.use('tempo')} in feel"), ("dyn", 0.3, lambda: w.use("dyn")),
            ("reverb", 0.3, lambda: w.use("reverb")),
            ("key", 0.25, lambda: f"in the key of {w.a['key']} {w.a['mode']}")]
    chosen = [make() for name, p, make in opts if name not in w.used and w.chance(p)]
    w.rng.shuffle(chosen)
    return (" - " + " and ".join(chosen)) if chosen else ""


TEMPLATES = [
    lambda w: f"If you like {w.genre}, this {w.noun} with {w.instruments()} will suit you: {w.mood()}{_aside(w)}.",
    lambda w: f"Picture {article(w.mood(1))} scene scored by {w.instruments(2)}; it is {w.genre} through and through.",
    lambda w: f"Think {w.genre}: {w.instruments()} over {article(w.use('tempo'))} pulse, {w.mood()}.",
    lambda w: f"For fans of {w.genre} - {article(w.mood(1))} {w.noun} with {w.instruments(1)} up front{_aside(w)}.",
    lambda w: f"Here {w.instruments(2)} trade ideas in {article(w.mood(1))} slice of {w.genre}{_aside(w)}.",
    lambda w: f"Perfect for {article(w.mood(1))} afternoon: {w.genre} played by {w.instruments()}{_aside(w)}.",
    lambda w: f"{w.instruments(1)} sets the tone here, {w.mood()} and {w.use('tempo')}; pure {w.genre}.",
    lambda w: f"Nothing but {w.genre} from start to finish, {w.mood()}, courtesy of {w.instruments()}{_aside(w)}.",
    lambda w: f"Somebody gathered {w.instruments()} for {article(w.mood(1))} {w.genre} {w.noun}{_aside(w)}.",
    lambda w: f"Imagine {w.genre} that feels {w.mood()}; {w.instruments()} do the talking{_aside(w)}.",
]
QUERY_ORDERS = ("{mood} {genre} with {inst}", "{genre} with {inst} {mood}", "{mood} {inst} {genre}",
                "{genre} {mood} {inst}")


def make_heldout_caption(attrs: dict[str, Any], rng: np.random.Generator, lexicon: Lexicon = HELDOUT) -> str:
    """One caption of a clip's attributes in held-out templates and held-out words only (``lexicon``: other words
    in the same sentence shapes, e.g. the training words, to tell the new shapes' cost from the new words')."""
    w = Words(attrs, rng, lexicon)
    return tidy(TEMPLATES[int(rng.integers(len(TEMPLATES)))](w))


def make_short_query(attrs: dict[str, Any], rng: np.random.Generator, lexicon: Lexicon = HELDOUT) -> str:
    """A user-style query in held-out words (or ``lexicon``'s): one mood, the genre and one instrument (the lead
    when there is one), lower case, no punctuation."""
    w = Words(attrs, rng, lexicon)
    inst = w.inst.get("lead") or w.pick(sorted(w.inst.values()))
    text = QUERY_ORDERS[int(rng.integers(len(QUERY_ORDERS)))].format(mood=w.pick(w.moods), genre=w.genre, inst=inst)
    return plain(text)


def plain(text: str) -> str:
    """Lower case, letters, digits and single spaces only (hyphens and punctuation become spaces)."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def heldout_descriptions(attrs: dict[str, Any], rng: np.random.Generator) -> dict[str, str]:
    """The attributes a --holdout-wording corpus adds to each test clip."""
    return {"heldout_caption": make_heldout_caption(attrs, rng), "short_query": make_short_query(attrs, rng)}

