"""Client errors of the service's work, each with the HTTP status the API answers it with (no HTTP code here)."""

from __future__ import annotations


class ApiError(Exception):
    """A client error with its HTTP status and message."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


class NotFound(ApiError):
    """404: an unknown track id (or file)."""

    def __init__(self, detail: str):
        super().__init__(404, detail)


class Conflict(ApiError):
    """409: the request clashes with the catalog's state (e.g. a track id already present)."""

    def __init__(self, detail: str):
        super().__init__(409, detail)
