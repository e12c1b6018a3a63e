"""Targets of the training-only fact heads: key, mode, tempo band, instruments and genre of each manifest row.

:class:`FactVocab` fixes the classes (24 keys = 12 tonics x major/minor, 2 modes, 4 tempo bands, the corpus's
instrument names and genres), read once from the training rows. :class:`FactTargets` holds every row's
targets; a row without the attribute gets :data:`UNKNOWN` (-1; a row of -1 for the multi-label instruments),
which the loss masks out, so data without these attributes trains as before.

The audio tower hears every fact of its clip. The text tower only reads what the drawn caption states, so
:meth:`FactTargets.text` keeps a target only where the caption mentions it, and its instrument targets are the
instruments the caption names. "Mentions" reads the caption through the words that can name a fact: the label
itself, the generator's caption synonyms for it ("rhodes" for electric piano, "boom bap" for hip hop), and the
caption augmentation's synonyms put back ("sax" -> saxophone), so a re-worded caption keeps its targets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from muscall.audio.signal import PITCH_CLASSES
from muscall.config import FACT_HEADS
from muscall.data.caption_augment import plain_words
from muscall.data.degrade.facts import PITCH_CLASS, TEMPO_CLASSES, Facts, norm
from muscall.data.degrade.facts import TEMPO_WORDS as DEGRADE_TEMPO_WORDS
from muscall.data.manifest import ClipRow
from muscall.data.synth.captions import TEMPO_WORDS as SYNTH_TEMPO_WORDS
from muscall.data.synth.instruments import KITS, MELODIC
from muscall.data.synth.styles import STYLES

UNKNOWN = -1
MODES = ("major", "minor")
TEMPO_WORDS = {c: (*SYNTH_TEMPO_WORDS[c], *DEGRADE_TEMPO_WORDS[c]) for c in TEMPO_CLASSES}


@dataclass(frozen=True)
class FactVocab:
    """The classes of each head; instruments and genres are those of the training rows."""

    instruments: tuple[str, ...]
    genres: tuple[str, ...]

    @classmethod
    def from_rows(cls, rows: Iterable[ClipRow]) -> "FactVocab":
        instruments, genres = set(), set()
        for row in rows:
            facts = Facts.from_attributes(row.attributes)
            instruments.update(norm(i) for i in facts.instruments)
            genres.update([norm(facts.genre)] if facts.genre else [])
        return cls(tuple(sorted(instruments)), tuple(sorted(genres)))

    def phrases(self) -> dict[str, tuple[tuple[str, ...], ...]]:
        """Per head with labels (``instruments``, ``genre``): for each class, the lower-case words that name it."""
        names: dict[str, set[str]] = {}
        for inst in (*MELODIC.values(), *KITS.values()):
            names.setdefault(norm(inst.name), set()).update(s.lower() for s in inst.synonyms)
        for genre, style in STYLES.items():
            names.setdefault(norm(genre), set()).update(s.lower() for s in style.synonyms)
        table = lambda labels: tuple(tuple(sorted({label, *names.get(label, ())})) for label in labels)  # noqa: E731
        return {"instruments": table(self.instruments), "genre": table(self.genres)}

    def classes(self, head: str) -> int:
        """Number of classes (labels, for instruments) of ``head``."""
        return {"key": len(PITCH_CLASSES) * len(MODES), "mode": len(MODES), "tempo": len(TEMPO_CLASSES),
                "instruments": len(self.instruments), "genre": len(self.genres)}[head]


def key_class(key: str | None, mode: str | None) -> int:
    """Tonic pitch class + 12 for minor (enharmonic spellings agree), or UNKNOWN without both."""
    if key not in PITCH_CLASS or mode not in MODES:
        return UNKNOWN
    return PITCH_CLASS[key] + 12 * MODES.index(mode)


@dataclass
class FactTargets:
    """Per-row targets of the heads in ``heads``: ``(N,)`` int classes, or ``(N, V)`` 0/1 for instruments."""

    vocab: FactVocab
    heads: tuple[str, ...]
    facts: list[Facts]
    rows: dict[str, np.ndarray]
    phrases: dict[str, tuple[tuple[str, ...], ...]]

    @classmethod
    def build(cls, rows: list[ClipRow], vocab: FactVocab, heads: Iterable[str] = FACT_HEADS) -> "FactTargets":
        """Targets of every row (once per dataset); heads without classes in ``vocab`` are left out."""
        kept = tuple(h for h in heads if vocab.classes(h) > 0)
        facts = [Facts.from_attributes(r.attributes) for r in rows]
        table = {h: np.stack([_target(h, f, vocab) for f in facts]) if facts else np.zeros(0, np.int64) for h in kept}
        return cls(vocab, kept, facts, table, vocab.phrases())

    def audio(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """The audio tower's targets for dataset rows ``index``."""
        return {h: t[index] for h, t in self.rows.items()}

    def text(self, index: np.ndarray, captions: list[str]) -> dict[str, np.ndarray]:
        """The text tower's targets for rows ``index`` read through their drawn ``captions``."""
        out = {}
        for head, table in self.rows.items():
            targets = table[index].copy()
            for b, (i, caption) in enumerate(zip(index, captions)):
                targets[b] = _stated(head, targets[b], self.facts[int(i)], caption, self.phrases)
            out[head] = targets
        return out


def _target(head: str, facts: Facts, vocab: FactVocab) -> np.ndarray:
    if head == "instruments":
        names = {norm(i) for i in facts.instruments}
        hot = np.array([n in names for n in vocab.instruments], np.float32)
        return hot if names else np.full(len(vocab.instruments), UNKNOWN, np.float32)
    if head == "key":
        value = key_class(facts.key, facts.mode)
    elif head == "mode":
        value = MODES.index(facts.mode) if facts.mode in MODES else UNKNOWN
    elif head == "tempo":
        value = TEMPO_CLASSES.index(facts.tempo) if facts.tempo else UNKNOWN
    else:
        genre = norm(facts.genre)
        value = vocab.genres.index(genre) if genre in vocab.genres else UNKNOWN
    return np.array(value, np.int64)


def _says(caption: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w#-]){re.escape(phrase)}(?![\w#-])", caption) is not None


def _names(caption: str, words: tuple[str, ...]) -> bool:
    return any(_says(caption, w) for w in words)


def _stated(head: str, target: np.ndarray, facts: Facts, caption: str,
            phrases: dict[str, tuple[tuple[str, ...], ...]]) -> np.ndarray:
    """``target`` where ``caption`` states the fact, UNKNOWN where it does not."""
    lower = plain_words(caption)
    if head == "instruments":
        named = np.array([_names(lower, words) for words in phrases["instruments"]], np.float32)
        return named if named.any() else np.full_like(target, UNKNOWN)
    if head == "genre":
        stated = int(target) >= 0 and _names(lower, phrases["genre"][int(target)])
    else:
        stated = {"key": facts.key is not None and _says(caption, f"{facts.key} {facts.mode}"),
                  "mode": facts.mode is not None and _says(lower, facts.mode),
                  "tempo": facts.tempo is not None and (_says(lower, "bpm") or
                                                        any(_says(lower, w) for w in TEMPO_WORDS[facts.tempo]))}[head]
    return target if stated else np.array(UNKNOWN, target.dtype)
