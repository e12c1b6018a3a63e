"""Atomic, verifiable file writes: temp file + fsync + rename, so a crash never leaves half a file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success fsync it and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def replace_dir(tmp: str | Path, path: str | Path) -> None:
    """Move folder ``tmp`` onto ``path``; an existing ``path`` is kept as ``path.old`` until the move succeeded."""
    tmp, path = Path(tmp), Path(path)
    old = path.with_name(path.name + ".old")
    if old.exists() and not path.exists():  # a crash between the two renames last time: .old is the live copy
        os.replace(old, path)
    if old.exists():
        shutil.rmtree(old)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    if old.exists():
        shutil.rmtree(old)


def claim_run_folder(out: str | Path, settings: dict[str, Any], what: str, hint: str = "") -> None:
    """Record a resumable job's settings in ``out/parts/settings.json``, or check a started folder used the same.

    Raises MuscallError naming the first setting that differs, or when ``out`` holds something else.
    """
    from muscall.errors import MuscallError

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


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
