"""Log-mel spectrograms in torch, matching ``torchaudio.transforms.MelSpectrogram`` defaults.

STFT: periodic Hann window of ``n_fft`` samples, ``center=True`` with reflect padding, one-sided.
Mel filterbank: HTK mel scale, triangular filters, no area normalisation (torchaudio's defaults).
dB: ``(20 / power) * log10(max(x, 1e-10))`` (``10 * log10`` for the power spectrum), then, when
``top_db`` is set, values below ``max - top_db`` are raised to it, the max taken over each example
separately (torchaudio's ``AmplitudeToDB`` takes it over the whole batch of a 3-D input).

Chroma (``audio.chroma_n_fft > 0``): 12 rows appended below the mel bands, the power of a second, longer
STFT (same hop and centring, so frames align) folded onto pitch classes C..B. A 512-point STFT at 16 kHz has
31 Hz bins and a mel band is wider than a semitone below about 1 kHz, so key and chord quality are not in
the log-mel; a 4096-point STFT (3.9 Hz bins) resolves semitones from about 100 Hz. Each bin between
``CHROMA_BAND_HZ`` counts towards its nearest semitone with weight ``1 - 2 * distance`` (in semitones), so
bins halfway between two notes count for neither. Rows are in dB with the same ``top_db`` floor, taken
over the chroma rows alone.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from muscall.audio.decode import Segment, decode
from muscall.audio.signal import CHROMA_BAND_HZ, midi_number
from muscall.audio.windows import num_frames, seconds_to_samples
from muscall.config import CHROMA_ROWS, AudioConfig
from muscall.errors import MuscallError

AMIN = 1e-10
FEATURE_FIELDS = ("sample_rate", "n_fft", "hop_length", "n_mels", "f_min", "f_max", "power", "top_db")


def hz_to_mel(freq: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 * log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(freq, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None) -> np.ndarray:
    """Triangular HTK-mel filters as a float64 array of shape ``(n_mels, n_fft // 2 + 1)``.

    Filter ``m`` rises from mel point ``m`` to ``m + 1`` and falls to ``m + 2``, the ``n_mels + 2`` points
    spaced evenly in mel between ``f_min`` and ``f_max`` (``None``: Nyquist). Raises MuscallError for
    ``f_max`` above Nyquist or ``f_min >= f_max``.
    """
    nyquist = sample_rate / 2
    f_max = nyquist if f_max is None else float(f_max)
    if f_max > nyquist:
        raise MuscallError(f"audio.f_max={f_max:g} Hz is above Nyquist ({nyquist:g} Hz) for sample_rate="
                           f"{sample_rate}; set audio.f_max <= {nyquist:g} (or null for Nyquist)")
    if not 0.0 <= f_min < f_max:
        raise MuscallError(f"audio.f_min={f_min:g} Hz must be >= 0 and below f_max={f_max:g} Hz")
    if n_mels <= 0 or n_fft <= 0:
        raise MuscallError(f"audio.n_mels ({n_mels}) and audio.n_fft ({n_fft}) must be positive")
    bin_freqs = np.linspace(0.0, sample_rate // 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    widths = np.diff(edges)  # (n_mels + 1,)
    offsets = edges[:, None] - bin_freqs[None, :]  # (n_mels + 2, n_freqs)
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    fb = np.maximum(0.0, np.minimum(rising, falling))
    if (fb.max(axis=1) == 0.0).any():
        warnings.warn(f"{int((fb.max(axis=1) == 0).sum())} of {n_mels} mel filters are empty: n_mels={n_mels} is "
                      f"too many for n_fft={n_fft}; lower audio.n_mels or raise audio.n_fft", stacklevel=2)
    return fb


def chroma_filterbank(sample_rate: int, n_fft: int, band_hz: tuple[float, float] = CHROMA_BAND_HZ) -> np.ndarray:
    """``(12, n_fft // 2 + 1)`` weights folding STFT bins onto pitch classes (row 0 is C; A4 = 440 Hz)."""
    freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    fb = np.zeros((CHROMA_ROWS, freqs.size))
    inside = (freqs >= band_hz[0]) & (freqs <= min(band_hz[1], sample_rate / 2))
    semitone = midi_number(freqs[inside])
    nearest = np.round(semitone)
    fb[nearest.astype(int) % CHROMA_ROWS, np.flatnonzero(inside)] = 1.0 - 2.0 * np.abs(semitone - nearest)
    return fb


def feature_config_hash(cfg: AudioConfig) -> str:
    """Short hash of the audio settings that change log-mel values (not crop or window lengths)."""
    fields = {k: asdict(cfg)[k] for k in FEATURE_FIELDS}
    if cfg.chroma_n_fft:  # only then, so caches of configs without chroma keep their hash
        fields["chroma_n_fft"] = cfg.chroma_n_fft
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


class LogMel(nn.Module):
    """Waveform ``(B, samples)`` -> log-mel ``(B, rows, frames)`` float32; ``(samples,)`` -> ``(rows, frames)``.

    ``rows`` is ``n_mels``, plus 12 chroma rows when ``chroma_n_fft > 0`` (see the module docstring).
    """

    window: torch.Tensor
    filterbank: torch.Tensor

    def __init__(self, sample_rate: int = 16000, n_fft: int = 1024, hop_length: int = 512, n_mels: int = 128,
                 f_min: float = 0.0, f_max: float | None = None, power: float = 2.0, top_db: float | None = 80.0,
                 chroma_n_fft: int = 0):
        super().__init__()
        if hop_length <= 0 or power <= 0:
            raise MuscallError(f"audio.hop_length ({hop_length}) and audio.power ({power}) must be positive")
        if top_db is not None and top_db < 0:
            raise MuscallError(f"audio.top_db={top_db} must be non-negative (or null for no clipping)")
        self.sample_rate, self.n_fft, self.hop_length, self.n_mels = sample_rate, n_fft, hop_length, n_mels
        self.power, self.top_db = float(power), top_db
        fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
        self.register_buffer("window", torch.hann_window(n_fft, dtype=torch.float32), persistent=False)
        self.register_buffer("filterbank", torch.from_numpy(fb.astype(np.float32)), persistent=False)
        self.chroma_n_fft = int(chroma_n_fft)
        if self.chroma_n_fft:
            chroma = chroma_filterbank(sample_rate, self.chroma_n_fft)
            self.register_buffer("chroma_window", torch.hann_window(self.chroma_n_fft), persistent=False)
            self.register_buffer("chroma_bank", torch.from_numpy(chroma.astype(np.float32)), persistent=False)
        self.rows = n_mels + (CHROMA_ROWS if self.chroma_n_fft else 0)

    @classmethod
    def from_config(cls, cfg: AudioConfig) -> "LogMel":
        """Build from the ``audio`` section of a config."""
        return cls(cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels, cfg.f_min, cfg.f_max, cfg.power,
                   cfg.top_db, cfg.chroma_n_fft)

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for ``num_samples`` input samples."""
        return num_frames(num_samples, self.hop_length)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Log-mel in dB of a waveform batch (then the chroma rows, if any); float32 on the module's device."""
        db = self.to_db(self.mel_power(wave))
        if not self.chroma_n_fft:
            return db
        return torch.cat([db, self.to_db(self.chroma_power(wave), power=2.0)], dim=-2)

    def chroma_power(self, wave: torch.Tensor) -> torch.Tensor:
        """Pitch-class power ``(..., 12, frames)`` from a ``chroma_n_fft``-point STFT with the mel's hop."""
        x = wave.to(device=self.window.device, dtype=torch.float32)
        if x.shape[-1] <= self.chroma_n_fft // 2:  # too short for reflect padding: pad with silence first
            pad = self.chroma_n_fft // 2 + 1 - x.shape[-1]
            x = torch.nn.functional.pad(x, (0, pad))
        spec = torch.stft(x, self.chroma_n_fft, self.hop_length, window=self.chroma_window, center=True,
                          pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
        power = torch.addcmul(spec.real * spec.real, spec.imag, spec.imag)
        chroma = torch.matmul(self.chroma_bank, power)
        return chroma[..., : self.num_frames(wave.shape[-1])]

    def mel_power(self, wave: torch.Tensor) -> torch.Tensor:
        """Mel-projected ``|STFT| ** power`` (before dB) of ``(samples,)`` or ``(batch, samples)``."""
        if wave.dim() not in (1, 2):
            raise ValueError(f"LogMel expects (samples,) or (batch, samples), got shape {tuple(wave.shape)}")
        if wave.shape[-1] <= self.n_fft // 2:
            raise MuscallError(f"audio of {wave.shape[-1]} samples is too short for n_fft={self.n_fft}; it needs "
                               f"more than {self.n_fft // 2} samples")
        x = wave.to(device=self.window.device, dtype=torch.float32)
        spec = torch.stft(x, self.n_fft, self.hop_length, window=self.window, center=True, pad_mode="reflect",
                          normalized=False, onesided=True, return_complex=True)
        if self.power == 2.0:  # re*re + im*im: about 3x faster than view_as_real(...).square().sum(-1)
            power = torch.addcmul(spec.real * spec.real, spec.imag, spec.imag)
        else:
            power = spec.abs().pow(self.power)
        return torch.matmul(self.filterbank, power)  # (n_mels, F) @ (..., F, T) -> (..., n_mels, T)

    def to_db(self, mel: torch.Tensor, power: float | None = None) -> torch.Tensor:
        """``(20 / power) * log10`` with a 1e-10 floor, then per-example ``top_db`` clipping."""
        db = torch.log10(torch.clamp(mel, min=AMIN)).mul_(20.0 / (power or self.power))
        if self.top_db is not None:
            floor = db.amax(dim=(-2, -1), keepdim=True) - self.top_db
            db = torch.maximum(db, floor)
        return db

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, n_fft={self.n_fft}, hop_length={self.hop_length}, "
                f"n_mels={self.n_mels}, power={self.power}, top_db={self.top_db}, chroma_n_fft={self.chroma_n_fft}")


class MelFrontEnd:
    """The one path from an audio file to its whole-clip log-mel: :func:`decode` (with the length checks), the
    first ``max_seconds`` (``None``: all), then :class:`LogMel` on ``device``.

    The LogMel is built on first use, so a front end travels cheaply to DataLoader workers.
    """

    def __init__(self, audio: AudioConfig, max_seconds: float | None = None, device: str | torch.device = "cpu"):
        self.audio, self.device = audio, torch.device(device)
        self.max_samples = None if max_seconds is None else seconds_to_samples(max_seconds, audio.sample_rate)
        self._logmel: LogMel | None = None

    @property
    def logmel(self) -> LogMel:
        """The log-mel module of ``audio`` on ``device``."""
        if self._logmel is None:
            self._logmel = LogMel.from_config(self.audio).to(self.device)
        return self._logmel

    def wave(self, source: str | Path | bytes, name: str = "upload", segment: Segment | None = None) -> np.ndarray:
        """Mono float32 samples at the model's rate (of ``segment`` only, when given), the first ``max_seconds`` of
        them (raises AudioLoadError)."""
        return decode(source, self.audio, name, segment=segment)[: self.max_samples]

    @torch.no_grad()
    def mel(self, wave: np.ndarray) -> np.ndarray:
        """Log-mel ``(rows, frames)`` float32 of a mono float32 waveform."""
        return self.logmel(torch.from_numpy(wave).to(self.device)).cpu().numpy()

    def __call__(self, source: str | Path | bytes, name: str = "upload", segment: Segment | None = None) -> np.ndarray:
        """Log-mel of a file (path) or in-memory file (bytes), or of its ``segment``."""
        return self.mel(self.wave(source, name, segment))
