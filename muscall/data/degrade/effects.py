"""Signal degradations on float32 mono audio; each keeps the length and draws randomness only from ``rng``.

Every effect has the signature ``effect(x, sample_rate, param, rng) -> y``. Lossy codecs live in
:mod:`muscall.data.degrade.codecs`. :func:`match_level` brings a degraded version back to the source's RMS
level so that loudness does not give the severity away.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

PEAK_LIMIT = 0.99  # keeps PCM_16 output free of new clipping
GAP_SECONDS = (0.03, 0.15)  # shortest and longest dropout
WOW_HZ = (0.5, 1.5)  # slow speed modulation (wow)
FLUTTER_HZ = (6.0, 10.0)  # fast speed modulation (flutter)
FLUTTER_SHARE = 1.0 / 3.0  # flutter depth relative to wow depth
SINC_HALF_WIDTH = 8  # taps on each side of the windowed-sinc interpolator


def rms(x: np.ndarray) -> float:
    """Root mean square of a signal (0.0 for an empty one)."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def match_level(y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Scale ``y`` to the RMS of ``reference``, then lower it if its peak would pass :data:`PEAK_LIMIT`."""
    level = rms(y)
    out = y * (rms(reference) / level) if level > 0 else y.copy()
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > PEAK_LIMIT:
        out = out * (PEAK_LIMIT / peak)
    return out.astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with a 1/f power spectrum (white noise shaped in the frequency domain)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.arange(spectrum.size, dtype=np.float64)
    freqs[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return noise / max(rms(noise), 1e-12)


def add_white_noise(x: np.ndarray, sample_rate: int, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at ``snr_db`` dB below the signal power."""
    return _add_noise(x, rng.standard_normal(x.size), snr_db)


def add_pink_noise(x: np.ndarray, sample_rate: int, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Add pink (1/f) noise at ``snr_db`` dB below the signal power."""
    return _add_noise(x, pink_noise(x.size, rng), snr_db)


def _add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    scale = rms(x) / max(rms(noise), 1e-12) * 10.0 ** (-snr_db / 20.0)
    return (x + scale * noise).astype(np.float32)


def hard_clip(x: np.ndarray, sample_rate: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Clip at the amplitude that ``fraction`` of the samples exceed (e.g. 0.03: 3% of samples clipped)."""
    threshold = float(np.quantile(np.abs(x), 1.0 - fraction))
    if threshold <= 0:
        return x.copy()
    return np.clip(x, -threshold, threshold).astype(np.float32)


def low_pass(x: np.ndarray, sample_rate: int, cutoff_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-phase 8th-order Butterworth low-pass (run forwards and backwards: 16th-order magnitude)."""
    cutoff = min(float(cutoff_hz), 0.45 * sample_rate)
    sos = signal.butter(8, cutoff, btype="low", fs=sample_rate, output="sos")
    return signal.sosfiltfilt(sos, x).astype(np.float32)


def dropouts(x: np.ndarray, sample_rate: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Silence ``fraction`` of the clip in random gaps of 30-150 ms (one per equal segment, no overlap)."""
    y = x.copy()
    mask = dropout_mask(x.size, sample_rate, fraction, rng)
    y[mask] = 0.0
    return y


def dropout_mask(n: int, sample_rate: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the silenced samples: ``round(fraction * n)`` of them in non-overlapping gaps."""
    total = int(round(fraction * n))
    mask = np.zeros(n, dtype=bool)
    if total <= 0:
        return mask
    mean_gap = sample_rate * sum(GAP_SECONDS) / 2
    count = max(1, int(round(total / mean_gap)))
    weights = rng.uniform(0.5, 1.5, count)
    lengths = np.floor(weights / weights.sum() * total).astype(int)
    lengths[: total - int(lengths.sum())] += 1  # exact total
    segment = n // count
    for k, length in enumerate(lengths):
        length = min(int(length), segment)
        start = k * segment + int(rng.integers(0, segment - length + 1))
        mask[start:start + length] = True
    return mask


def wow_flutter(x: np.ndarray, sample_rate: int, depth: float, rng: np.random.Generator) -> np.ndarray:
    """Tape-like pitch wobble: playback speed ``1 + depth*sin(wow) + depth/3*sin(flutter)``, same length."""
    t = np.arange(x.size, dtype=np.float64) / sample_rate
    f_wow, f_flutter = rng.uniform(*WOW_HZ), rng.uniform(*FLUTTER_HZ)
    phase_wow, phase_flutter = rng.uniform(0, 2 * np.pi, 2)
    speed = depth * np.sin(2 * np.pi * f_wow * t + phase_wow)
    speed += depth * FLUTTER_SHARE * np.sin(2 * np.pi * f_flutter * t + phase_flutter)
    positions = np.arange(x.size, dtype=np.float64) + np.cumsum(speed)
    return sinc_interpolate(x, np.clip(positions, 0, x.size - 1))


def sinc_interpolate(x: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Values of ``x`` at fractional ``positions`` by Hann-windowed sinc interpolation (16 taps)."""
    base = np.floor(positions).astype(np.int64)
    frac = positions - base
    out = np.zeros(positions.size, dtype=np.float64)
    padded = np.concatenate([np.zeros(SINC_HALF_WIDTH), x.astype(np.float64), np.zeros(SINC_HALF_WIDTH + 1)])
    for k in range(-SINC_HALF_WIDTH + 1, SINC_HALF_WIDTH + 1):
        d = frac - k
        window = 0.5 + 0.5 * np.cos(np.pi * d / SINC_HALF_WIDTH)
        out += padded[base + k + SINC_HALF_WIDTH] * np.sinc(d) * window
    return out.astype(np.float32)
