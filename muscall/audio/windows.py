"""Deterministic crops and windows over waveforms (last axis = samples) or log-mels (last axis = frames).

Training takes one seeded random crop per clip (:func:`random_frame_crop`). Evaluation and the catalog cut each
track's whole log-mel into fixed windows by the rule of :func:`window_starts` (``muscall.training.data.track_windows``),
so the same audio always gives the same windows; :func:`full_track_windows` applies the same rule to waveforms.
"""

from __future__ import annotations

import numpy as np

from muscall.config import AudioConfig

PAD_MODES = ("repeat", "zero")


def seconds_to_samples(seconds: float, sample_rate: int) -> int:
    """Whole samples in ``seconds`` (rounded)."""
    return int(round(seconds * sample_rate))


def window_params(cfg: AudioConfig) -> tuple[int, int]:
    """``(window, hop)`` in samples from ``audio.clip_seconds`` and ``audio.window_hop_seconds``."""
    return seconds_to_samples(cfg.clip_seconds, cfg.sample_rate), seconds_to_samples(cfg.window_hop_seconds,
                                                                                     cfg.sample_rate)


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


def random_crop(wave: np.ndarray, length: int, rng: np.random.Generator, pad_mode: str = "repeat") -> np.ndarray:
    """A ``length``-long crop along the last axis at a start drawn from ``rng``; shorter input is padded.

    Exactly one integer is drawn from ``rng`` per call (also for short input), so a seeded generator gives
    the same sequence of crops whatever the clip lengths.
    """
    if length <= 0:
        raise ValueError(f"crop length must be positive, got {length}")
    n = wave.shape[-1]
    span = max(n - length, 0) + 1
    start = min(int(rng.random() * span), span - 1)  # rng.integers would skip the draw when span == 1
    if n <= length:
        return pad_to(wave, length, pad_mode)
    return wave[..., start:start + length]


def random_frame_crop(mel: np.ndarray, n_frames: int, rng: np.random.Generator,
                      pad_mode: str = "repeat") -> np.ndarray:
    """A seeded crop of ``n_frames`` frames from a ``(n_mels, frames)`` log-mel (see :func:`random_crop`)."""
    return random_crop(mel, n_frames, rng, pad_mode)


def window_starts(num_samples: int, window: int, hop: int) -> np.ndarray:
    """Start sample of each full-track window (int64), see :func:`full_track_windows` for the rule."""
    if window <= 0 or hop <= 0:
        raise ValueError(f"window ({window}) and hop ({hop}) must be positive")
    if num_samples <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, num_samples - window + 1, hop, dtype=np.int64)
    if starts[-1] + window < num_samples:
        starts = np.append(starts, np.int64(num_samples - window))
    return starts


def full_track_windows(wave: np.ndarray, window: int, hop: int, pad_mode: str = "repeat") -> np.ndarray:
    """Cut a 1-D track into a ``(n_windows, window)`` array of fixed windows.

    Rule: windows start at 0, ``hop``, ``2 * hop``, ... while they fit inside the track; if the last of
    them ends before the track does, one more window is added aligned to the track's end (start
    ``len - window``), so no window runs past the end and, when ``hop <= window``, every sample is
    covered. A track no longer than one window gives a single window, padded per ``pad_mode``:
    ``repeat`` (default) loops the clip from its start, ``zero`` appends silence. The result is a fresh
    array; same input, same windows.
    """
    if wave.ndim != 1:
        raise ValueError(f"full_track_windows expects a 1-D waveform, got shape {wave.shape}")
    if wave.shape[0] == 0:
        raise ValueError("cannot window an empty waveform")
    starts = window_starts(wave.shape[0], window, hop)
    if wave.shape[0] <= window:
        return np.ascontiguousarray(pad_to(wave, window, pad_mode)[None, :])
    view = np.lib.stride_tricks.sliding_window_view(wave, window)
    return view[starts]
