"""Caption wording: a per-clip :class:`Style` (template, clause order, word choices) and :func:`render`.

One style renders every variant of a clip, so true and changed captions share all their wording.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from muscall.data.degrade.facts import NOUNS, TEMPO_WORDS, Facts

CLAUSES = ("instrument", "tempo", "key", "mood")
MAX_INSTRUMENTS = 3
MAX_MOODS = 2


@dataclass(frozen=True)
class Style:
    """How one clip's captions are worded."""

    tags: bool  # "genre: ...; instruments: ..." instead of a sentence
    mood_in_head: bool  # "a calm jazz piece" vs "... with a calm mood"
    featuring: bool  # "featuring piano" vs "with piano"
    order: tuple[str, ...]  # order of the clauses after the head
    tempo_as_bpm: bool  # "at 96 bpm" vs "at a steady tempo"
    synonym: int  # which tempo word
    noun: str

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "Style":
        """A random style."""
        order = tuple(CLAUSES[i] for i in rng.permutation(len(CLAUSES)))
        return cls(tags=bool(rng.random() < 0.2), mood_in_head=bool(rng.random() < 0.5),
                   featuring=bool(rng.random() < 0.5), order=order, tempo_as_bpm=bool(rng.random() < 0.3),
                   synonym=int(rng.integers(3)), noun=NOUNS[int(rng.integers(len(NOUNS)))])

    def mention(self, full: Facts, rng: np.random.Generator) -> Facts:
        """The facts a caption states: all of them, but at most 3 instruments and 2 moods, in random order."""
        instruments = _subset(full.instruments, MAX_INSTRUMENTS, rng)
        moods = _subset(full.moods, MAX_MOODS, rng)
        return replace(full, instruments=instruments, moods=moods)


def _subset(items: tuple[str, ...], most: int, rng: np.random.Generator) -> tuple[str, ...]:
    if not items:
        return ()
    count = int(rng.integers(1, min(most, len(items)) + 1))
    return tuple(items[i] for i in rng.permutation(len(items))[:count])


def render(facts: Facts, style: Style) -> str:
    """The caption stating ``facts`` in ``style``."""
    words = _words(facts, style)
    if style.tags:
        names = {"genre": "genre", "instrument": "instruments", "tempo": "tempo", "mood": "mood", "key": "key"}
        parts = [f"{names[k]}: {words[k]}" for k in ("genre", *style.order) if words.get(k)]
        return "; ".join(parts)
    head_words = [words["mood"] if style.mood_in_head and words.get("mood") else "", words.get("genre") or "music",
                  style.noun]
    head = " ".join(w for w in head_words if w)
    clauses = [_clause(k, words[k], style) for k in style.order
               if words.get(k) and not (k == "mood" and style.mood_in_head)]
    text = _article(head) + " " + head + (", " + ", ".join(clauses) if clauses else "") + "."
    return text[0].upper() + text[1:]


def _words(facts: Facts, style: Style) -> dict[str, str]:
    words = {"genre": facts.genre or "", "instrument": _join(facts.instruments), "mood": _join(facts.moods)}
    if facts.tempo:
        options = TEMPO_WORDS[facts.tempo]
        words["tempo"] = f"{facts.bpm} bpm" if style.tempo_as_bpm and facts.bpm else \
            options[style.synonym % len(options)]
    if facts.key and facts.mode:
        words["key"] = f"{facts.key} {facts.mode}"
    elif facts.mode:
        words["key"] = f"a {facts.mode} key"
    elif facts.key:
        words["key"] = f"the key of {facts.key}"
    return words


def _clause(kind: str, text: str, style: Style) -> str:
    if kind == "instrument":
        return f"{'featuring' if style.featuring else 'with'} {text}"
    if kind == "tempo":
        return f"at {text}" if text.endswith("bpm") else f"at {_article(text)} {text} tempo"
    if kind == "key":
        return f"in {text}"
    return f"with {_article(text)} {text} mood"


def _join(items: tuple[str, ...]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _article(phrase: str) -> str:
    return "an" if phrase[:1].lower() in "aeiou" else "a"
