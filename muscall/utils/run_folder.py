"""Resumable job folders: the settings a started run recorded, which a resumed run must match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from index.fileio import atomic_write_json
from muscall.errors import MuscallError


def claim_run_folder(out: str | Path, settings: dict[str, Any], what: str, hint: str = "") -> None:
    """Record a resumable job's settings in ``out/parts/settings.json``, or check a started folder used the same.

    Raises MuscallError naming the first setting that differs, or when ``out`` holds something else.
    """
    out = Path(out)
    marker = out / "parts" / "settings.json"
    wanted = json.loads(json.dumps(settings))  # tuples -> lists, as stored
    if marker.is_file():
        found = json.loads(marker.read_text())
        diff = [k for k in wanted if found.get(k) != wanted[k]]
        if diff:
            k = diff[0]
            raise MuscallError(f"'{out}' was started with {k}={found.get(k)!r}, not {wanted[k]!r}; rerun with the "
                               f"same settings{hint} to resume, or choose a new --out folder")
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MuscallError(f"'{out}' is not empty and holds no {what}; choose a new or empty --out folder")
    else:
        atomic_write_json(marker, wanted)
