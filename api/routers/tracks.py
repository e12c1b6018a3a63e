"""GET /tracks/{id}, /tracks/{id}/audio (HTTP Range), /tracks/{id}/similar ("more like this") and /duplicates.

A track's ``attributes`` include ``extra``: the fields of its source manifest row that muscall does not know.

Track ids may contain slashes (a folder catalog uses relative paths), so the routes take the id as a path;
clients should URL-encode it (``jazz%2Fsong1.flac``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path as PathParam, Query
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import StateDep, read_access
from api.ranges import file_response
from api.routers import error_responses, page_filter, page_out, track_out
from api.schemas import Duplicate, DuplicatesResponse, FilteredPage, SearchResponse, Track
from api.services.duplicates import track_duplicates
from api.services.errors import NotFound
from api.services.search import get_track, search, track_vector
from index.fingerprint import DEFAULT_THRESHOLD as FINGERPRINT_THRESHOLD

router = APIRouter(prefix="/tracks", tags=["tracks"], dependencies=[Depends(read_access)],
                   responses=error_responses(401, 404, 422, 503))
TrackId = Annotated[str, PathParam(description="the track's id (URL-encoded)", examples=["jazz/song1.flac"])]


@router.get("/{track_id:path}/similar", response_model=SearchResponse, summary="More like this track",
            responses=error_responses(400, 409))
async def similar(
    track_id: TrackId,
    state: StateDep,
    page: Annotated[FilteredPage, Query()],
) -> Response:
    """Tracks closest to this one in the joint embedding space (the track itself left out)."""
    t0 = time.perf_counter()
    flt = page_filter(state.settings, page)
    record = await run_in_threadpool(get_track, state, track_id)
    vec = await run_in_threadpool(track_vector, state, record)
    items = await run_in_threadpool(search, state, vec, page.k, page.offset, flt, False, record.track_id)
    return page_out(items, page.k, page.offset, (time.perf_counter() - t0) * 1000, record.track_id, None,
                    state.windows_available)


@router.get("/{track_id:path}/duplicates", response_model=DuplicatesResponse,
            summary="Other copies of this recording (re-encoded, other gain, trimmed)")
async def duplicates(
    track_id: TrackId,
    state: StateDep,
    threshold: Annotated[float, Query(ge=-1.0, le=1.0, description="lowest pair score (cosine)")] = 0.95,
    k: Annotated[int, Query(ge=1, le=100, description="nearest tracks checked")] = 10,
    fingerprint_threshold: Annotated[float | None, Query(ge=0.0, le=1.0, description=(
        f"lowest fingerprint match (1 - bit error rate) of one recording; default {FINGERPRINT_THRESHOLD}"))] = None,
    kind: Annotated[Literal["copy", "version", "all"], Query(description=(
        "copy: the same master only; version: other masters or mixes of the same performance; all: both"))] = "all",
) -> DuplicatesResponse:
    """Tracks whose vectors (or best window alignment, when window vectors are loaded) match this one's, confirmed
    by the recording fingerprints when the service's embedding catalog (``--windows``) stores them."""
    pairs = await run_in_threadpool(track_duplicates, state, track_id, threshold, k, fingerprint_threshold, kind)
    others = [p.track_b if p.track_a == track_id else p.track_a for p in pairs]
    ids = await run_in_threadpool(state.catalog.db.id_map, others)  # ids_for sorts: pairs must keep their order
    records = await run_in_threadpool(state.catalog.tracks, [ids.get(o, -1) for o in others])
    return DuplicatesResponse(track_id=track_id, threshold=threshold, duplicates=[
        Duplicate(track=track_out(r), score=p.score, track_cosine=p.track_cosine, window_cosine=p.window_cosine,
                  fingerprint=p.fingerprint, offset_s=p.offset_s, overlap_s=p.overlap_s,
                  level_spread_db=p.level_spread_db, kind=p.kind)
        for p, r in zip(pairs, records) if r is not None])


@router.get("/{track_id:path}/audio", summary="Stream a track's audio (HTTP Range supported)",
            response_class=StreamingResponse, responses={
                200: {"description": "the whole file", "content": {"audio/*": {}}},
                206: {"description": "the requested byte range", "content": {"audio/*": {}}},
                **error_responses(416)})
async def audio(track_id: TrackId, state: StateDep,
                range: Annotated[str | None, Header(description="e.g. bytes=0-1023")] = None) -> StreamingResponse:
    """The track's audio file; ``Range: bytes=a-b`` gives 206 with Content-Range, a bad range 416."""
    record = await run_in_threadpool(get_track, state, track_id)
    if not record.path:
        raise NotFound(f"track {track_id!r} has no audio file on this server")
    return file_response(Path(record.path), range)


@router.get("/{track_id:path}", response_model=Track, summary="A track's metadata")
async def track(track_id: TrackId, state: StateDep) -> Track:
    """Title, duration, tags and attributes of a track."""
    return track_out(await run_in_threadpool(get_track, state, track_id))
