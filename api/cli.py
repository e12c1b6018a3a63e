"""``muscall serve``: the HTTP search service (FastAPI + uvicorn) over a saved index and its checkpoint."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

PARENT_VAR = "MUSCALL_SERVE_PARENT_PID"  # set by `muscall serve --workers N` for its worker processes

EPILOG = """examples:
  muscall serve --catalog idx/ --checkpoint runs/tiny/checkpoints/best
  muscall serve --catalog idx/ --checkpoint CKPT --labels data/corpus/labels.json --windows cat/ --port 8080
  MUSCALL_API_KEY=s3cret muscall serve --catalog idx/ --checkpoint CKPT --host 0.0.0.0   # enables POST/DELETE /tracks
  muscall serve --catalog idx/ --checkpoint CKPT --workers 4 --set max_k=50 --set protect_reads=true

Open http://HOST:PORT/ for the search page and http://HOST:PORT/docs for the API. With --workers N the workers
share one memory-mapped copy of the index; a track added or removed through any worker is saved to the index
folder and seen by every worker from its next request on.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the search service (web page + JSON API)", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalog", required=True, help="saved index folder ('muscall index build --out')")
    p.add_argument("--checkpoint", required=True, help="the checkpoint that embedded the indexed catalog")
    p.add_argument("--host", default=None, help="bind address (127.0.0.1; 0.0.0.0 to serve the network)")
    p.add_argument("--port", type=int, default=None, help="port (8000)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (1)")
    p.add_argument("--api-key", default=None, help="key for POST/DELETE /tracks (default: $MUSCALL_API_KEY; "
                                                   "prefer the variable, a flag shows in the process list)")
    p.add_argument("--labels", default=None, help="label sets for /tag and the genre menu (labels.json or .txt)")
    p.add_argument("--heads", default=None, help="trained quality heads for /score ('muscall score train')")
    p.add_argument("--windows", default=None, help="embedding catalog ('muscall embed --out') whose window "
                                                   "vectors give each result's best moment")
    p.add_argument("--media", default=None, help="folder for uploaded tracks (default CATALOG/media)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a serve setting, e.g. max_upload_mb=50, max_k=100, query_cache_size=4096 (repeat)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def build_settings(args: argparse.Namespace):
    """Settings from the command line: ServeConfig defaults, then --set, then the explicit flags."""
    import yaml

    from api.settings import Settings
    from muscall.config import ConfigError, ServeConfig, from_dict

    raw: dict = {}
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r} must look like KEY=VALUE, e.g. --set max_k=100")
        raw[key.strip().removeprefix("serve.")] = yaml.safe_load(text) if text else ""
    serve = from_dict(ServeConfig, raw, "serve.")
    for name in ("host", "port", "workers"):
        if getattr(args, name) is not None:
            setattr(serve, name, getattr(args, name))
    serve.api_key = args.api_key or os.environ.get("MUSCALL_API_KEY") or serve.api_key
    if serve.workers < 1:
        raise ConfigError(f"--workers {serve.workers}: use 1 or more")
    if not 0 < serve.port < 65536:
        raise ConfigError(f"--port {serve.port}: use a port between 1 and 65535")
    if serve.tag_abstain_below is not None and not 0 <= serve.tag_abstain_below <= 1:
        raise ConfigError(f"--set tag_abstain_below={serve.tag_abstain_below}: use a probability in [0, 1]")
    return Settings(index_dir=args.catalog, checkpoint=args.checkpoint, serve=serve, labels=args.labels,
                    heads=args.heads, windows_dir=args.windows, media_dir=args.media, device=args.device)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.services.state import configure_threads, load_state
    from api.settings import ENV_VAR

    settings = build_settings(args)
    serve = settings.serve
    configure_threads(serve.threads_per_request)
    state = load_state(settings)  # before binding: a bad path fails here with one clear line, not in a lifespan
    if serve.workers == 1:  # the app serves this state and closes it at shutdown (uvicorn re-raises SIGTERM)
        uvicorn.run(create_app(settings, loader=lambda _: state), host=serve.host, port=serve.port,
                    log_level=args.log_level)
        return 0
    state.close()  # each worker maps the index in its lifespan (the pages are shared)
    os.environ[ENV_VAR] = settings.to_json()
    os.environ[PARENT_VAR] = str(os.getpid())  # uvicorn workers die with this process (see worker_app)
    uvicorn.run("api.cli:worker_app", factory=True, host=serve.host, port=serve.port, workers=serve.workers,
                log_level=args.log_level)
    return 0


def worker_app() -> FastAPI:
    """App factory of a ``--workers N`` worker: it dies with ``muscall serve`` (uvicorn workers do not)."""
    from api.app import app_from_env
    from muscall.utils.processes import die_with_parent

    die_with_parent(int(os.environ[PARENT_VAR]))
    return app_from_env()
