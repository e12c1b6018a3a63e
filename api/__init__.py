"""The muscall HTTP service: ``create_app(Settings(index_dir=..., checkpoint=...))``.

Two rooms: ``api.services`` is the domain work (load the model and index, embed, search, add/remove, tag,
score), callable without HTTP; the rest of ``api`` is HTTP plumbing: the app and its lifespan (``api.app``),
routers per resource (``api.routers``), the dependencies that reach the loaded state (``api.deps``), schemas,
error handlers, middleware (``api.limits``, ``api.metrics``), uploads and Range streaming, and a plain HTML/JS
page at ``/`` (``api/static``). The blocking domain calls run in a thread pool.
"""

from api.app import create_app
from api.settings import Settings

__all__ = ["Settings", "create_app"]
