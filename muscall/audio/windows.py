"""Crops and windows over log-mels (last axis = frames), and the conversions between samples, frames and seconds.

Training takes one seeded random crop per clip (:func:`random_crop`). Evaluation, the catalog and the service cut
each track's whole log-mel into fixed windows (:func:`track_windows`, starts by :func:`window_starts`), so the
same audio always gives the same windows. Window starts are stored in seconds (:func:`frames_to_seconds`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from muscall.config import AudioConfig

PAD_MODES = ("repeat", "zero")


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    """Whole samples in ``seconds`` (rounded)."""
    return int(round(seconds * sample_rate))


def num_frames(num_samples: int, hop: int) -> int:
    """Frames of a centred STFT over ``num_samples`` samples: ``1 + num_samples // hop``."""
    return 1 + int(num_samples) // int(hop)


def seconds_to_frames(seconds: float, audio: AudioConfig) -> int:
    """Log-mel frames of a clip ``seconds`` long (its samples rounded, then the centred STFT's frame count)."""
    return num_frames(seconds_to_samples(seconds, audio.sample_rate), audio.hop_length)


def frames_to_seconds(frames: Sequence[int] | np.ndarray, audio: AudioConfig) -> list[float]:
    """Frame positions -> seconds, rounded to the millisecond."""
    seconds = np.asarray(frames, dtype=np.float64) * audio.hop_length / audio.sample_rate
    return [round(float(s), 3) for s in seconds]


def crop_frames(audio: AudioConfig) -> int:
    """Frames in one training crop / catalog window (``audio.clip_seconds``)."""
    return seconds_to_frames(audio.clip_seconds, audio)


def hop_frames(audio: AudioConfig) -> int:
    """Frames between full-track windows (``audio.window_hop_seconds``, at least 1)."""
    return max(1, int(round(audio.window_hop_seconds * audio.sample_rate / audio.hop_length)))


def pad_to(x: np.ndarray, length: int, mode: str = "repeat") -> np.ndarray:
    """Extend ``x`` along its last axis to ``length``: ``repeat`` loops it from its start, ``zero`` appends zeros.

    An array already at least ``length`` long is returned unchanged.
    """
    if mode not in PAD_MODES:
        raise ValueError(f"pad mode '{mode}' is not one of {PAD_MODES}")
    n = x.shape[-1]
    if n >= length:
        return x
    if n == 0:
        raise ValueError("cannot pad an empty array")
    if mode == "zero":
        widths = [(0, 0)] * (x.ndim - 1) + [(0, length - n)]
        return np.pad(x, widths)
    reps = -(-length // n)
    return np.tile(x, (1,) * (x.ndim - 1) + (reps,))[..., :length]


def random_crop(x: np.ndarray, length: int, rng: np.random.Generator, pad_mode: str = "repeat") -> np.ndarray:
    """A ``length``-long crop along the last axis at a start drawn from ``rng``; shorter input is padded.

    Exactly one number is drawn from ``rng`` per call (also for short input), so a seeded generator gives
    the same sequence of crops whatever the clip lengths.
    """
    if length <= 0:
        raise ValueError(f"crop length must be positive, got {length}")
    n = x.shape[-1]
    span = max(n - length, 0) + 1
    start = min(int(rng.random() * span), span - 1)  # rng.integers would skip the draw when span == 1
    if n <= length:
        return pad_to(x, length, pad_mode)
    return x[..., start:start + length]


def window_starts(length: int, window: int, hop: int) -> np.ndarray:
    """Start of each full-track window (int64) over ``length`` frames.

    Rule: windows start at 0, ``hop``, ``2 * hop``, ... while they fit inside the track; if the last of them
    ends before the track does, one more window is added aligned to the track's end (start ``length -
    window``), so no window runs past the end and, when ``hop <= window``, every frame is covered. A track no
    longer than one window gives the single start 0.
    """
    if window <= 0 or hop <= 0:
        raise ValueError(f"window ({window}) and hop ({hop}) must be positive")
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - window + 1, hop, dtype=np.int64)
    if starts[-1] + window < length:
        starts = np.append(starts, np.int64(length - window))
    return starts


def track_windows(mel: np.ndarray, n_frames: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed full-track windows of a ``(n_mels, frames)`` log-mel: ``(n_windows, n_mels, n_frames)`` and their
    start frames (:func:`window_starts`; a track shorter than one window is loop-padded)."""
    mel = pad_to(mel, n_frames, "repeat")
    starts = window_starts(mel.shape[-1], n_frames, hop)
    return np.stack([mel[:, s:s + n_frames] for s in starts]), starts
