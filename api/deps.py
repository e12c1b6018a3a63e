"""Dependencies: the loaded service state, settings, and the API-key checks.

Every route reaches the service state through ``loaded_state`` (directly, or through ``get_state``); tests share
one already loaded state by overriding it: ``app.dependency_overrides[loaded_state] = lambda: state``.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from api.services.errors import ApiError
from api.services.state import ServiceState
from api.settings import Settings

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey",
                              description="the key the server was started with (--api-key or MUSCALL_API_KEY)")


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


async def loaded_state(request: Request) -> ServiceState | None:
    """The model, index and caches the lifespan loaded (index at its newest save); None while still loading."""
    state = getattr(request.app.state, "service", None)
    if state is not None and state.behind():  # another worker's add or remove is seen by this request; the
        await run_in_threadpool(state.follow)  # reopen (a lock wait, an HNSW graph read) stays off the event loop
    return state


async def get_state(state: Annotated[ServiceState | None, Depends(loaded_state)]) -> ServiceState:
    """The loaded service state; 503 until the lifespan has loaded it."""
    if state is None:
        raise ApiError(503, "the service is still loading its model and index; retry in a moment (see /readyz)")
    return state


def require_api_key(settings: Annotated[Settings, Depends(get_settings)],
                    key: Annotated[str | None, Security(api_key_header)] = None) -> None:
    """Refuse a request without the right X-API-Key (403 when the server has no key, so writes are off)."""
    expected = settings.serve.api_key
    if not expected:
        raise ApiError(403, "this server has no API key, so adding and removing tracks is disabled; restart it "
                            "with --api-key (or MUSCALL_API_KEY) and send the key in the X-API-Key header")
    if not key:
        raise ApiError(401, "missing X-API-Key header; send the server's API key to use this endpoint",
                       headers={"WWW-Authenticate": "ApiKey"})
    if not hmac.compare_digest(key.encode("utf-8"), expected.encode("utf-8")):
        raise ApiError(401, "wrong API key in X-API-Key", headers={"WWW-Authenticate": "ApiKey"})


async def read_access(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> None:
    """Reads are open unless serve.protect_reads is set; then they need the API key too.

    The header is read directly (not through the security scheme) so the schema shows reads as open. The web
    page sends no key, so with protect_reads it needs a proxy in front that adds the header.
    """
    if settings.serve.protect_reads:
        require_api_key(settings, request.headers.get("X-API-Key"))


StateDep = Annotated[ServiceState, Depends(get_state)]
LoadedStateDep = Annotated[ServiceState | None, Depends(loaded_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
