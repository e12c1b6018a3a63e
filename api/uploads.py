"""Uploaded clips: size-checked bytes decoded to mono at the model's rate, every failure a clear 4xx."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
import soundfile as sf
from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from api.services.errors import ApiError
from api.services.state import ServiceState
from muscall.audio.decode import decode
from muscall.errors import AudioLoadError

MAX_DECODED_SAMPLES = 64_000_000  # frames x channels before the downmix (256 MB of float32)
_READ_CHUNK = 1 << 20


@dataclass
class Clip:
    """A decoded upload."""

    data: bytes
    name: str
    wave: np.ndarray  # mono float32 at the model's sample rate
    format: str  # container as libsndfile names it (WAV, FLAC, OGG, MP3, ...)


async def read_clip(state: ServiceState, upload: UploadFile) -> Clip:
    """Read (within ``serve.max_upload_mb``) and decode an uploaded audio file; 413 / 422 with the reason."""
    limit = int(state.settings.serve.max_upload_mb * 1024 * 1024)
    name = upload.filename or "upload"
    chunks, size = [], 0
    while chunk := await upload.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"{name}: the file is larger than {state.settings.serve.max_upload_mb:g} MB "
                                "(serve.max_upload_mb); send a shorter or more compressed clip")
        chunks.append(chunk)
    data = b"".join(chunks)
    wave, fmt = await run_in_threadpool(decode_clip, state, data, name)
    return Clip(data, name, wave, fmt)


def decode_clip(state: ServiceState, data: bytes, name: str) -> tuple[np.ndarray, str]:
    """Mono float32 at the model's rate and the container name; AudioLoadError (422) when unusable."""
    cfg, serve = state.audio_cfg, state.settings.serve
    fmt = ""
    if data:
        try:
            with sf.SoundFile(io.BytesIO(data)) as fh:
                fmt = str(fh.format)
                seconds = fh.frames / fh.samplerate if fh.samplerate > 0 else 0.0
                if seconds > serve.max_clip_seconds:
                    raise AudioLoadError(name, f"too long: {seconds:.1f} s, this server takes clips up to "
                                               f"{serve.max_clip_seconds:g} s (serve.max_clip_seconds); cut the clip")
                if fh.frames * fh.channels > MAX_DECODED_SAMPLES:
                    raise AudioLoadError(name, f"decodes to {fh.frames} frames x {fh.channels} channels at "
                                               f"{fh.samplerate} Hz, more than this server handles; send a shorter "
                                               "clip, fewer channels or a lower sample rate")
        except (sf.SoundFileError, RuntimeError, TypeError, ValueError):
            pass  # decode below names the problem
    wave = decode(data, replace(cfg, max_seconds=min(cfg.max_seconds, serve.max_clip_seconds)), name)
    return wave, fmt
