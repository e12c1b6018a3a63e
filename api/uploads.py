"""Uploaded clips: size-checked bytes decoded to mono at the model's rate, every failure a clear 4xx."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from api.services.errors import ApiError
from api.services.state import ServiceState
from muscall.audio.decode import audio_info, decode
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
            info = audio_info(data, name)
        except AudioLoadError:
            info = None  # decode below names the problem
        if info is not None:
            fmt = info.format
            if info.duration > serve.max_clip_seconds:
                raise AudioLoadError(name, f"too long: {info.duration:.1f} s, this server takes clips up to "
                                           f"{serve.max_clip_seconds:g} s (serve.max_clip_seconds); cut the clip")
            if info.frames * info.channels > MAX_DECODED_SAMPLES:
                raise AudioLoadError(name, f"decodes to {info.frames} frames x {info.channels} channels at "
                                           f"{info.sample_rate} Hz, more than this server handles; send a shorter "
                                           "clip, fewer channels or a lower sample rate")
    wave = decode(data, replace(cfg, max_seconds=min(cfg.max_seconds, serve.max_clip_seconds)), name)
    return wave, fmt
