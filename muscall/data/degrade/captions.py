"""Caption variants for text alignment: one clip's facts stated truly, or with 1, 2 or all of them changed.

All variants of a clip come from the same template with the same word choices, so they differ only in the
changed facts (minimal pairs): the wording never tells a matched caption from a mismatched one. The facts
are the clip's genre, instruments, tempo (from ``bpm``), moods and key/mode, read from the manifest row's
attributes; replacement words come from the corpus's own vocabulary (:class:`Vocabulary`), so they are
words the text encoder has seen. Pseudo text alignment (TA, 1..5): 5 for no change, 3.7 for one, 2.4 for
two, 1 for all. A clip with none of these facts gets two variants: its own caption (TA 5) and another
clip's caption (TA 1, changed = ["caption"]).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable

import numpy as np

from muscall.data.degrade.facts import (KINDS, MOOD_QUADRANTS, NOTES, PITCH_CLASS, TEMPO_BPM, TEMPO_CLASSES, Facts,
                                        Vocabulary)
from muscall.data.degrade.facts import norm as _norm
from muscall.data.degrade.wording import Style, render

TA_BY_CHANGES = {0: 5.0, 1: 3.7, 2: 2.4}
TA_ALL_CHANGED = 1.0


def ta_for(changed: int, available: int) -> float:
    """Pseudo text alignment for ``changed`` of ``available`` facts changed (1 when all are)."""
    if changed >= available and changed > 0:
        return TA_ALL_CHANGED
    return TA_BY_CHANGES.get(changed, max(TA_ALL_CHANGED, 5.0 - 1.3 * changed))


@dataclass(frozen=True)
class CaptionVariant:
    """One caption for a clip: which facts it gets wrong and its pseudo text alignment."""

    caption: str
    changed: list[str] = field(default_factory=list)
    ta: float = 5.0
    facts: Facts | None = None


def caption_variants(attrs: dict[str, Any], caption: str, vocab: Vocabulary, rng: np.random.Generator,
                     other_caption: str | None = None) -> list[CaptionVariant]:
    """Variants with 0, 1, 2 and all facts changed (fewer when a clip states fewer facts)."""
    full = Facts.from_attributes(attrs)
    style = Style.draw(rng)
    stated = style.mention(full, rng)
    kinds = [k for k in stated.kinds() if changeable(k, full, vocab)]
    if not kinds:
        variants = [CaptionVariant(caption, [], ta_for(0, 1), None)]
        if other_caption and other_caption != caption:
            variants.append(CaptionVariant(other_caption, ["caption"], TA_ALL_CHANGED, None))
        return variants
    variants = []
    for count in sorted({c for c in (0, 1, 2, len(kinds)) if c <= len(kinds)}):
        changed = sorted(rng.choice(kinds, size=count, replace=False).tolist(), key=KINDS.index)
        facts = change_facts(stated, full, changed, vocab, rng, every=count == len(kinds))
        variants.append(CaptionVariant(render(facts, style), changed, ta_for(count, len(kinds)), facts))
    return variants


def changeable(kind: str, full: Facts, vocab: Vocabulary) -> bool:
    """Whether the vocabulary has a wrong value for ``kind`` of this clip."""
    if kind == "genre":
        return any(_norm(g) != _norm(full.genre) for g in vocab.genres)
    if kind == "instrument":
        return bool(_other(vocab.instruments, full.instruments))
    if kind == "mood":
        return bool(_other(vocab.moods, full.moods))
    return True


def change_facts(stated: Facts, full: Facts, kinds: list[str], vocab: Vocabulary, rng: np.random.Generator,
                 every: bool = False) -> Facts:
    """``stated`` with each kind in ``kinds`` replaced by a value the clip does not have.

    One stated instrument is swapped, or with ``every`` all of them (then nothing true is left).
    """
    facts = stated
    for kind in kinds:
        if kind == "genre":
            facts = replace(facts, genre=_pick([g for g in vocab.genres if _norm(g) != _norm(full.genre)], rng))
        elif kind == "instrument":
            facts = replace(facts, instruments=_swap_instruments(facts.instruments, full, vocab, rng, every))
        elif kind == "tempo":
            facts = _change_tempo(facts, rng)
        elif kind == "mood":
            facts = replace(facts, moods=_far_moods(full.moods, len(facts.moods), vocab, rng))
        elif kind == "key":
            facts = _change_key(facts, rng)
    return facts


def _swap_instruments(stated: tuple[str, ...], full: Facts, vocab: Vocabulary, rng: np.random.Generator,
                      every: bool) -> tuple[str, ...]:
    others = rng.permutation(_other(vocab.instruments, full.instruments)).tolist()
    if every:
        return tuple(others[:len(stated)])
    i = int(rng.integers(len(stated)))
    return stated[:i] + (others[0],) + stated[i + 1:]


def _change_tempo(facts: Facts, rng: np.random.Generator) -> Facts:
    here = TEMPO_CLASSES.index(facts.tempo)
    far = [c for i, c in enumerate(TEMPO_CLASSES) if abs(i - here) >= 2]
    new = _pick(far, rng)
    bpm = int(rng.integers(TEMPO_BPM[new][0], TEMPO_BPM[new][1] + 1)) if facts.bpm else None
    return replace(facts, tempo=new, bpm=bpm)


def _change_key(facts: Facts, rng: np.random.Generator) -> Facts:
    """Another tonic and the other mode, never the relative key (same notes: E minor -> G major)."""
    mode = {"major": "minor", "minor": "major"}.get(facts.mode) if facts.mode else None
    if not facts.key:
        return replace(facts, mode=mode)
    tonic = PITCH_CLASS[facts.key]
    relative = (tonic + {"minor": 3, "major": 9}[facts.mode]) % 12 if facts.mode else tonic
    key = _pick([n for n in NOTES if PITCH_CLASS[n] not in (tonic, relative)], rng)
    return replace(facts, key=key, mode=mode)


def _far_moods(moods: tuple[str, ...], count: int, vocab: Vocabulary, rng: np.random.Generator) -> tuple[str, ...]:
    """``count`` moods the clip lacks, from an arousal/valence quadrant none of its moods is in when possible."""
    taken = {MOOD_QUADRANTS.get(_norm(m)) for m in moods}
    candidates = _other(vocab.moods, moods)
    far = [m for m in candidates if MOOD_QUADRANTS.get(_norm(m)) not in taken | {None}]
    pool = far if len(far) >= count else candidates
    return tuple(rng.choice(pool, size=min(count, len(pool)), replace=False).tolist())


def _other(vocabulary: tuple[str, ...], present: Iterable[str]) -> list[str]:
    have = {_norm(p) for p in present}
    return [v for v in vocabulary if _norm(v) not in have]


def _pick(options: list[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]

