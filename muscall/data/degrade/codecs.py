"""Lossy round trips through libsndfile (via soundfile): encode to bytes in memory, decode back, same length.

Which codecs exist depends on the libsndfile build: :func:`available_codecs` checks
``soundfile.available_formats()`` / ``available_subtypes()``. MP3 uses average bitrate (ABR) mode because
LAME's constant-bitrate mode at low rates loses the gapless header (the decoded file then starts ~1100
samples late); any leftover decoder delay is found by cross-correlation and removed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr
from scipy import signal


@dataclass(frozen=True)
class Codec:
    """One lossy codec: libsndfile container, subtype, encoder options and the sample rates it accepts."""

    name: str
    format: str
    subtype: str
    bitrate_mode: str | None = None
    rates: tuple[int, ...] = ()  # empty: any rate


MPEG_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
CODECS = {
    "mp3": Codec("mp3", "MP3", "MPEG_LAYER_III", bitrate_mode="AVERAGE", rates=MPEG_RATES),
    "vorbis": Codec("vorbis", "OGG", "VORBIS"),
    "opus": Codec("opus", "OGG", "OPUS", rates=(8000, 12000, 16000, 24000, 48000)),
}
MAX_DELAY = 4096  # samples searched for decoder delay


def available_codecs() -> list[str]:
    """The codecs in :data:`CODECS` that this libsndfile can encode."""
    formats = sf.available_formats()
    names = []
    for name, codec in CODECS.items():
        if codec.format in formats and codec.subtype in sf.available_subtypes(codec.format):
            names.append(name)
    return names


def codec_roundtrip(x: np.ndarray, sample_rate: int, codec: str, compression_level: float) -> np.ndarray:
    """Encode ``x`` with ``codec`` at ``compression_level`` (0 best .. 1 smallest), decode, same length."""
    spec = CODECS[codec]
    rate = _coding_rate(sample_rate, spec.rates)
    source = x if rate == sample_rate else soxr.resample(x, sample_rate, rate, quality="HQ")
    source = np.clip(source, -1.0, 1.0).astype(np.float32)
    options = {"compression_level": float(compression_level)}
    if spec.bitrate_mode:
        options["bitrate_mode"] = spec.bitrate_mode
    buffer = io.BytesIO()
    sf.write(buffer, source, rate, format=spec.format, subtype=spec.subtype, **options)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32", always_2d=True)
    decoded = decoded.mean(axis=1) if decoded.shape[1] > 1 else decoded[:, 0]
    decoded = align(decoded, source)
    if rate != sample_rate:
        decoded = soxr.resample(decoded, rate, sample_rate, quality="HQ")
    return fit_length(decoded, x.size)


def _coding_rate(sample_rate: int, rates: tuple[int, ...]) -> int:
    if not rates or sample_rate in rates:
        return sample_rate
    higher = [r for r in rates if r >= sample_rate]
    return min(higher) if higher else max(rates)


def align(decoded: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Drop the decoder's leading delay (0..MAX_DELAY samples) when the decoded signal came out longer."""
    extra = decoded.size - reference.size
    if extra <= 0:
        return decoded
    max_lag = min(MAX_DELAY, extra)
    n = min(reference.size, 1 << 16)
    corr = signal.correlate(decoded[: n + max_lag], reference[:n], mode="valid", method="fft")
    lag = int(np.argmax(corr[: max_lag + 1]))
    return decoded[lag:]


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad ``x`` to ``n`` samples (float32)."""
    if x.size >= n:
        return x[:n].astype(np.float32)
    return np.concatenate([x, np.zeros(n - x.size, dtype=np.float32)]).astype(np.float32)
