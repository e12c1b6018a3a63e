"""One JSON error shape for every client error, and the handlers that map library errors onto it.

Every error body is ``{"detail": "<what is wrong and how to fix it>", "errors": [...] | null}``: user-caused
library errors (``MuscallError``, ``AudioLoadError``, ``CatalogError``) become 4xx responses, never 500s.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.services.errors import ApiError
from index import CatalogError
from muscall.errors import AudioLoadError, MuscallError


def error_body(detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"detail": detail, "errors": errors}


def _validation_summary(errors: list[dict[str, Any]]) -> str:
    """``"body.k: Input should be less than or equal to 1000; ..."`` from pydantic errors."""
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more


def _plain(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON-safe copies of pydantic errors (the input and context may hold arbitrary objects)."""
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in errors]


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into ``error_body`` responses."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.detail), exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(str(exc.detail)), exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        return JSONResponse(error_body(_validation_summary(errors), _plain(errors)), 422)

    @app.exception_handler(AudioLoadError)
    async def audio_error(_: Request, exc: AudioLoadError) -> JSONResponse:
        return JSONResponse(error_body(f"{exc.path}: {exc.reason}"), 422)

    @app.exception_handler(CatalogError)
    async def catalog_error(_: Request, exc: CatalogError) -> JSONResponse:
        return JSONResponse(error_body(str(exc)), 400)

    @app.exception_handler(MuscallError)
    async def muscall_error(_: Request, exc: MuscallError) -> JSONResponse:
        return JSONResponse(error_body(str(exc)), 400)
