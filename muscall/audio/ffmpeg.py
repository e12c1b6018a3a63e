"""The FFmpeg (PyAV) side of :mod:`muscall.audio.decode`: files libsndfile cannot open (AAC/M4A, ALAC, WMA, ...).

Only :mod:`muscall.audio.decode` uses this module, and only after libsndfile failed to open a file; it
offers the same two things as the libsndfile path: the header facts and float32 ``(frames, channels)``
blocks, so every check and error of the one decode function applies unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Iterator

import av
import numpy as np

FFmpegError = av.FFmpegError


class FFmpegReader:
    """An open container's first audio stream: ``rate``, ``channels``, ``frames`` (0 when unknown), ``blocks()``."""

    def __init__(self, source: Path | BinaryIO):
        self._container = av.open(str(source) if isinstance(source, Path) else source, mode="r")
        try:
            if not self._container.streams.audio:
                raise FFmpegError(0, "the container has no audio stream")
            self._stream = self._container.streams.audio[0]
            ctx = self._stream.codec_context
            self.rate = int(ctx.sample_rate or 0)
            self.channels = int(ctx.layout.nb_channels or 1) if ctx.layout else 1
            self.format = f"{self._container.format.name}/{ctx.name}"
            self.frames = self._frames()
        except Exception:
            self._container.close()
            raise

    def _frames(self) -> int:
        stream = self._stream
        if stream.duration is not None and stream.time_base is not None:
            return int(round(float(stream.duration * stream.time_base) * self.rate))
        if self._container.duration is not None:  # microseconds
            return int(round(self._container.duration / 1_000_000 * self.rate))
        return 0

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        """Decoded float32 ``(frames, channels)`` blocks of about ``block_frames`` frames, in order."""
        resampler = av.AudioResampler(format="fltp")  # any sample format -> float planar, same rate and layout
        pending: list[np.ndarray] = []
        size = 0
        for packet in self._container.demux(self._stream):
            for frame in packet.decode():
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray().T)
                    size += pending[-1].shape[0]
                if size >= block_frames:
                    yield _join(pending)
                    pending, size = [], 0
        for out in resampler.resample(None):
            pending.append(out.to_ndarray().T)
        if pending:
            yield _join(pending)

    def close(self) -> None:
        self._container.close()


def _join(parts: list[np.ndarray]) -> np.ndarray:
    block = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    return np.ascontiguousarray(block, dtype=np.float32)


def encode(path: str | Path, wave: np.ndarray, sample_rate: int, codec: str, bit_rate: int | None = None) -> Path:
    """Write mono float ``wave`` to ``path`` (container from the suffix) with FFmpeg ``codec`` (aac, alac, libopus...)."""
    path = Path(path)
    samples = np.ascontiguousarray(np.clip(wave, -1.0, 1.0), dtype=np.float32)[None, :]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=sample_rate, layout="mono")
        if bit_rate:
            stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
        frame.sample_rate = sample_rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=sample_rate,
                                      frame_size=stream.codec_context.frame_size or None)
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(chunk))
        container.mux(stream.encode(None))
    return path
