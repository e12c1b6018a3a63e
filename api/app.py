"""The FastAPI application: ``create_app(settings)`` wires routers, middleware, error handlers and the web page.

The model, tokenizer, index and metadata DB load once in the lifespan (``api.services.state.load_state``)
and reach the routes through ``api.deps.loaded_state``; tests override that dependency to share one state.
"""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.errors import error_body, install_error_handlers
from api.limits import BodyLimitMiddleware
from api.metrics import Metrics, MetricsMiddleware
from api.routers import admin, health, score, search, tags, tracks
from api.routers.search import search_batcher
from api.services.state import ServiceState, configure_threads, load_state
from api.settings import Settings
from api.workers import WorkerHeaderMiddleware

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
DESCRIPTION = """Natural-language music search over a FAISS catalog with a MusCALL-style audio-text model.

Search by text or by an audio clip, get "more like this", zero-shot tags and quality / alignment scores;
stream tracks with HTTP Range. Adding and removing tracks needs the server's API key (`X-API-Key`).
Every error is JSON: `{"detail": "what is wrong and how to fix it", "errors": [...]}`.
"""


def create_app(settings: Settings, loader: Callable[[Settings], ServiceState] = load_state) -> FastAPI:
    """The service app for ``settings``; its lifespan gets the service state from ``loader`` and closes it at
    shutdown (``muscall serve`` passes a loader that hands over the state it loaded before binding)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await run_in_threadpool(loader, settings)
        app.state.service = service
        try:
            search_batcher(app, service)  # its thread starts now (and bad batch settings fail here)
            gc.collect()
            gc.freeze()  # the loaded model and index are never garbage: keep them out of every later collection
            yield
        finally:
            app.state.service = None
            stopped = app.state.batcher is None or app.state.batcher.close()
            app.state.batcher = None
            if stopped:
                service.close()
            else:  # a batch still runs: leave the index open for it (the process is exiting anyway)
                log.warning("the search batcher did not stop within its timeout; leaving the index open for it")

    app = FastAPI(title="muscall", version=_version(), description=DESCRIPTION, lifespan=lifespan)
    metrics = Metrics()
    app.state.settings, app.state.metrics, app.state.service, app.state.batcher = settings, metrics, None, None
    install_error_handlers(app)
    _install_fallback_handler(app)
    for module in (search, tracks, admin, tags, score, health):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes)
    app.add_middleware(WorkerHeaderMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: counts 413s too
    return app


def app_from_env() -> FastAPI:
    """App factory for uvicorn worker processes (``muscall serve --workers N``)."""
    settings = Settings.from_env()
    configure_threads(settings.serve.threads_per_request)
    return create_app(settings)


def _install_fallback_handler(app: FastAPI) -> None:
    """A bug still answers JSON (500) and is logged with its traceback."""

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(f"internal error ({type(exc).__name__}); the server log has details"), 500)


def _version() -> str:
    """The installed muscall version."""
    try:
        from importlib.metadata import version
        return version("muscall")
    except Exception:  # noqa: BLE001 - not installed (source checkout)
        return "0.0.0"
