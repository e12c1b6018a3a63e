"""POST /tracks (upload + metadata -> embedded and indexed) and DELETE /tracks/{id}; both need the API key."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep, require_api_key
from api.routers import HIDDEN_ATTRIBUTES, error_responses, split_list, track_out
from api.schemas import Removed, Track
from api.services.errors import ApiError
from api.services.updates import add_track, remove_track
from api.uploads import read_clip

router = APIRouter(prefix="/tracks", tags=["admin"], dependencies=[Depends(require_api_key)],
                   responses=error_responses(401, 403, 409, 422, 503))


@router.post("", status_code=201, response_model=Track, summary="Add a track", responses=error_responses(413))
async def add(
    state: StateDep,
    file: Annotated[UploadFile, File(description="the track's audio: wav, flac, ogg or mp3")],
    track_id: Annotated[str | None, Form(min_length=1, max_length=512, description="default: a new id")] = None,
    title: Annotated[str, Form(max_length=512)] = "",
    tags: Annotated[str | None, Form(max_length=4000, description="comma-separated tags")] = None,
    attributes: Annotated[str | None, Form(max_length=20000, description='JSON object, e.g. {"genre": "jazz"}')] = None,
) -> Track:
    """Embed the upload, add it to the index and save the index; the track is searchable when this returns."""
    attrs = _parse_attributes(attributes)
    if track_id is not None and not track_id.strip():
        raise ApiError(422, "track_id is blank; leave it out to get a generated id")
    clip = await read_clip(state, file)
    record = await run_in_threadpool(add_track, state, clip.data, clip.wave, clip.format,
                                     track_id.strip() if track_id else None, title.strip(),
                                     split_list(tags) or [], attrs)
    return track_out(record)


@router.delete("/{track_id:path}", response_model=Removed, summary="Remove a track", responses=error_responses(404))
async def remove(track_id: str, state: StateDep) -> Removed:
    """Remove the track from the index (for good: it never comes back in results) and save the index."""
    record = await run_in_threadpool(remove_track, state, track_id)
    return Removed(track_id=record.track_id)


def _parse_attributes(text: str | None) -> dict[str, Any]:
    """The attributes form field: a JSON object of scalars or lists of scalars."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError) as err:
        raise ApiError(422, f"attributes is not valid JSON ({getattr(err, 'msg', err)}); send an object like "
                            '{"genre": "jazz"}') from err
    if not isinstance(value, dict):
        raise ApiError(422, 'attributes must be a JSON object like {"genre": "jazz"}')
    for key in HIDDEN_ATTRIBUTES:
        if key in value:
            raise ApiError(422, f"attributes.{key} is computed by the server; leave it out")
    scalar = (str, int, float, bool, type(None))
    for key, v in value.items():
        items = v if isinstance(v, list) else [v]
        if not all(isinstance(x, scalar) for x in items):
            raise ApiError(422, f"attributes.{key} must be a string, number, bool or a list of them")
    return value


def _no_constant(name: str) -> Any:
    """Refuse NaN and Infinity, which JSON does not allow."""
    raise ValueError(f"{name} is not a JSON number")
