"""Job plans shared by the catalog jobs: a JSON file of settings that a resumed run must match, and waiting."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from index.fileio import atomic_write_json, read_json_object, read_versioned_json
from muscall.errors import MuscallError

PLAN_VERSION = 1
_PLAN_FIX = "choose a new --out folder, or delete this one and start again"


def check_or_write_plan(path: Path, fmt: str, settings: dict[str, Any], on_start: Callable[[], None] | None = None,
                        extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create the plan (with ``extra`` fields), or check that an existing one has the same settings; return it."""
    if path.exists():
        plan = read_plan(path, fmt, settings)
    else:
        plan = {"format": fmt, "version": PLAN_VERSION, "settings": settings, "complete": False, **(extra or {})}
        atomic_write_json(path, plan)
    if on_start is not None:
        on_start()
    return plan


def read_plan(path: Path, fmt: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a plan; with ``settings``, raise MuscallError naming every setting that differs."""
    plan = read_versioned_json(path, version=PLAN_VERSION, fmt=fmt, version_key="version", what="job plan",
                               fix=_PLAN_FIX, error=MuscallError)
    if settings is not None:
        old = plan.get("settings", {})
        diff = sorted(k for k in set(old) | set(settings) if old.get(k) != _jsonable(settings.get(k)))
        if diff:
            details = "; ".join(f"{k}: was {_short(old.get(k))}, now {_short(settings.get(k))}" for k in diff)
            raise MuscallError(f"{path.parent}: holds a job started with other settings ({details}); rerun with "
                               "the same inputs and options to resume, or choose a new --out")
    return plan


def same_settings(path: Path, fmt: str, settings: dict[str, Any]) -> bool:
    """Whether the plan at ``path`` was written with exactly these settings."""
    return read_plan(path, fmt).get("settings") == _jsonable(settings)


def mark_complete(path: Path, **extra: Any) -> None:
    """Flag the plan's job as finished (plus any summary fields)."""
    plan = read_json_object(path, what="job plan", fix=_PLAN_FIX, error=MuscallError)
    plan.update(extra, complete=True)
    atomic_write_json(path, plan)


def wait_for(paths: Sequence[Path], poll_seconds: float = 0.5) -> None:
    """Block until every path exists (other ranks signal completion with marker files)."""
    pending = [p for p in paths if not p.exists()]
    while pending:
        time.sleep(poll_seconds)
        pending = [p for p in pending if not p.exists()]


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
