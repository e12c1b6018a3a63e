"""Decode audio files and uploads to float32 mono at the config sample rate, rejecting unusable input.

Every rejection raises :class:`~muscall.errors.AudioLoadError` whose reason names the problem and the fix.
Checks, in order: readable by libsndfile (wav/flac/ogg/mp3/...), duration within ``[min_seconds,
max_seconds]`` (read from the header, before decoding), decodes without error, not empty, only finite
samples, not silent after the downmix to mono (peak below ``silence_threshold``).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from muscall.config import AudioConfig
from muscall.errors import AudioLoadError

SILENCE_THRESHOLD = 1e-4  # peak amplitude, about -80 dBFS
SUPPORTED = "wav, flac, ogg (vorbis/opus) or mp3"
RESAMPLE_QUALITY = "HQ"


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: duration in seconds, native sample rate, channels, frames, container."""

    duration: float
    sample_rate: int
    channels: int
    frames: int
    format: str


def audio_info(path: str | Path) -> AudioInfo:
    """Read a file's header only (cheap); raises AudioLoadError if it is not readable audio."""
    path = Path(path)
    _check_file(path)
    with _open(path, str(path)) as fh:
        return _info(fh)


def decode(source: str | Path | bytes, audio: AudioConfig, name: str = "upload",
           silence_threshold: float = SILENCE_THRESHOLD) -> np.ndarray:
    """Decode a file (a path) or an in-memory file (bytes, labelled ``name`` in errors) to mono at the model's rate.

    Returns a 1-D float32 array at ``audio.sample_rate`` (soxr HQ resampling), its length within
    ``[audio.min_seconds, audio.max_seconds]``.

    Raises:
        AudioLoadError: missing, unreadable, corrupt, empty, non-finite, silent, too short or too long.
    """
    if isinstance(source, bytes):
        if not source:
            raise AudioLoadError(name, f"the upload is empty (0 bytes); send a {SUPPORTED} file")
        return _load(io.BytesIO(source), name, audio, silence_threshold)
    path = Path(source)
    _check_file(path)
    return _load(path, str(path), audio, silence_threshold)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Mean over channels of a (frames, channels) array; a 1-D array is returned as is."""
    if samples.ndim == 1:
        return samples
    if samples.shape[1] == 1:
        return samples[:, 0]
    # One vectorised add per channel: numpy's mean(axis=1) over a (frames, 2) array is ~30x slower.
    mono = samples[:, 0].astype(np.float32, copy=True)
    for c in range(1, samples.shape[1]):
        mono += samples[:, c]
    mono *= np.float32(1.0 / samples.shape[1])
    return mono


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a 1-D float32 signal with soxr (HQ); a no-op when the rates match."""
    if orig_sr == target_sr:
        return wave
    return soxr.resample(wave, orig_sr, target_sr, quality=RESAMPLE_QUALITY)


def _load(source: Path | BinaryIO, label: str, audio: AudioConfig, silence_threshold: float) -> np.ndarray:
    sample_rate, min_seconds, max_seconds = audio.sample_rate, audio.min_seconds, audio.max_seconds
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    with _open(source, label) as fh:
        info = _info(fh)
        _check_duration(label, info.frames / info.sample_rate if info.sample_rate else 0.0, min_seconds, max_seconds)
        try:
            samples = fh.read(dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError) as err:
            raise AudioLoadError(label, f"the {info.format} data is corrupt or truncated ({err}); "
                                        "re-export or re-download the file") from err
    if samples.shape[0] == 0:
        raise AudioLoadError(label, "the file contains no audio samples (zero length); use a file with audio in it")
    mono = to_mono(samples)
    if not np.isfinite(mono).all():
        raise AudioLoadError(label, "the audio contains NaN or infinite samples; re-export it as 16-bit PCM or "
                                    "clean float samples")
    # The header can overstate the length of a truncated file: check again on what was decoded.
    _check_duration(label, mono.shape[0] / info.sample_rate, min_seconds, max_seconds)
    peak = float(np.abs(mono).max())
    if peak < silence_threshold:
        raise AudioLoadError(label, f"the audio is silent (peak {_dbfs(peak)} dBFS, below the "
                                    f"{_dbfs(silence_threshold)} dBFS threshold after mixing to mono); "
                                    "use a file with audible content")
    out = resample(mono, info.sample_rate, sample_rate)
    return np.ascontiguousarray(out, dtype=np.float32)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioLoadError(path, "file does not exist; check the path (relative paths in a manifest are "
                                   "taken from the manifest's folder)")
    if not path.is_file():
        raise AudioLoadError(path, "is not a regular file; give the path of an audio file")
    if path.stat().st_size == 0:
        raise AudioLoadError(path, f"the file is empty (0 bytes); replace it with a {SUPPORTED} file")


def _open(source: Path | BinaryIO, label: str) -> sf.SoundFile:
    try:
        return sf.SoundFile(source)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioLoadError(label, f"not a readable audio file ({_short(err)}); convert it to {SUPPORTED}") from err


def _info(fh: sf.SoundFile) -> AudioInfo:
    sr = int(fh.samplerate)
    frames = int(fh.frames)
    duration = frames / sr if sr > 0 else 0.0
    return AudioInfo(duration=duration, sample_rate=sr, channels=int(fh.channels), frames=frames,
                     format=str(fh.format))


def _check_duration(label: str, seconds: float, min_seconds: float | None, max_seconds: float | None) -> None:
    if min_seconds is not None and seconds < min_seconds and seconds > 0:
        raise AudioLoadError(label, f"too short: {seconds:.3f} s, the minimum is {min_seconds:g} s "
                                    "(audio.min_seconds); use a longer clip or lower audio.min_seconds")
    if max_seconds is not None and seconds > max_seconds:
        raise AudioLoadError(label, f"too long: {seconds:.1f} s, the maximum is {max_seconds:g} s "
                                    "(audio.max_seconds); cut the file or raise audio.max_seconds")


def _dbfs(amplitude: float) -> str:
    return "-inf" if amplitude <= 0 else f"{20 * math.log10(amplitude):.1f}"


def _short(err: Exception) -> str:
    text = str(err)
    # libsndfile prefixes "Error opening <_io.BytesIO object at 0x...>: "; keep the reason only.
    return text.split(": ", 1)[1] if text.startswith("Error opening") and ": " in text else text
