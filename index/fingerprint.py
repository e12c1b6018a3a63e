"""Recording fingerprints: the format, the matcher and the catalog lookup (numpy only).

A fingerprint is one ``uint32`` word per ``HOP_SECONDS`` of audio (40 bytes a second), in the manner of
Haitsma and Kalker: bit ``m`` (of ``BITS``) says whether the level difference between bands ``m`` and ``m + 1``
grew from frame ``n - 1`` to frame ``n``, and bit ``BITS + m`` whether it changed by at least ``RELIABLE_DB``
(a change smaller than that is noise a codec may flip, and in silence or in an empty band there is none, so
those bits are left out of every comparison). Only differences of log levels enter, so a gain change leaves
every bit as it was. ``muscall.audio.fingerprint`` computes them from the log-mel at embed time; the embedding
catalog stores them row-aligned with the tracks (``shard-*.fp.npy`` and ``shard-*.fpoffsets.npy``, see
``index.shards``).

Two fingerprints match when, at the best time shift of one against the other (found for every shift at once
by FFT cross-correlation), their bit error rate over the reliable bits of the overlap is low. The score is
``1 - BER``: about 0.5 for unrelated audio (at most ~0.6 for the best of every shift), above 0.8 for the same
recording re-encoded (MP3, Opus), gain-changed or trimmed by any amount that leaves half of the shorter copy.

The bits leave out the levels themselves, so a remaster (the same performance with another EQ or mix) can match
as well. Beside the words the catalog stores each track's level profile: the mean dB of the same ``BITS + 1``
bands over every ``LEVEL_WORDS`` words (one row per second, ``shard-*.fplevels.npy``, float16). Over the aligned
overlap of a matched pair the mean per-band level difference is flat for a copy (a gain change moves every band
alike) and bent for another master: its spread across bands (the standard deviation, in dB) is at most
``COPY_MAX_SPREAD_DB`` for a ``copy`` and above it for a ``version``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from index.shards import LEVEL_WORDS, Shard, load_catalog

BITS = 16  # slope bits per word (the level slopes between BITS + 1 bands), then as many reliability bits
HOP_SECONDS = 0.1  # audio per word
SMOOTH_SECONDS = 0.4  # each word's band levels are averaged over this much audio
RELIABLE_DB = 0.5  # a slope change smaller than this (dB) is not compared
DTYPE = np.uint32
DEFAULT_THRESHOLD = 0.75  # lowest 1 - BER of one recording; unrelated audio stays below ~0.65
MIN_RELIABLE = 0.1  # a shift is judged only where this share of the overlap's bits is reliable in both
MIN_OVERLAP = 0.5  # fraction of the shorter fingerprint a shift must cover
MIN_OVERLAP_SECONDS = 5.0  # ... and never less audio than this (both tracks permitting)
LEVEL_DTYPE = np.float16
COPY_MAX_SPREAD_DB = 1.0  # spread of a copy's level difference across bands; copies measured <= 0.25 dB
LEVEL_QUIET_DB = 40.0  # a row this far below the track's loudest is left out of the comparison
MIN_LEVEL_ROWS = 5  # fewer comparable rows than this: no verdict
COPY, VERSION = "copy", "version"
FingerprintLookup = Callable[[str], "np.ndarray | None"]
LevelsLookup = Callable[[str], "np.ndarray | None"]


@dataclass(frozen=True)
class FingerprintMatch:
    """How well two fingerprints agree at their best shift."""

    score: float  # 1 - bit error rate over the overlap
    offset_s: float  # b's audio starts this many seconds into a's (negative: a starts into b)
    overlap_s: float  # seconds compared


def pack_bits(change: np.ndarray) -> np.ndarray:
    """``(frames, BITS)`` slope changes (dB) -> ``(frames,)`` words: sign bits, then reliability bits."""
    change = np.asarray(change, np.float64)
    if change.ndim != 2 or change.shape[1] != BITS:
        raise ValueError(f"fingerprint slope changes must be (frames, {BITS}), got {change.shape}")
    bits = np.concatenate([change > 0, np.abs(change) >= RELIABLE_DB], axis=1).astype(np.uint64)
    return (bits @ (np.uint64(1) << np.arange(2 * BITS, dtype=np.uint64))).astype(DTYPE)


def unpack_bits(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(frames,)`` words -> ``(frames, BITS)`` sign bits and ``(frames, BITS)`` reliability bits."""
    words = np.asarray(words).astype(np.uint64).reshape(-1)
    bits = ((words[:, None] >> np.arange(2 * BITS, dtype=np.uint64)) & np.uint64(1)).astype(bool)
    return bits[:, :BITS], bits[:, BITS:]


def match(a: np.ndarray, b: np.ndarray, min_overlap: float = MIN_OVERLAP) -> FingerprintMatch:
    """The best shift of ``b`` against ``a`` and its ``1 - BER``; score 0 when the two cannot overlap enough."""
    sa, sb = _signs(a), _signs(b)
    na, nb = len(sa), len(sb)
    if min(na, nb) == 0:
        return FingerprintMatch(0.0, 0.0, 0.0)
    need = max(1, int(np.ceil(min_overlap * min(na, nb))), min(na, nb, round(MIN_OVERLAP_SECONDS / HOP_SECONDS)))
    shifts = np.arange(-(na - 1), nb)
    overlap = np.minimum(na, nb - shifts) - np.maximum(0, -shifts)
    agree = _correlate(sa, sb, shifts)  # sum over the overlap of sa[t] * sb[t + d]: +1 agree, -1 differ, 0 unreliable
    compared = _correlate(np.abs(sa), np.abs(sb), shifts)  # bits reliable in both
    ok = (overlap >= need) & (compared >= MIN_RELIABLE * BITS * overlap)
    if not ok.any():
        return FingerprintMatch(0.0, 0.0, 0.0)
    shifts, overlap = shifts[ok], overlap[ok]
    agreement = agree[ok] / compared[ok]
    best = int(np.argmax(agreement))
    score = float(np.clip((1.0 + agreement[best]) / 2.0, 0.0, 1.0))
    return FingerprintMatch(round(score, 6), round(-float(shifts[best]) * HOP_SECONDS, 3),
                            round(float(overlap[best]) * HOP_SECONDS, 3))


def level_rows(n_words: int) -> int:
    """Rows of the level profile stored for a fingerprint of ``n_words`` words."""
    return -(-int(n_words) // LEVEL_WORDS)


def level_spread(a: np.ndarray, b: np.ndarray, offset_s: float) -> float | None:
    """dB spread across bands of the mean level difference of two profiles, ``b`` starting ``offset_s`` into
    ``a`` (as :func:`match` reports it); None when fewer than ``MIN_LEVEL_ROWS`` loud rows overlap."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    shift = int(round(offset_s / (LEVEL_WORDS * HOP_SECONDS)))
    a0, b0 = max(0, shift), max(0, -shift)
    n = min(len(a) - a0, len(b) - b0)
    if n < MIN_LEVEL_ROWS:
        return None
    a, b = a[a0:a0 + n], b[b0:b0 + n]
    loud_a, loud_b = a.mean(axis=1), b.mean(axis=1)
    loud = (loud_a > loud_a.max() - LEVEL_QUIET_DB) & (loud_b > loud_b.max() - LEVEL_QUIET_DB)
    if loud.sum() < MIN_LEVEL_ROWS:
        return None
    # the mean, not the median, over rows: a time misalignment of up to half a row cancels in the sum (each row's
    # error is undone by its neighbour's), while the median keeps it
    return round(float(np.std((a[loud] - b[loud]).mean(axis=0))), 4)


def kind_of(spread_db: float | None) -> str | None:
    """``copy`` or ``version`` for a fingerprint-matched pair by its level spread; None when it has no verdict."""
    if spread_db is None:
        return None
    return COPY if spread_db <= COPY_MAX_SPREAD_DB else VERSION


def shard_fingerprints(catalog_dir: str | Path) -> FingerprintLookup | None:
    """A track id -> fingerprint lookup over an embedding catalog's shards; None when it stores none."""
    return _shard_lookup(catalog_dir, lambda shard: shard.fingerprints is not None,
                         lambda shard, row: np.asarray(shard.track_fingerprint(row)))


def shard_levels(catalog_dir: str | Path) -> LevelsLookup | None:
    """A track id -> level profile lookup over an embedding catalog's shards; None when it stores none."""
    return _shard_lookup(catalog_dir, lambda shard: shard.levels is not None,
                         lambda shard, row: np.asarray(shard.track_levels(row), np.float32))


def _shard_lookup(catalog_dir: str | Path, stores: Callable[[Shard], bool],
                  read: Callable[[Shard, int], np.ndarray]) -> Callable[[str], "np.ndarray | None"] | None:
    """A track id -> ``read(shard, row)`` lookup over the shards that ``stores`` something; None when none does."""
    where: dict[str, tuple[Shard, int]] = {}
    for shard in load_catalog(catalog_dir, verify=False).iter_shards():
        if stores(shard):
            where.update({meta.track_id: (shard, row) for row, meta in enumerate(shard.metadata)})
    if not where:
        return None

    def lookup(track_id: str) -> np.ndarray | None:
        found = where.get(track_id)
        return None if found is None else read(*found)
    return lookup


def _signs(words: np.ndarray) -> np.ndarray:
    """Words as ``(frames, BITS)`` of +1 / -1 where reliable, 0 where not (float64, for correlation)."""
    signs, reliable = unpack_bits(words)
    return np.where(reliable, np.where(signs, 1.0, -1.0), 0.0)


def _correlate(a: np.ndarray, b: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """``sum over t and bits of a[t] * b[t + d]`` for each shift ``d`` (FFT, rounded to whole counts)."""
    size = _fft_size(len(a) + len(b))
    spectrum = np.conj(np.fft.rfft(a, size, axis=0)) * np.fft.rfft(b, size, axis=0)
    return np.rint(np.fft.irfft(spectrum.sum(axis=1), size))[shifts % size]


def _fft_size(n: int) -> int:
    """A power of two >= ``n`` (no circular wrap-around for shifts within the two lengths)."""
    return 1 << max(0, int(n - 1).bit_length())
