"""Streaming a file with HTTP Range support (RFC 9110 single byte ranges): 200, 206 or 416."""

from __future__ import annotations

import mimetypes
import os
import re
from pathlib import Path
from typing import Iterator

from fastapi.responses import StreamingResponse

from api.services.errors import ApiError

CHUNK = 256 * 1024
_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
_EXTRA_TYPES = {".flac": "audio/flac", ".ogg": "audio/ogg", ".opus": "audio/ogg", ".oga": "audio/ogg",
                ".mp3": "audio/mpeg", ".wav": "audio/wav", ".aiff": "audio/aiff", ".aif": "audio/aiff",
                ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac", ".wma": "audio/x-ms-wma",
                ".webm": "audio/webm", ".alac": "audio/mp4"}


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive of a ``bytes=`` Range header; None to send the whole file.

    Multi-range requests and other units are answered with the whole file (a server may ignore Range).
    Raises ApiError(416) for a malformed or unsatisfiable byte range.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _RANGE.match(spec)
    if not match or (not match.group(1) and not match.group(2)):
        raise _unsatisfiable(size, f"malformed Range header {header!r}; use e.g. 'bytes=0-1023'")
    first, last = match.group(1), match.group(2)
    if not first:  # suffix range: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise _unsatisfiable(size, f"Range {header!r} asks for no bytes of a {size}-byte file")
        return max(0, size - n), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        raise _unsatisfiable(size, f"Range {header!r} ends before it starts")
    if start >= size:
        raise _unsatisfiable(size, f"Range {header!r} starts past the end of the {size}-byte file")
    return start, end


def _unsatisfiable(size: int, detail: str) -> ApiError:
    return ApiError(416, detail, headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"})


def media_type(path: Path) -> str:
    """Content type from the file extension (audio/* for audio files)."""
    return _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def file_response(path: Path, range_header: str | None) -> StreamingResponse:
    """The file, or the requested byte range of it (206 with Content-Range)."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise ApiError(404, f"the audio file of this track is missing on the server ({err.strerror}); "
                            "re-add the track") from err
    span = parse_range(range_header, size)
    start, end = span if span is not None else (0, size - 1)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(max(0, end - start + 1))}
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return StreamingResponse(_read(path, start, end), status_code=206 if span is not None else 200,
                             media_type=media_type(path), headers=headers)


def _read(path: Path, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``start..end`` (inclusive) of a file in chunks (a sync iterator: Starlette runs it in a thread)."""
    remaining = end - start + 1
    with open(path, "rb") as fh:
        fh.seek(start, os.SEEK_SET)
        while remaining > 0:
            chunk = fh.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
