"""The on-disk embedding catalog the embedding job writes: numbered shards plus a verifiable manifest.

Layout of a catalog directory::

    catalog.json                  manifest: format version, model hash, dim, dtype, counts, per-file sha256
    shard-00000.npy               (rows, dim) L2-normalised embeddings, float16 or float32
    shard-00000.windows.npy       optional (total windows, dim) per-window embeddings of the shard's tracks
    shard-00000.offsets.npy       optional (rows + 1,) int64: track i's windows are windows[offsets[i]:offsets[i+1]]
    shard-00000.fp.npy            optional (total words,) uint16 recording fingerprints (``index.fingerprint``)
    shard-00000.fpoffsets.npy     optional (rows + 1,) int64: track i's fingerprint is fp[fpoffsets[i]:fpoffsets[i+1]]
    shard-00000.fplevels.npy      optional (total rows, bands) float16 level profiles beside the fingerprints,
                                  ``level_rows(words)`` rows per track, in track order (``index.fingerprint``)
    shard-00000.jsonl             row-aligned TrackMeta, one JSON object per line; written LAST, so its presence
                                  marks the shard complete

Every file is committed atomically (temp + fsync + rename). A restarted job asks ``completed_shards()`` and skips
those; a shard whose ``.jsonl`` is missing was interrupted and is simply written again.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from index.errors import CatalogError
from index.fileio import atomic_path, atomic_write_json, read_versioned_json, sha256_file
from index.types import TrackMeta

LEVEL_WORDS = 10  # fingerprint words per level-profile row (one row per second of fingerprint)

FORMAT = "muscall-shards"
FORMAT_VERSION = 1
MANIFEST = "catalog.json"
DTYPES = ("float16", "float32")
_SHARD_RE = re.compile(r"^shard-(\d{5})\.jsonl$")


def shard_stem(index: int) -> str:
    """File stem of shard ``index`` (``shard-00042``)."""
    return f"shard-{index:05d}"


@dataclass
class ShardInfo:
    """One committed shard as the manifest records it."""

    index: int
    rows: int
    windows: int | None = None  # total window rows; None when the shard stores no window embeddings
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256
    fingerprints: int | None = None  # total fingerprint words; None when the shard stores no fingerprints

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (``fingerprints`` only when stored, so older manifests read back unchanged)."""
        out = {"index": self.index, "rows": self.rows, "windows": self.windows, "files": self.files}
        return out if self.fingerprints is None else {**out, "fingerprints": self.fingerprints}


@dataclass
class Shard:
    """One shard's arrays (memory-mapped) and metadata rows."""

    index: int
    embeddings: np.ndarray
    metadata: list[TrackMeta]
    windows: np.ndarray | None = None
    window_offsets: np.ndarray | None = None
    fingerprints: np.ndarray | None = None
    fingerprint_offsets: np.ndarray | None = None
    levels: np.ndarray | None = None

    def track_fingerprint(self, row: int) -> np.ndarray | None:
        """Fingerprint words of the shard's ``row``-th track, or None when the shard stores none."""
        if self.fingerprints is None or self.fingerprint_offsets is None:
            return None
        return self.fingerprints[self.fingerprint_offsets[row]:self.fingerprint_offsets[row + 1]]

    def track_levels(self, row: int) -> np.ndarray | None:
        """Level profile ``(rows, bands)`` of the shard's ``row``-th track, or None when the shard stores none."""
        if self.levels is None or self.fingerprint_offsets is None:
            return None
        starts = self._level_starts
        return self.levels[starts[row]:starts[row + 1]]

    @functools.cached_property
    def _level_starts(self) -> np.ndarray:
        return level_offsets(self.fingerprint_offsets)

    def track_windows(self, row: int) -> np.ndarray:
        """Window embeddings ``(W, dim)`` of the shard's ``row``-th track (empty when none were stored)."""
        if self.windows is None or self.window_offsets is None:
            return np.zeros((0, self.embeddings.shape[1]), self.embeddings.dtype)
        return self.windows[self.window_offsets[row]:self.window_offsets[row + 1]]


@dataclass
class ShardCatalog:
    """A catalog directory's manifest: what the shards hold and how to check them."""

    directory: Path
    model_hash: str
    dim: int
    dtype: str
    shard_size: int
    shards: list[ShardInfo]
    complete: bool = False
    format_version: int = FORMAT_VERSION

    @property
    def n_rows(self) -> int:
        """Total tracks over all shards."""
        return sum(s.rows for s in self.shards)

    def to_dict(self) -> dict[str, Any]:
        """Manifest JSON."""
        return {"format": FORMAT, "format_version": self.format_version, "model_hash": self.model_hash,
                "dim": self.dim, "dtype": self.dtype, "shard_size": self.shard_size, "n_rows": self.n_rows,
                "n_shards": len(self.shards), "complete": self.complete,
                "shards": [s.to_dict() for s in sorted(self.shards, key=lambda s: s.index)]}

    def iter_shards(self) -> Iterator[Shard]:
        """Yield the shards in order."""
        for info in sorted(self.shards, key=lambda s: s.index):
            yield read_shard(self.directory, info)

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        """Embeddings (float32) of the given global row numbers, in the order given."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), np.float32)
        start = 0
        for info in sorted(self.shards, key=lambda s: s.index):
            mask = (rows >= start) & (rows < start + info.rows)
            if mask.any():
                arr = np.load(self.directory / f"{shard_stem(info.index)}.npy", mmap_mode="r")
                out[mask] = arr[rows[mask] - start]
            start += info.rows
        return out


def read_shard(directory: Path, info: ShardInfo) -> Shard:
    """Open one committed shard (arrays memory-mapped)."""
    stem = directory / shard_stem(info.index)
    emb = np.load(f"{stem}.npy", mmap_mode="r")
    lines = Path(f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()
    where = f"{stem}.jsonl"
    try:
        meta = [TrackMeta.coerce(json.loads(line), f"{where}:{i + 1}") for i, line in enumerate(lines) if line]
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{where}: not valid JSON lines ({exc}); delete the shard's files and resume "
                           "the embedding job to rewrite it") from exc
    windows = offsets = None
    if info.windows is not None:
        windows = np.load(f"{stem}.windows.npy", mmap_mode="r")
        offsets = np.load(f"{stem}.offsets.npy")
    prints = print_offsets = levels = None
    if info.fingerprints is not None:
        prints = np.load(f"{stem}.fp.npy", mmap_mode="r")
        print_offsets = np.load(f"{stem}.fpoffsets.npy")
        if f"{stem.name}.fplevels.npy" in info.files:  # catalogs written before level profiles have none
            levels = np.load(f"{stem}.fplevels.npy", mmap_mode="r")
    return Shard(info.index, emb, meta, windows, offsets, prints, print_offsets, levels)


def level_offsets(fingerprint_offsets: np.ndarray) -> np.ndarray:
    """Row offsets of each track's level profile, from its fingerprint word offsets."""
    rows = -(-np.diff(np.asarray(fingerprint_offsets, np.int64)) // LEVEL_WORDS)
    return np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)


def iter_shards(directory: str | Path, verify: bool = False) -> Iterator[Shard]:
    """Yield the committed shards of a catalog directory in order (a partial catalog too)."""
    yield from load_catalog(directory, verify=verify, allow_partial=True).iter_shards()


def load_catalog(directory: str | Path, verify: bool = True, allow_partial: bool = False) -> ShardCatalog:
    """Read ``catalog.json``; with ``verify`` check every file's checksum and shape against it.

    Raises:
        CatalogError: missing/unknown manifest, incomplete catalog (unless ``allow_partial``), or a file that
            is missing, altered or the wrong shape.
    """
    directory = Path(directory)
    catalog = read_manifest(directory)
    if not catalog.complete and not allow_partial:
        raise CatalogError(f"{directory}: catalog is incomplete ({len(catalog.shards)} shard(s) committed, "
                           "never finalized); resume the embedding job so it finishes and finalizes the catalog")
    for info in catalog.shards:
        _check_shard(catalog, info, verify)
    return catalog


def read_manifest(directory: Path) -> ShardCatalog:
    """Parse ``catalog.json`` (no file checks)."""
    path = directory / MANIFEST
    fix = "re-run the embedding job into a new directory (or upgrade muscall if a newer one wrote it)"
    raw = read_versioned_json(path, version=FORMAT_VERSION, fmt=FORMAT, what="embedding catalog", fix=fix,
                              missing_fix="run the embedding job to create one", error=CatalogError)
    try:
        shards = [ShardInfo(int(s["index"]), int(s["rows"]), s.get("windows"), dict(s["files"]), s.get("fingerprints"))
                  for s in raw["shards"]]
        return ShardCatalog(directory, str(raw["model_hash"]), int(raw["dim"]), str(raw["dtype"]),
                            int(raw["shard_size"]), shards, bool(raw["complete"]), raw["format_version"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"{path}: malformed manifest ({exc!r}); {fix}") from exc


def _check_shard(catalog: ShardCatalog, info: ShardInfo, verify: bool) -> None:
    """Raise CatalogError if a shard's files are missing, altered or mis-shaped."""
    for name, digest in info.files.items():
        path = catalog.directory / name
        if not path.exists():
            raise CatalogError(f"{path}: listed in {MANIFEST} but missing; delete the shard's files and resume "
                               "the embedding job to rewrite it")
        if verify and sha256_file(path) != digest:
            raise CatalogError(f"{path}: checksum does not match {MANIFEST} (file altered or corrupted); "
                               "delete the shard's files and resume the embedding job to rewrite it")
    if not verify:
        return
    stem = catalog.directory / shard_stem(info.index)
    emb = np.load(f"{stem}.npy", mmap_mode="r")
    n_meta = sum(1 for line in Path(f"{stem}.jsonl").read_text(encoding="utf-8").splitlines() if line)
    if emb.shape != (info.rows, catalog.dim) or n_meta != info.rows or str(emb.dtype) != catalog.dtype:
        raise CatalogError(f"{stem}: holds {emb.shape} {emb.dtype} embeddings and {n_meta} metadata rows but "
                           f"{MANIFEST} says {info.rows} x {catalog.dim} {catalog.dtype}; rewrite the shard")


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write one ``.npy`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)


def write_manifest(catalog: ShardCatalog) -> None:
    """Commit ``catalog.json`` atomically."""
    atomic_write_json(catalog.directory / MANIFEST, catalog.to_dict())


def normalize_rows(x: np.ndarray, ids: Sequence[str], where: str) -> np.ndarray:
    """L2-normalised float32 rows (``x`` itself when already so); CatalogError names a zero/non-finite row."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    bad = np.flatnonzero(~np.isfinite(norms) | (norms < 1e-12))
    if bad.size:
        names = [ids[i] for i in bad[:5]]
        raise CatalogError(f"{where}: {bad.size} embedding(s) are zero or not finite (tracks {names}); "
                           "check the model output for these tracks")
    if np.all(np.abs(norms - 1.0) < 1e-5):
        return x
    return x / norms[:, None]
