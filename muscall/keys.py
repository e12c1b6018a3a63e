"""Key and mode in search: what a query states, what a clip's chroma shows, and what their agreement adds.

The towers rank key and mode at chance (``scripts/retrieval_confusers.py``: the clips ranked above the true one
share its key and mode no more often than two random clips of its genre), although key names are a closed
vocabulary that reads the same in any wording, and a clip's mean chroma matched against the Krumhansl-Kessler
key profiles names its key for about half of the clips (chance 1 in 24). So search reads both here, with no
learning:

* :func:`stated_key`: the key ("in F# minor", "B-flat major", "Eb maj", "F#m", "Dm7"), the mode alone ("a minor
  key") or the tonic alone ("in the key of D") a query names; "a" before "minor" is the article in lower case and at
  the start of a sentence, so "in a minor key" and "A minor-key ballad" state only the mode;
* :func:`chroma_profile`: a track's mean peak chroma (12 values summing to 1), stored with the catalog's tracks
  (``attributes["chroma"]``) when they are embedded;
* :func:`key_agreement`: for a stated key, the Pearson correlation of the track's chroma with that key's profile
  (-1 .. 1); for a tonic alone, the better of its major and minor key's; for a stated mode, the probability of
  the mode over the 24 keys (softmax of 10 x the correlations) less one half; a negated key or mode ("not in
  minor", "no minor keys") states nothing;
* :func:`rerank_hits`: search re-ranks a keyed query's :data:`KEY_POOL` nearest tracks by similarity + ``weight`` x
  agreement (a track with no stored chroma gets the pool's median agreement); deeper results keep their order;
  :func:`key_bonus` is the same rule as a matrix for evaluation. A query that states none of them is left as it is.

The weight (0.3, ``ServeConfig.key_weight``) and the two forms were chosen on the validation split of the
generated corpus (BENCHMARKS.md, "Generalisation"); the test split and the held-out settings only report them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Sequence, TypeVar

import numpy as np

from muscall.audio.signal import PITCH_CLASSES, peak_chroma

# Krumhansl-Kessler probe-tone profiles of C major and C minor (rotate by k for the key with tonic k)
MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
N_KEYS = 24  # 12 major keys (tonic C..B), then 12 minor keys
MODES = ("major", "minor")
MODE_SHARPNESS = 10.0  # softmax over the 24 correlations, for a stated mode
CHROMA_FIELD = "chroma"  # the track attribute that holds its chroma profile
# samples between chroma frames (at the model's sample rate): 64 ms at 16 kHz; key accuracy as at 512 (0.47 of the
# 267 validation clips of the generated corpus) at a third of the cost, 0.13-0.15 s per 3-minute track
CHROMA_HOP = 1024
KEY_POOL = 100  # a keyed query re-ranks its this many nearest tracks; deeper results keep the embedding's order

_LETTER = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ACCIDENTAL = {"#": 1, "♯": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1}
_END = r"(?=$|[^\w-]|-key\b)"  # "C major", "C major-key", not "C majorette"
_KEY = re.compile(r"(?<![\w#♯♭'-])(?P<tonic>[A-Ga-g])"
                  r"(?:(?P<sign>[#♯♭]|b(?=[\s-]|maj|min|m\b))|[\s-]?(?P<word>sharp|flat))?"
                  r"(?:[\s-]*(?P<mode>(?i:major|minor|maj|min))|(?P<m>m))\d{0,2}" + _END)  # "Am", "Dm7": chords
# a mode alone only where it is plainly the mode: "in minor", "in a major key", "minor-key", not "a minor detail"
_MODE = re.compile(r"(?i)\bin (?:a |the )?(major|minor)\b|(?<![\w-])(major|minor)[\s-](?:key|mode|scale|tonality)\b")
_NOT_CHORD = re.compile(r"\s*(?:,|I\b)")  # what follows "Am" / "Em" when they are words
# "not in minor", "no D minor keys", "I don't want it in a minor key": a negated key, tonic or mode states nothing
# (search does not read it as the opposite either); the negation stands right before it or with only glue words
# between ("in", "a", "the", "key of", "want it"), so "with no drums in D minor" still states D minor
_NEGATED = re.compile(r"(?i)\b(?:not|no|never|nothing|without|except|anything but|other than|rather than|avoid|"
                      r"\w+n['’]t)\s+(?:(?:in|a|an|the|any|anything|key|of|want|it|be)\s+){0,5}$")  # won't, can't
# a tonic with no mode only after "key of": "in the key of D", "key of Bb", "key of f#" ("songs in D" is too loose
# to read; a bare lower-case "a" there is the article: "the key of a good song")
_TONIC = re.compile(r"(?i:\bkey of) (?P<tonic>[A-Ga-g])(?:(?P<sign>[#♯♭b])|[\s-]?(?P<word>sharp|flat))?"
                    r"(?![\w#♯♭-])")
HitT = TypeVar("HitT")  # a search hit: ``.score`` and ``.track.attributes`` (index.Hit)


@dataclass(frozen=True)
class StatedKey:
    """A query's key (``key``: tonic + 12 x minor, as :data:`N_KEYS` orders them), its mode alone (``mode``: 0 major,
    1 minor, ``key`` None) or its tonic alone ("in the key of D": ``tonic`` 0-11, ``mode`` and ``key`` None)."""

    mode: int | None
    key: int | None = None
    tonic: int | None = None

    def __post_init__(self) -> None:
        if self.mode is None and self.tonic is None:
            raise ValueError("StatedKey states nothing: give a mode (with or without its key) or a tonic")


@lru_cache(maxsize=4096)  # a search asks several times per query (depth, re-rank, reading); StatedKey is frozen
def stated_key(text: str) -> StatedKey | None:
    """The first key a text names ("in F# minor", "Dm7"), else its tonic and mode named apart ("in the key of E, a
    minor-key tune"), its tonic alone ("in the key of D") or its mode alone ("in minor"), else None. A negated key,
    tonic or mode ("not in minor", "no D minor keys") states nothing, and its words are not read again as a mode."""
    negated = []
    for m in _KEY.finditer(text):
        if _negated(text, m.start()):
            negated.append(m.span())
            continue
        tonic, sign, word = m.group("tonic"), m.group("sign"), m.group("word")
        bare = not (sign or word)
        opening = not text[:m.start()].strip() or text[:m.start()].rstrip()[-1] in ".!?;:"
        if bare and (tonic == "a" or (tonic == "A" and opening and m.group("mode"))):
            continue  # "in a minor key", "A minor-key ballad": the article
        if bare and m.group("m") and (tonic.islower() or _NOT_CHORD.match(text, m.end())):
            continue  # "am", "Em, something chill", "Am I wrong": words, not chords
        mode = 1 if m.group("m") or m.group("mode").lower().startswith("min") else 0
        return StatedKey(mode, _pitch(tonic, sign or word) + 12 * mode)
    for start, end in negated:  # "not in D minor key": its "minor key" is not the mode either; a mark, not spaces,
        text = text[:start] + "|" * (end - start) + text[end:]  # so the negation reaches no further than the key
    found = next((m for m in _MODE.finditer(text) if not _negated(text, m.start())), None)
    named = next((m for m in _TONIC.finditer(text) if not _negated(text, m.start())
                  and (m.group("tonic") != "a" or m.group("sign") or m.group("word"))), None)
    mode = None if found is None else MODES.index((found.group(1) or found.group(2)).lower())
    if named is not None:
        pitch = _pitch(named.group("tonic"), named.group("sign") or named.group("word"))
        return StatedKey(None, tonic=pitch) if mode is None else StatedKey(mode, pitch + 12 * mode)
    return None if mode is None else StatedKey(mode)


def key_name(stated: StatedKey) -> str:
    """How a stated key reads to a user: "F# minor", "D (major or minor)", "minor (any key)"."""
    if stated.key is not None:
        return f"{PITCH_CLASSES[stated.key % 12]} {MODES[stated.key // 12]}"
    if stated.tonic is not None:
        return f"{PITCH_CLASSES[stated.tonic]} (major or minor)"
    return f"{MODES[stated.mode]} (any key)"  # type: ignore[index]  # __post_init__: a mode when no tonic


def _negated(text: str, start: int) -> bool:
    """A negation stands right before ``start``, with only glue words between (:data:`_NEGATED`)."""
    return _NEGATED.search(text, 0, start) is not None  # "$" is ``start``; no slice to cut a word in two


def _pitch(tonic: str, accidental: str | None) -> int:
    return (_LETTER[tonic.lower()] + _ACCIDENTAL.get(accidental or "", 0)) % 12


def key_templates() -> np.ndarray:
    """``[24, 12]`` rotated key profiles, each centred and scaled to unit norm (a dot product is a Pearson r)."""
    rows = np.array([np.roll(p, k) for p in (MAJOR_PROFILE, MINOR_PROFILE) for k in range(12)], np.float64)
    rows -= rows.mean(axis=1, keepdims=True)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def key_correlations(chroma: np.ndarray) -> np.ndarray:
    """Pearson correlation ``[N, 24]`` of chroma profiles ``[N, 12]`` with every key profile (a flat one: 0)."""
    c = np.asarray(chroma, np.float64)
    c = c - c.mean(axis=-1, keepdims=True)
    c = c / np.maximum(np.linalg.norm(c, axis=-1, keepdims=True), 1e-8)
    return c @ key_templates().T


def chroma_profile(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """A mono waveform's mean peak chroma ``[12]`` (C first): each frame's spectral peaks summed by pitch class
    (:mod:`muscall.audio.signal`) and scaled to sum 1, then averaged over the frames; flat for silence."""
    frames = peak_chroma(np.asarray(wave, np.float32), sample_rate, CHROMA_HOP)
    totals = frames.sum(axis=1, keepdims=True)
    frames = frames[totals[:, 0] > 0] / totals[totals[:, 0] > 0]
    return frames.mean(axis=0) if len(frames) else np.full(12, 1.0 / 12)


def chroma_attribute(chroma: np.ndarray) -> dict[str, list[float]]:
    """``{"chroma": [12 values]}`` of a :func:`chroma_profile`: the track attribute :func:`track_chroma` reads."""
    return {CHROMA_FIELD: [round(float(v), 4) for v in chroma]}


def rerank_depth(want: int, text: str | None, weight: float) -> int:
    """How many nearest tracks to fetch for a page ending at ``want``: at least :data:`KEY_POOL` when the query
    ``text`` states a key or mode, the same pool whatever the page, so consecutive pages continue one ranking."""
    keyed = text is not None and weight > 0 and stated_key(text) is not None
    return max(want, KEY_POOL) if keyed else want


def key_agreement(stated: StatedKey, chroma: np.ndarray) -> np.ndarray:
    """``[N]`` agreement of chroma profiles ``[N, 12]`` with a stated key (its Pearson r), tonic (the better r of
    its major and minor key) or mode (its probability less 0.5)."""
    r = key_correlations(chroma)
    if stated.key is not None:
        return r[:, stated.key]
    if stated.tonic is not None:
        return np.maximum(r[:, stated.tonic], r[:, stated.tonic + 12])
    p = np.exp(MODE_SHARPNESS * (r - r.max(axis=1, keepdims=True)))
    p /= p.sum(axis=1, keepdims=True)
    return p[:, 12 * stated.mode:12 * stated.mode + 12].sum(axis=1) - 0.5


def track_chroma(attributes: dict[str, Any]) -> np.ndarray | None:
    """A catalog track's stored chroma profile, or None (embedded before profiles were stored, or unreadable)."""
    value = attributes.get(CHROMA_FIELD)
    try:
        chroma = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        return None
    return chroma if chroma.shape == (12,) and np.isfinite(chroma).all() else None


def with_key_agreement(scores: np.ndarray, text: str, chromas: Sequence[np.ndarray | None],
                       weight: float) -> np.ndarray:
    """``scores [N]`` of one query's candidates plus ``weight`` x their agreement with the key or mode ``text``
    states; a candidate with no stored chroma gets the median agreement of those with one (it neither gains nor
    loses against them), and a query that states neither keeps its scores."""
    stated = stated_key(text) if weight > 0 else None
    have = np.array([c is not None for c in chromas], bool)
    out = np.asarray(scores, np.float64).copy()
    if stated is None or not have.any():
        return out
    agreement = key_agreement(stated, np.stack([c for c in chromas if c is not None]))
    out[have] += weight * agreement
    out[~have] += weight * float(np.median(agreement))
    return out


def key_bonus(texts: Sequence[str], sim: np.ndarray, chromas: Sequence[np.ndarray | None],
              weight: float) -> np.ndarray:
    """``[len(texts), len(chromas)]``: what text search adds to each text's similarity ``sim`` with each track, so
    that evaluation ranks as :func:`rerank_hits` does: the agreement over the text's :data:`KEY_POOL` nearest
    tracks, and below the pool enough to keep the other tracks after it (cosines lie in [-1, 1])."""
    sim = np.asarray(sim, np.float64)
    bonus = np.zeros((len(texts), len(chromas)))
    for i, text in enumerate(texts):
        if weight <= 0 or stated_key(text) is None:
            continue
        pool = np.argsort(-sim[i], kind="stable")[:KEY_POOL]
        bonus[i] = -(2.0 + 2.0 * weight)
        bonus[i, pool] = with_key_agreement(np.zeros(len(pool)), text, [chromas[j] for j in pool], weight)
    return bonus


def rerank_hits(hits: list[HitT], text: str, weight: float) -> list[HitT]:
    """Search ``hits`` (best first) of the query ``text``: the first :data:`KEY_POOL` re-ordered by
    :func:`with_key_agreement` (their scores become the sums), the rest as they were; all unchanged when the query
    states no key or mode, or ``weight`` is 0."""
    if weight <= 0 or not hits or stated_key(text) is None:
        return hits
    pool, rest = hits[:KEY_POOL], hits[KEY_POOL:]
    scores = with_key_agreement(np.array([h.score for h in pool]), text,  # type: ignore[attr-defined]
                                [track_chroma(h.track.attributes) for h in pool], weight)  # type: ignore[attr-defined]
    return [replace(pool[i], score=float(scores[i])) for i in np.argsort(-scores, kind="stable")] + rest  # type: ignore
