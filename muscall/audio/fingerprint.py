"""A track's recording fingerprint from its log-mel (the format and the matcher are in ``index.fingerprint``).

The mel bands (chroma rows, if any, are left out) are grouped into ``BITS + 1`` bands of neighbouring mels,
each band's dB level is averaged over ``SMOOTH_SECONDS`` around every ``HOP_SECONDS`` grid point, and word ``n``
packs the slope changes ``(E[n, m] - E[n, m + 1]) - (E[n - 1, m] - E[n - 1, m + 1])`` (their signs, and whether
each is reliable). The grid is in seconds, not frames, so one recording's fingerprints agree whatever the hop
of the front end. :func:`levels` gives the level profile stored beside it: the same band levels averaged over
every ``LEVEL_WORDS`` words, which tells a copy from another master of a matching recording.
"""

from __future__ import annotations

import numpy as np

from index.fingerprint import BITS, DTYPE, HOP_SECONDS, LEVEL_DTYPE, LEVEL_WORDS, SMOOTH_SECONDS, level_rows, pack_bits
from muscall.config import AudioConfig
from muscall.errors import MuscallError


def fingerprint(mel: np.ndarray, audio: AudioConfig) -> np.ndarray:
    """``(words,)`` uint32 fingerprint of a whole-track log-mel ``(rows, frames)`` made with ``audio``."""
    energy = _energy(mel, audio)
    if energy.shape[1] < 2:
        return np.zeros(0, DTYPE)
    slope = energy[:-1] - energy[1:]  # (BITS, words + 1): band m minus band m + 1
    return pack_bits((slope[:, 1:] - slope[:, :-1]).T)


def levels(mel: np.ndarray, audio: AudioConfig) -> np.ndarray:
    """``(level_rows(words), BITS + 1)`` float16 level profile: word ``w``'s band levels (grid point ``w + 1``)
    averaged over each run of ``LEVEL_WORDS`` words, aligned with :func:`fingerprint`'s words."""
    energy = _energy(mel, audio)[:, 1:]  # word w compares grid points w and w + 1: its levels are point w + 1's
    if energy.shape[1] == 0:
        return np.zeros((0, BITS + 1), LEVEL_DTYPE)
    starts = np.arange(level_rows(energy.shape[1])) * LEVEL_WORDS
    counts = np.diff(np.append(starts, energy.shape[1]))
    return (np.add.reduceat(energy, starts, axis=1) / counts).T.astype(LEVEL_DTYPE)


def _energy(mel: np.ndarray, audio: AudioConfig) -> np.ndarray:
    """The checked log-mel's band energies (see :func:`band_energies`)."""
    if mel.ndim != 2 or mel.shape[0] < audio.n_mels:
        raise ValueError(f"fingerprint needs a (rows >= {audio.n_mels}, frames) log-mel, got {mel.shape}")
    if audio.n_mels < BITS + 1:
        raise MuscallError(f"audio.n_mels={audio.n_mels} is too few for a {BITS}-bit fingerprint; it needs "
                           f"at least {BITS + 1} mel bands")
    return band_energies(np.asarray(mel[: audio.n_mels], np.float64), audio)


def band_energies(db: np.ndarray, audio: AudioConfig) -> np.ndarray:
    """``(BITS + 1, grid points)`` mean dB of each band group over ``SMOOTH_SECONDS`` around each grid point."""
    groups = np.array_split(np.arange(db.shape[0]), BITS + 1)
    bands = np.stack([db[g].mean(axis=0) for g in groups])  # (BITS + 1, frames)
    fps = audio.sample_rate / audio.hop_length
    frames = bands.shape[1]
    points = int(np.floor(frames / fps / HOP_SECONDS)) + 1
    centres = np.round(np.arange(points) * HOP_SECONDS * fps).astype(np.int64)
    half = max(1, int(round(SMOOTH_SECONDS * fps / 2)))
    lo, hi = np.clip(centres - half, 0, frames), np.clip(centres + half, 0, frames)
    keep = hi > lo
    cumulative = np.concatenate([np.zeros((bands.shape[0], 1)), np.cumsum(bands, axis=1)], axis=1)
    return (cumulative[:, hi[keep]] - cumulative[:, lo[keep]]) / (hi[keep] - lo[keep])
