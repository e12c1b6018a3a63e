"""Atomic, verifiable file writes (temp file + fsync + rename) and versioned-JSON reads, for index and muscall alike.

A crash never leaves half a file: every write goes to a temp file beside the target, is flushed, and is renamed over
it. Kept free of muscall and torch imports, so the catalog can use it; muscall imports it from here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


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
        fsync_file(tmp_path)
        os.replace(tmp_path, path)
        fsync_dir(path.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


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
    fsync_dir(path.parent)
    if old.exists():
        shutil.rmtree(old)


def write_content_addressed(directory: Path, stem: str, suffix: str,
                            write: Callable[[Path], None]) -> tuple[str, str, int]:
    """Write a file through ``write(tmp)``, then rename it to ``<stem>.<sha16><suffix>``.

    Returns:
        (file name, sha256 hex, size in bytes). Content-addressed names let a new snapshot be written beside
        the old one, so a crash before the manifest is replaced leaves the old snapshot intact.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        fsync_file(tmp_path)
        digest = sha256_file(tmp_path)
        name = f"{stem}.{digest[:16]}{suffix}"
        size = tmp_path.stat().st_size
        os.replace(tmp_path, directory / name)
        fsync_dir(directory)
        return name, digest, size
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fsync_file(path: Path) -> None:
    """Flush a file's bytes to disk."""
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry (the rename) to disk, where the OS allows it."""
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


def read_json_object(path: Path, *, what: str, fix: str, missing_fix: str | None = None,
                     error: type[Exception] = ValueError) -> dict[str, Any]:
    """Parse the JSON object in ``path``; ``error`` names the file, what is wrong and the fix.

    Args:
        what: what a folder holding this file is, for the missing-file message (e.g. ``"saved catalog"``).
        fix: what to do about an unreadable or malformed file.
        missing_fix: what to do when the file is missing (default ``fix``).
        error: the exception class raised (index raises CatalogError, muscall MuscallError).
    """
    if not path.is_file():
        raise error(f"{path.parent}: no {path.name}, so no {what} there; {missing_fix or fix}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError covers JSONDecodeError and bad UTF-8
        raise error(f"{path}: unreadable or not valid JSON ({exc}); {fix}") from exc
    if not isinstance(data, dict):
        raise error(f"{path}: holds a JSON {type(data).__name__}, not an object; {fix}")
    return data


def read_versioned_json(path: Path, *, version: int, what: str, fix: str, fmt: str | None = None,
                        version_key: str = "format_version", missing_fix: str | None = None,
                        error: type[Exception] = ValueError) -> dict[str, Any]:
    """Parse a JSON object that carries its format (optional) and a format version from 1 to ``version``.

    Raises ``error`` naming the file and the fix when it is missing, unreadable, of another format, or of a
    version this code cannot read (see ``read_json_object`` for the arguments).
    """
    data = read_json_object(path, what=what, fix=fix, missing_fix=missing_fix, error=error)
    if fmt is not None and data.get("format") != fmt:
        raise error(f"{path}: format is {data.get('format')!r}, expected {fmt!r}; {fix}")
    found = data.get(version_key)
    if isinstance(found, bool) or not isinstance(found, int) or not 1 <= found <= version:
        raise error(f"{path}: format version {found!r} is not supported (this code reads 1 to {version}); "
                    f"{fix}")
    return data
