"""The muscall HTTP service: ``create_app(Settings(index_dir=..., checkpoint=...))``.

Routers per resource (``api.routers``), resources loaded once in the lifespan (``api.state``) and reached
through dependencies (``api.deps``), the blocking work in ``api.service`` / ``api.analysis`` /
``api.updates`` run in a thread pool, and a plain HTML/JS page at ``/`` (``api/static``).
"""

from api.app import create_app
from api.settings import Settings

__all__ = ["Settings", "create_app"]
