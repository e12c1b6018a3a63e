"""POST /search/text and POST /search/audio."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import StateDep, read_access
from api.routers import check_page, error_responses, page_filter, page_out
from api.schemas import FilteredPage, SearchResponse, TextSearchRequest
from api.services.errors import ApiError
from api.services.batcher import SearchBatcher, TextQuery
from api.services.search import embed_wave, make_filter, search
from api.services.state import ServiceState
from api.uploads import read_clip

router = APIRouter(prefix="/search", tags=["search"], dependencies=[Depends(read_access)],
                   responses=error_responses(400, 401, 422, 503))


@router.post("/text", response_model=SearchResponse, summary="Search tracks by a text description")
async def search_text(body: TextSearchRequest, state: StateDep, request: Request) -> Response:
    """Rank the catalog by similarity with a natural-language query, with optional filters and paging.

    Repeated queries reuse a cached embedding; concurrent queries are embedded and searched together. With
    ``with_moment`` each result carries the start and end (seconds) of its best-matching window when the
    server holds window embeddings.
    """
    t0 = time.perf_counter()
    limit = state.settings.serve.max_query_chars
    if len(body.query) > limit:
        raise ApiError(422, f"the query is {len(body.query)} characters; this server takes at most {limit} "
                            "(serve.max_query_chars): shorten it")
    check_page(state.settings, body.k, body.offset)
    f = body.filters
    flt = make_filter(f.genre, f.tags_any, f.tags_all, f.duration_min, f.duration_max, f.attributes) if f else None
    query = TextQuery(body.query, body.k, body.offset, flt, body.with_moment)
    answer = await search_batcher(request.app, state).search(query)
    return page_out(answer.items, body.k, body.offset, (time.perf_counter() - t0) * 1000, body.query, answer.cached,
                    state.windows_available, answer.reading)


def search_batcher(app: FastAPI, state: ServiceState) -> SearchBatcher:
    """The app's text-search batcher for the loaded ``state``, made on first use (the lifespan closes it)."""
    batcher = getattr(app.state, "batcher", None)
    if batcher is None or batcher.state is not state:  # first use, or the state was replaced
        if batcher is not None:
            batcher.close()
        serve = state.settings.serve
        batcher = app.state.batcher = SearchBatcher(state, serve.search_batch, serve.search_batch_wait_ms)
    return batcher


@router.post("/audio", response_model=SearchResponse, summary="Search tracks that sound like an uploaded clip",
             responses=error_responses(413))
async def search_audio(
    state: StateDep,
    file: Annotated[UploadFile, File(description="an audio clip: wav, flac, ogg or mp3")],
    page: Annotated[FilteredPage, Form()],
    with_moment: Annotated[bool, Form()] = False,
) -> Response:
    """Embed the clip through the model's full-track windows and rank the catalog by similarity with it."""
    t0 = time.perf_counter()
    flt = page_filter(state.settings, page)
    clip = await read_clip(state, file)
    emb = await run_in_threadpool(embed_wave, state, clip.wave)
    items = await run_in_threadpool(search, state, emb.tracks[0], page.k, page.offset, flt, with_moment)
    return page_out(items, page.k, page.offset, (time.perf_counter() - t0) * 1000, None, None,
                    state.windows_available)
