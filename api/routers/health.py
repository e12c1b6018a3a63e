"""GET /healthz (alive), GET /readyz (model and index loaded) and GET /metrics (Prometheus)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import LoadedStateDep
from api.errors import error_body
from api.routers import error_responses
from api.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Health:
    """The process is up and answering."""
    return Health()


@router.get("/readyz", response_model=Ready, summary="Readiness", responses=error_responses(503))
async def readyz(state: LoadedStateDep) -> Ready | JSONResponse:
    """Ready when the model and the index are loaded (503 before)."""
    if state is None:
        return JSONResponse(error_body("not ready: the model and index are still loading"), 503)
    catalog = state.catalog
    return Ready(tracks=catalog.ntotal, dim=catalog.dim, factory=catalog.factory,
                 model_sha256=state.checkpoint.sha256, writable=state.settings.writable,
                 moments=state.windows_available, heads=state.scorer.heads is not None,
                 label_sets=sorted(state.label_sets), uptime_s=round(time.time() - state.started_at, 3))


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def metrics(request: Request, state: LoadedStateDep) -> Response:
    """Request counts and latencies per route, index size, query-cache hits and misses."""
    live = state.snapshot() if state is not None else {}
    batcher = getattr(request.app.state, "batcher", None)
    if live and batcher is not None:
        live.update(search_batches=batcher.batches, search_batched_queries=batcher.queries)
    return Response(request.app.state.metrics.render(live), media_type=CONTENT_TYPE_LATEST)
