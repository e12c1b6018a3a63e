"""Saved catalogs: an index file, a metadata snapshot and a manifest, written atomically and verified on load.

    save_catalog(cat, "out/index")
    cat = open_catalog("out/index", expected_dim=512)

Layout::

    manifest.json                 format version, dim, factory, model hash, counts, tuned parameter, files
    generation                    "<number of saves> <manifest sha256>", replaced after the manifest
    index.<sha16>.faiss           the FAISS index (ids are the internal track ids)
    metadata.<sha16>.sqlite       SQLite snapshot of the tracks, tags and attributes

Data files are content-addressed and the manifest is replaced last, so an interrupted save leaves the previous
snapshot loadable; files no manifest refers to are deleted after the new manifest is committed.

Several processes may share one folder (the API service, ``muscall index add/remove``, ``muscall tag --write-db``):
save holds an exclusive ``flock`` on ``<dir>/.lock`` and load a shared one, and a catalog remembers the sha256 of
the manifest it loaded or last saved, so a save over a manifest another process has since replaced is refused
instead of silently discarding that process's changes. ``edit_catalog`` is the way for several processes to
write one folder: it loads the newest save under the exclusive lock, so no process's change is lost, and saves the
next generation; readers notice a new generation by reading the small ``generation`` file (``generation_token``,
which ``index.live.LiveCatalog`` checks before each use).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from index.catalog import Catalog
from index.errors import CatalogError
from index.faiss_index import read_index, set_knob, write_index
from index.fileio import (atomic_write_json, atomic_write_text, read_versioned_json, sha256_file,
                          write_content_addressed)
from index.metadata import MetadataDB, make_work_dir
from index.tuning import TuneResult

FORMAT = "muscall-catalog-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
GENERATION = "generation"
LOCK = ".lock"
_ROLES = {"index": ("index", ".faiss"), "metadata": ("metadata", ".sqlite")}


def save_catalog(catalog: Catalog, directory: str | Path) -> Path:
    """Write index, metadata snapshot and manifest atomically to ``directory``; return the manifest path.

    Refused (CatalogError) when another process saved into ``directory`` after this catalog loaded or last
    saved it there: reload and apply the change again rather than overwrite that process's changes. A folder
    this catalog has never loaded from or saved to is simply (over)written.
    """
    if catalog.read_only:
        raise CatalogError("a catalog loaded with mmap=True cannot be saved; load it with mmap=False")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = str(directory.resolve())
    with catalog.frozen(), folder_lock(directory, exclusive=True):
        seen = catalog.manifest_digests.get(key)
        if seen is not None and manifest_digest(directory) != seen:
            raise CatalogError(f"{directory}: another process updated the index after this catalog was loaded; "
                               "saving would discard its changes. Reload the catalog (open_catalog) and apply "
                               "this change again")
        _save_unlocked(catalog, directory)
    return directory / MANIFEST


def _save_unlocked(catalog: Catalog, directory: Path) -> None:
    """Data files, then the manifest, then the generation file; drop files no manifest refers to (lock held)."""
    files = _write_data_files(catalog, directory)
    path = directory / MANIFEST
    atomic_write_json(path, _manifest_for(catalog, files))
    digest = sha256_file(path)
    catalog.manifest_digests[str(directory.resolve())] = digest
    atomic_write_text(directory / GENERATION, f"{generation_number(generation_token(directory)) + 1} {digest}\n")
    keep = {f["name"] for f in files.values()}
    for stem, suffix in _ROLES.values():
        for old in directory.glob(f"{stem}.*{suffix}"):
            if old.name not in keep:
                old.unlink(missing_ok=True)


@contextmanager
def edit_catalog(directory: str | Path, expected_dim: int | None = None,
                 expected_model_hash: str | None = None) -> Iterator[Catalog]:
    """A writable copy of the newest saved catalog, saved back as the next generation when the block succeeds.

    The folder stays locked exclusively from the load to the save, so writers in several processes take turns
    and each applies its change on top of the one before (none is lost); when the block raises, nothing is
    saved. The copy is closed on exit.
    """
    directory = Path(directory)
    read_manifest(directory)  # the "not a saved catalog" error, before creating a lock file
    with folder_lock(directory, exclusive=True):
        catalog = _load_unlocked(directory, mmap=False, expected_dim=expected_dim,
                                 expected_model_hash=expected_model_hash, verify=False)
        try:
            yield catalog
            _save_unlocked(catalog, directory)
        finally:
            catalog.close()


def generation_token(directory: Path) -> str | None:
    """The folder's ``generation`` file ("<saves> <manifest sha256>"): it changes with every save. None before
    the first save that wrote one. One small read (about 7 us), cheap enough to check before every request."""
    try:
        fd = os.open(directory / GENERATION, os.O_RDONLY)  # a third of open()'s cost; this runs per request
    except FileNotFoundError:
        return None
    try:
        return os.read(fd, 200).decode("ascii", "replace").strip()
    finally:
        os.close(fd)


def generation_number(token: str | None) -> int:
    """The save count at the head of a generation token (0 for None or an unreadable token)."""
    head = (token or "").split()[:1] or ["0"]
    return int(head[0]) if head[0].isdigit() else 0


def _write_data_files(catalog: Catalog, directory: Path) -> dict[str, dict[str, Any]]:
    """Write the index and metadata snapshot content-addressed; return their manifest entries by role."""
    files = {}
    for role, (stem, suffix) in _ROLES.items():
        writer = (lambda p: write_index(catalog.index, p)) if role == "index" else catalog.db.snapshot
        name, digest, size = write_content_addressed(directory, stem, suffix, writer)
        files[role] = {"name": name, "sha256": digest, "bytes": size}
    return files


def _manifest_for(catalog: Catalog, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The manifest describing ``catalog`` saved as ``files``."""
    total, live = catalog.db.counts()
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dim": catalog.dim, "metric": "inner_product", "factory": catalog.factory, "family": catalog.family,
        "model_hash": catalog.model_hash,
        "counts": {"vectors": int(catalog.index.ntotal), "tracks": total, "live": live,
                   "tombstones": catalog.n_tombstones},
        "tuned": catalog.tuned.to_dict() if catalog.tuned else None,
        "attribute_fields": list(catalog.db.attribute_fields),
        "files": files,
    }


@contextmanager
def folder_lock(directory: Path, exclusive: bool) -> Iterator[None]:
    """Hold ``flock`` on ``<directory>/.lock`` (exclusive for writers, shared for readers).

    A reader that cannot create the lock file (a read-only folder, which no one can save into) goes unlocked.
    """
    flags = os.O_RDWR | os.O_CREAT if exclusive else os.O_RDONLY | os.O_CREAT
    try:
        fd = os.open(directory / LOCK, flags, 0o666)
    except OSError:
        if exclusive or not directory.is_dir():
            raise
        fd = None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # closing releases the lock


def manifest_digest(directory: Path) -> str | None:
    """sha256 of the folder's manifest file, or None when it has none."""
    path = directory / MANIFEST
    return sha256_file(path) if path.exists() else None


def read_manifest(directory: Path) -> dict[str, Any]:
    """Parse and version-check a saved catalog's manifest."""
    path = directory / MANIFEST
    manifest = read_versioned_json(path, version=FORMAT_VERSION, fmt=FORMAT, what="saved catalog",
                                   fix="restore or rebuild the catalog (or upgrade muscall if a newer one wrote it)",
                                   missing_fix="build one with `muscall index build`", error=CatalogError)
    missing = [k for k in ("dim", "factory", "counts", "files", "model_hash") if k not in manifest]
    if missing:
        raise CatalogError(f"{path}: manifest lacks {missing}; rebuild the catalog")
    return manifest


def open_catalog(directory: str | Path, mmap: bool = False, expected_dim: int | None = None,
                 expected_model_hash: str | None = None, verify: bool = True) -> Catalog:
    """Load a saved catalog under a shared folder lock, verifying format, checksums, counts and dimension.

    With ``mmap`` the catalog is read-only: the index is memory-mapped (see ``faiss_index.read_index``) and the
    metadata snapshot opened read-only in place, so processes opening one folder share their pages.
    """
    directory = Path(directory)
    if not directory.is_dir():
        read_manifest(directory)  # raises the "not a saved catalog" error without creating the folder
    with folder_lock(directory, exclusive=False):
        catalog = _load_unlocked(directory, mmap=mmap, expected_dim=expected_dim,
                                 expected_model_hash=expected_model_hash, verify=verify)
        catalog.manifest_digests[str(directory.resolve())] = manifest_digest(directory)
    return catalog


def _load_unlocked(directory: Path, *, mmap: bool, expected_dim: int | None, expected_model_hash: str | None,
                   verify: bool) -> Catalog:
    """Verify and open a saved catalog (the caller holds the folder lock)."""
    manifest = read_manifest(directory)
    _check_expectations(directory, manifest, expected_dim, expected_model_hash)
    paths = {role: _checked_file(directory, manifest, role, verify) for role in _ROLES}
    index = read_index(paths["index"], mmap=mmap)
    counts = manifest["counts"]
    _expect(index.d == manifest["dim"], f"{paths['index'].name} holds {index.d}-d vectors but {MANIFEST} says "
            f"{manifest['dim']}-d")
    _expect(index.ntotal == counts["vectors"], f"{MANIFEST} says {counts['vectors']} vectors but "
            f"{paths['index'].name} holds {index.ntotal}")
    work_dir = None
    if mmap:
        db = MetadataDB(paths["metadata"], read_only=True)
    else:
        work_dir = make_work_dir()
        db = MetadataDB.open_copy(paths["metadata"], work_dir / "metadata.sqlite")
    total, live = db.counts()
    expected_vectors = live + counts.get("tombstones", 0)
    try:
        _expect((total, live) == (counts["tracks"], counts["live"]), f"{MANIFEST} says {counts['tracks']} tracks "
                f"({counts['live']} live) but {paths['metadata'].name} holds {total} ({live} live)")
        _expect(index.ntotal == expected_vectors, f"{paths['index'].name} holds {index.ntotal} vectors but the "
                f"metadata has {live} live tracks and {counts.get('tombstones', 0)} tombstones")
    except CatalogError:
        db.close()
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)
        raise
    tuned = TuneResult(**{k: v for k, v in manifest["tuned"].items() if k != "tried"}) if manifest.get("tuned") \
        else None
    if tuned is not None and tuned.value is not None:
        set_knob(index, tuned.value)
    return Catalog(index, db, factory=manifest["factory"], model_hash=manifest["model_hash"], tuned=tuned,
                   read_only=mmap, work_dir=work_dir)


def _check_expectations(directory: Path, manifest: dict[str, Any], expected_dim: int | None,
                        expected_model_hash: str | None) -> None:
    """Refuse a catalog built for another embedding size or model checkpoint."""
    if expected_dim is not None and manifest["dim"] != expected_dim:
        raise CatalogError(f"{directory}: catalog holds {manifest['dim']}-d embeddings but the model produces "
                           f"{expected_dim}-d; rebuild the catalog with this model")
    if expected_model_hash and manifest["model_hash"] != expected_model_hash:
        raise CatalogError(f"{directory}: catalog was built with model {manifest['model_hash'][:12]!r}, not the "
                           f"loaded model {expected_model_hash[:12]!r}; rebuild the catalog with this model")


def _checked_file(directory: Path, manifest: dict[str, Any], role: str, verify: bool) -> Path:
    """Path of a manifest-listed file after checking its size (and checksum when ``verify``)."""
    entry = manifest["files"].get(role)
    if not entry:
        raise CatalogError(f"{directory / MANIFEST}: lists no {role} file; rebuild the catalog")
    path = directory / entry["name"]
    if not path.exists():
        raise CatalogError(f"{path}: {role} file listed in {MANIFEST} is missing; restore or rebuild the catalog")
    if path.stat().st_size != entry["bytes"]:
        raise CatalogError(f"{path}: {role} file is {path.stat().st_size} bytes but {MANIFEST} says "
                           f"{entry['bytes']} (truncated or altered); restore or rebuild the catalog")
    if verify and sha256_file(path) != entry["sha256"]:
        raise CatalogError(f"{path}: {role} file checksum does not match {MANIFEST} (altered or corrupted); "
                           "restore or rebuild the catalog")
    return path


def _expect(ok: bool, message: str) -> None:
    """Raise CatalogError(message + fix) unless ``ok``."""
    if not ok:
        raise CatalogError(f"{message}; the catalog is inconsistent, restore or rebuild it")
