"""Decode audio files and uploads to float32 mono at the config sample rate, rejecting unusable input.

Every rejection raises :class:`~muscall.errors.AudioLoadError` whose reason names the problem and the fix.
Files libsndfile cannot open (AAC/M4A, ALAC, WMA, ...) are read through FFmpeg (PyAV, :mod:`muscall.audio.ffmpeg`)
with the same checks. Decoding streams: the file is read in blocks of ``BLOCK_SECONDS``, each mixed to mono
and resampled as it comes (:func:`decode_blocks`), so a long file never sits in memory at its native rate and
channel count. Checks, in order: readable (libsndfile, else FFmpeg), duration within ``[min_seconds,
max_seconds]`` (read from the header, before decoding), decodes without error, not empty, only finite
samples, not silent after the downmix to mono (peak below ``silence_threshold``).

A :class:`Segment` (start, duration) decodes only that part of the file, e.g. the captioned 10 s of a longer
MusicCaps video: libsndfile seeks to the start, FFmpeg decodes and drops what comes before it; the length checks
then apply to the segment.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np
import soundfile as sf
import soxr

from muscall.audio.ffmpeg import FFmpegError, FFmpegReader
from muscall.config import AudioConfig
from muscall.errors import AudioLoadError

SILENCE_THRESHOLD = 1e-4  # peak amplitude, about -80 dBFS
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".m4a", ".mp4", ".aac", ".wma",
                  ".alac", ".webm")  # the files a folder scan picks up
SUPPORTED = "wav, flac, ogg (vorbis/opus), mp3, m4a/aac, alac, wma or another format FFmpeg reads"
RESAMPLE_QUALITY = "HQ"
BLOCK_SECONDS = 20.0  # native-rate audio held at once while decoding


@dataclass(frozen=True)
class Segment:
    """The part of a file to decode: ``start`` seconds in, ``duration`` seconds long (None: to the end)."""

    start: float = 0.0
    duration: float | None = None

    def __post_init__(self) -> None:
        if not self.start >= 0 or (self.duration is not None and not self.duration > 0):
            raise ValueError(f"a segment needs start >= 0 and duration > 0, got start={self.start} "
                             f"duration={self.duration}")

    def frames(self, rate: int) -> tuple[int, int | None]:
        """First frame and frame count (None: to the end) at ``rate``."""
        count = None if self.duration is None else max(1, int(round(self.duration * rate)))
        return int(round(self.start * rate)), count


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: duration in seconds, native sample rate, channels, frames, container."""

    duration: float
    sample_rate: int
    channels: int
    frames: int
    format: str


def audio_info(source: str | Path | bytes, name: str = "upload") -> AudioInfo:
    """Read a file's (or in-memory file's) header only (cheap); raises AudioLoadError if it is not readable audio."""
    if isinstance(source, bytes):
        if not source:
            raise AudioLoadError(name, f"the upload is empty (0 bytes); send a {SUPPORTED} file")
        opened = _open(io.BytesIO(source), name)
    else:
        path = Path(source)
        _check_file(path)
        opened = _open(path, str(path))
    opened.close()
    return opened.info


def decode(source: str | Path | bytes, audio: AudioConfig, name: str = "upload",
           silence_threshold: float = SILENCE_THRESHOLD, segment: Segment | None = None) -> np.ndarray:
    """Decode a file (a path) or an in-memory file (bytes, labelled ``name`` in errors) to mono at the model's rate.

    Returns a 1-D float32 array at ``audio.sample_rate`` (soxr HQ resampling), its length within
    ``[audio.min_seconds, audio.max_seconds]``; with ``segment``, only that part of the file.

    Raises:
        AudioLoadError: missing, unreadable, corrupt, empty, non-finite, silent, too short or too long, or a
            segment that starts past the end.
    """
    if isinstance(source, bytes):
        if not source:
            raise AudioLoadError(name, f"the upload is empty (0 bytes); send a {SUPPORTED} file")
        return _load(io.BytesIO(source), name, audio, silence_threshold, segment)
    path = Path(source)
    _check_file(path)
    return _load(path, str(path), audio, silence_threshold, segment)


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


def _load(source: Path | BinaryIO, label: str, audio: AudioConfig, silence_threshold: float,
          segment: Segment | None = None) -> np.ndarray:
    blocks = list(decode_blocks(source, audio, label, silence_threshold, segment))
    out = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    return np.ascontiguousarray(out, dtype=np.float32)


def decode_blocks(source: Path | BinaryIO, audio: AudioConfig, label: str,
                  silence_threshold: float = SILENCE_THRESHOLD, segment: Segment | None = None) -> Iterator[np.ndarray]:
    """Mono float32 blocks at ``audio.sample_rate`` (of ``segment`` only, when given); the whole-file (or
    whole-segment) checks (empty, silent, length) raise at the end."""
    sample_rate, min_seconds, max_seconds = audio.sample_rate, audio.min_seconds, audio.max_seconds
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    opened = _open(source, label)
    try:
        info = opened.info
        _check_duration(label, _expected_seconds(label, info, segment), min_seconds, max_seconds)
        stream = soxr.ResampleStream(info.sample_rate, sample_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY) \
            if info.sample_rate != sample_rate else None
        frames, peak = 0, 0.0
        blocks = _native_blocks(opened, label, max(1, int(BLOCK_SECONDS * info.sample_rate)))
        for block in blocks if segment is None else _segment_blocks(opened, blocks, segment):
            mono = to_mono(block)
            if not np.isfinite(mono).all():
                raise AudioLoadError(label, "the audio contains NaN or infinite samples; re-export it as 16-bit PCM "
                                            "or clean float samples")
            frames, peak = frames + mono.shape[0], max(peak, float(np.abs(mono).max(initial=0.0)))
            # The header can understate (FFmpeg) or overstate (truncated file) the length: check what was decoded.
            _check_duration(label, frames / info.sample_rate, None, max_seconds)
            out = stream.resample_chunk(mono) if stream is not None else mono
            if out.size:
                yield out
        _check_whole(label, frames, peak, info.sample_rate, min_seconds, silence_threshold)
        if stream is not None:
            yield stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
    finally:
        opened.close()


def _expected_seconds(label: str, info: AudioInfo, segment: Segment | None) -> float:
    """Seconds the header promises for the file, or for ``segment`` of it (which must start inside it)."""
    if segment is None:
        return info.duration
    if info.frames > 0 and segment.start >= info.duration:
        raise AudioLoadError(label, f"the segment starts at {segment.start:g} s but the file is {info.duration:.1f} s "
                                    "long; fix the row's attributes.offset_s")
    left = info.duration - segment.start if info.frames > 0 else segment.duration or 0.0
    return left if segment.duration is None else min(segment.duration, left)


def _segment_blocks(opened: "_Opened", blocks: Iterator[np.ndarray], segment: Segment) -> Iterator[np.ndarray]:
    """The frames of ``segment`` from ``blocks``: after a seek where the reader can, else by dropping frames."""
    first, left = segment.frames(opened.info.sample_rate)
    skip = 0 if opened.seek(first) else first
    for block in blocks:
        if skip:
            dropped = min(skip, block.shape[0])
            block, skip = block[dropped:], skip - dropped
        if left is not None:
            block, left = block[:left], left - min(left, block.shape[0])
        if block.shape[0]:
            yield block
        if left == 0:
            return


def _native_blocks(opened: "_Opened", label: str, block_frames: int) -> Iterator[np.ndarray]:
    try:
        yield from opened.blocks(block_frames)
    except (sf.SoundFileError, RuntimeError, FFmpegError) as err:
        raise AudioLoadError(label, f"the {opened.info.format} data is corrupt or truncated ({err}); "
                                    "re-export or re-download the file") from err


def _check_whole(label: str, frames: int, peak: float, rate: int, min_seconds: float | None,
                 silence_threshold: float) -> None:
    if frames == 0:
        raise AudioLoadError(label, "the file contains no audio samples (zero length); use a file with audio in it")
    _check_duration(label, frames / rate, min_seconds, None)
    if peak < silence_threshold:
        raise AudioLoadError(label, f"the audio is silent (peak {_dbfs(peak)} dBFS, below the "
                                    f"{_dbfs(silence_threshold)} dBFS threshold after mixing to mono); "
                                    "use a file with audible content")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioLoadError(path, "file does not exist; check the path (relative paths in a manifest are "
                                   "taken from the manifest's folder)")
    if not path.is_file():
        raise AudioLoadError(path, "is not a regular file; give the path of an audio file")
    if path.stat().st_size == 0:
        raise AudioLoadError(path, f"the file is empty (0 bytes); replace it with a {SUPPORTED} file")


@dataclass
class _Opened:
    """An open file: its header facts, a block reader ``blocks(frames)``, ``close`` and ``seek(frame)`` (False
    where the reader cannot seek, so the caller drops frames instead)."""

    info: AudioInfo
    blocks: Callable[[int], Iterator[np.ndarray]]
    close: Callable[[], None]
    seek: Callable[[int], bool] = lambda _frame: False


def _open(source: Path | BinaryIO, label: str) -> _Opened:
    """libsndfile first; FFmpeg (PyAV) only when libsndfile cannot open the file."""
    try:
        fh = sf.SoundFile(source)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as err:
        first = err
    else:
        info = AudioInfo(duration=fh.frames / fh.samplerate if fh.samplerate > 0 else 0.0,
                         sample_rate=int(fh.samplerate), channels=int(fh.channels), frames=int(fh.frames),
                         format=str(fh.format))
        return _Opened(info, lambda n: fh.blocks(blocksize=n, dtype="float32", always_2d=True), fh.close,
                       lambda frame: _sf_seek(fh, frame))
    if not isinstance(source, Path):
        source.seek(0)
    try:
        reader = FFmpegReader(source)
    except (FFmpegError, OSError, ValueError, UnicodeDecodeError):
        reader = None
    if reader is not None and reader.rate <= 0:
        reader.close()
        reader = None
    if reader is None:
        raise AudioLoadError(label, f"not a readable audio file ({_short(first)}); convert it to {SUPPORTED}") \
            from first
    info = AudioInfo(duration=reader.frames / reader.rate, sample_rate=reader.rate, channels=reader.channels,
                     frames=reader.frames, format=reader.format)
    return _Opened(info, reader.blocks, reader.close)


def _sf_seek(fh: sf.SoundFile, frame: int) -> bool:
    """Seek a libsndfile file to ``frame`` (True), or report that it cannot seek (False)."""
    if not fh.seekable():
        return False
    fh.seek(min(frame, fh.frames))
    return True


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
