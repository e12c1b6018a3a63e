"""Routers per resource, and the helpers they share (error docs, track and page conversion, paging limits)."""

from __future__ import annotations

import math
from typing import Any, Sequence
from urllib.parse import quote

import orjson
from starlette.responses import Response

from api.schemas import ErrorBody, FilteredPage, Track
from api.services.errors import ApiError
from api.services.search import ScoredTrack, make_filter
from api.settings import Settings
from index import TrackFilter, TrackRecord
from muscall.catalog.indexing import COMPUTED_ATTRIBUTES

HIDDEN_ATTRIBUTES = COMPUTED_ATTRIBUTES  # computed by the server for its own use, not for clients
_DESCRIPTIONS = {400: "Bad request", 401: "Missing or wrong API key", 403: "Writes disabled (no API key set)",
                 404: "Unknown track", 409: "Conflict with the catalog", 413: "Upload too large",
                 416: "Range not satisfiable", 422: "Invalid input (field errors, unusable audio)",
                 503: "Service not ready or index not saved"}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, all with the ErrorBody shape."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


def audio_url(track_id: str) -> str:
    """URL of a track's audio stream."""
    return f"/tracks/{quote(track_id, safe='')}/audio"


def track_out(record: TrackRecord) -> Track:
    """A catalog record as the API shows it."""
    attrs = {k: _json_safe(v) for k, v in record.attributes.items() if k not in HIDDEN_ATTRIBUTES}
    return Track(track_id=record.track_id, title=record.title, duration=record.duration, tags=list(record.tags),
                 attributes=attrs, audio_url=audio_url(record.track_id))


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats (which JSON cannot carry) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def page_out(items: Sequence[ScoredTrack], k: int, offset: int, took_ms: float, query: str | None,
             cached: bool | None, moments: bool, reading: dict[str, Any] | None = None) -> Response:
    """A page of search results as a ``SearchResponse`` JSON body, built as plain dicts and serialised by orjson
    (pydantic models cost ~25 validations per page; orjson writes non-finite floats as null, as _json_safe does)."""
    hits = [{"rank": offset + i + 1, "score": round(item.score, 6), "track": _track_dict(item.track),
             "moment": vars(item.moment) if item.moment is not None else None} for i, item in enumerate(items)]
    page = {"query": query, "k": k, "offset": offset, "next_offset": offset + k if len(hits) == k else None,
            "results": hits, "took_ms": round(took_ms, 3), "cached_query": cached, "moments_available": moments,
            "reading": reading}
    return Response(orjson.dumps(page), media_type="application/json")


def _track_dict(record: TrackRecord) -> dict[str, Any]:
    """``track_out`` as a plain dict."""
    return {"track_id": record.track_id, "title": record.title, "duration": record.duration,
            "tags": list(record.tags), "audio_url": audio_url(record.track_id),
            "attributes": {k: v for k, v in record.attributes.items() if k not in HIDDEN_ATTRIBUTES}}


def check_page(settings: Settings, k: int, offset: int) -> None:
    """422 when k or offset pass this server's limits."""
    serve = settings.serve
    if k > serve.max_k:
        raise ApiError(422, f"k={k} is more than this server returns per page (serve.max_k={serve.max_k}); ask for "
                            "fewer results and page with offset")
    if offset > serve.max_offset:
        raise ApiError(422, f"offset={offset} is deeper than this server pages (serve.max_offset="
                            f"{serve.max_offset}); narrow the search with filters instead")


def page_filter(settings: Settings, page: FilteredPage) -> TrackFilter | None:
    """Check the page against this server's limits; the page's filter (None when it sets none)."""
    check_page(settings, page.k, page.offset)
    return make_filter(page.genre, split_list(page.tags_any), None, page.duration_min, page.duration_max)


def split_list(text: str | None) -> list[str] | None:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``; None for nothing."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None
