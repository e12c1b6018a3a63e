"""Tracks that are the same recording (another encoding, gain or trim): pairs scored by their vectors.

A pair's score is the larger of the cosine of the two track vectors and, when window vectors are
available, their best window alignment: the mean cosine of the windows along the best diagonal (a shift
of one sequence against the other) covering at least half of the shorter track, which stays high when
one copy is trimmed. Candidates are each track's ``k`` nearest tracks in the index (one search per track;
with window vectors every candidate is aligned, since a trimmed copy's track vector drifts), so a catalog
is checked without comparing all pairs. numpy and FAISS only.

The vectors say what music a track is, not which recording: distinct tracks of one album can score
0.99. So where both tracks of a candidate pair have a recording fingerprint (``index.fingerprint``, stored by
``muscall embed``), the pair is kept only when the fingerprints match too (``fingerprint_threshold`` on
``1 - BER`` at the best time shift); pairs without fingerprints are judged by their vector score alone.
A confirmed pair is a ``copy`` (the same master: another encoding, gain or trim, or one track contained in the
other) or a ``version`` (the same performance in another master or mix), told apart by their level profiles
(``index.fingerprint.level_spread``); ``kind`` is None where the catalog stores no profiles, and for a pair whose
fingerprints match below the default threshold (listed only when a lower one is asked for).
"""

from __future__ import annotations

import functools

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from index.catalog import Catalog
from index.errors import CatalogError
from index.fingerprint import DEFAULT_THRESHOLD as FINGERPRINT_THRESHOLD
from index.fingerprint import COPY, VERSION, FingerprintLookup, LevelsLookup, kind_of, level_spread, match
from index.shards import load_catalog

DEFAULT_THRESHOLD = 0.95
MIN_OVERLAP = 0.5  # fraction of the shorter track's windows an alignment must cover
WindowLookup = Callable[[str], "np.ndarray | None"]
KINDS = (COPY, VERSION, "all")


@dataclass(frozen=True)
class DuplicatePair:
    """Two tracks judged the same recording, with the evidence."""

    track_a: str
    track_b: str
    score: float
    track_cosine: float
    window_cosine: float | None
    fingerprint: float | None = None  # 1 - bit error rate of the fingerprints; None when either has none
    offset_s: float | None = None  # where track_b starts in track_a, by the fingerprints
    overlap_s: float | None = None  # seconds of the two fingerprints that were compared
    level_spread_db: float | None = None  # spread across bands of their level difference (copy: small)
    kind: str | None = None  # "copy" | "version" by the level spread; None without fingerprints and profiles

    def to_dict(self) -> dict:
        return asdict(self)


def window_alignment(a: np.ndarray, b: np.ndarray, min_overlap: float = MIN_OVERLAP) -> float:
    """Best mean cosine over the diagonals of ``a @ b.T`` covering ``min_overlap`` of the shorter sequence."""
    a, b = _unit(np.asarray(a, np.float32)), _unit(np.asarray(b, np.float32))
    sim = a @ b.T
    need = max(1, int(np.ceil(min_overlap * min(len(a), len(b)))))
    best = -1.0
    for shift in range(-(len(a) - 1), len(b)):
        diag = np.diagonal(sim, offset=shift)
        if diag.size >= need:
            best = max(best, float(diag.mean()))
    return best


def pair_score(a: str, b: str, cosine: float, windows: WindowLookup | None,
               fingerprints: FingerprintLookup | None = None, levels: LevelsLookup | None = None) -> DuplicatePair:
    """The pair's evidence: track cosine, where both have windows their best alignment, where both have
    fingerprints their match, and where both have level profiles too, whether it is a copy or a version."""
    first, second = sorted((a, b))
    wa = windows(a) if windows is not None else None
    wb = windows(b) if windows is not None else None
    aligned = window_alignment(wa, wb) if wa is not None and wb is not None and len(wa) and len(wb) else None
    score = cosine if aligned is None else max(cosine, aligned)
    fa = fingerprints(first) if fingerprints is not None else None
    fb = fingerprints(second) if fingerprints is not None else None
    found = match(fa, fb) if fa is not None and fb is not None else None
    recording = found is not None and found.score >= FINGERPRINT_THRESHOLD  # copy or version only of one recording
    la = levels(first) if levels is not None and recording else None
    lb = levels(second) if levels is not None and recording else None
    spread = level_spread(la, lb, found.offset_s) if la is not None and lb is not None else None
    return DuplicatePair(first, second, round(score, 6), round(cosine, 6), None if aligned is None else round(aligned, 6),
                         None if found is None else found.score, None if found is None else found.offset_s,
                         None if found is None else found.overlap_s, spread, kind_of(spread))


@dataclass(frozen=True)
class Confirm:
    """The fingerprint stage: a track id -> fingerprint lookup, the lowest ``1 - BER`` of a duplicate, and the
    level profiles that tell a copy from a version (None: pairs get no ``kind``)."""

    fingerprints: FingerprintLookup
    threshold: float = FINGERPRINT_THRESHOLD
    levels: LevelsLookup | None = None

    def keeps(self, pair: DuplicatePair) -> bool:
        """Whether the fingerprints confirm the pair (a pair they cannot judge stands on its vectors)."""
        return pair.fingerprint is None or pair.fingerprint >= self.threshold


def catalog_duplicates(catalog: Catalog, threshold: float = DEFAULT_THRESHOLD, windows: WindowLookup | None = None,
                       k: int = 10, confirm: Confirm | None = None) -> list[DuplicatePair]:
    """Every duplicate pair among the catalog's live tracks, best first."""
    names = [r.track_id for r in catalog.tracks(catalog.db.live_ids()) if r is not None]
    if len(names) < 2:
        return []
    return _pairs(catalog, names, catalog.vectors(names), threshold, windows, k, confirm)


def duplicates_of(catalog: Catalog, track_id: str, threshold: float = DEFAULT_THRESHOLD,
                  windows: WindowLookup | None = None, k: int = 10, vector: np.ndarray | None = None,
                  confirm: Confirm | None = None) -> list[DuplicatePair]:
    """The tracks that duplicate ``track_id`` (``track_a`` or ``track_b`` of each pair), best first.

    ``vector`` is the track's embedding when the caller has it (a lossy index cannot give it back).
    """
    vector = catalog.vectors([track_id]) if vector is None else vector
    return _pairs(catalog, [track_id], vector, threshold, windows, k, confirm)


def of_kind(pairs: list[DuplicatePair], kind: str) -> list[DuplicatePair]:
    """The pairs of one ``kind``: ``copy``, ``version`` or ``all``. A pair without a verdict (a catalog without
    level profiles) counts as a copy, as every pair did before profiles existed."""
    if kind not in KINDS:
        raise CatalogError(f"kind {kind!r}: choose one of {', '.join(KINDS)}")
    return pairs if kind == "all" else [p for p in pairs if (p.kind or COPY) == kind]


def shard_windows(catalog_dir: str | Path) -> WindowLookup:
    """A track id -> window vectors lookup over an embedding catalog's window shards."""
    where: dict[str, tuple[object, int]] = {}
    for shard in load_catalog(catalog_dir).iter_shards():
        if shard.windows is not None:
            where.update({meta.track_id: (shard, row) for row, meta in enumerate(shard.metadata)})
    if not where:
        raise CatalogError(f"catalog '{catalog_dir}' stores no window vectors (embed with window embeddings kept)")

    def lookup(track_id: str) -> np.ndarray | None:
        found = where.get(track_id)
        return None if found is None else np.asarray(found[0].track_windows(found[1]), np.float32)
    return lookup


def _pairs(catalog: Catalog, names: Sequence[str], vectors: np.ndarray, threshold: float,
           windows: WindowLookup | None, k: int, confirm: Confirm | None) -> list[DuplicatePair]:
    if not -1.0 <= threshold <= 1.0:
        raise CatalogError(f"threshold {threshold} is not a cosine; give a value in [-1, 1] (default "
                           f"{DEFAULT_THRESHOLD})")
    scores, ids = catalog.search(_unit(vectors), min(k + 1, max(1, catalog.ntotal)))
    if windows is not None:  # each track's windows are read once, not once per candidate pair
        windows = functools.lru_cache(maxsize=None)(windows)
    prints = functools.lru_cache(maxsize=None)(confirm.fingerprints) if confirm is not None else None
    levels = confirm.levels if confirm is not None else None
    levels = functools.lru_cache(maxsize=None)(levels) if levels is not None else None
    found: dict[tuple[str, str], DuplicatePair] = {}
    for name, row_scores, row_ids in zip(names, scores, ids):
        for cosine, record in zip(row_scores, catalog.tracks(row_ids)):
            if record is None or record.track_id == name or (windows is None and cosine < threshold):
                continue
            key = tuple(sorted((name, record.track_id)))
            if key not in found:
                found[key] = pair_score(name, record.track_id, float(cosine), windows, prints, levels)
    pairs = [p for p in found.values() if p.score >= threshold and (confirm is None or confirm.keeps(p))]
    return sorted(pairs, key=lambda p: (-p.score, p.track_a, p.track_b))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    x = x[None, :] if x.ndim == 1 else x
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
