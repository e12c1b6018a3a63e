"""Resumable writer of embedding shards (see ``index.shards`` for the layout).

Typical use by an embedding job::

    writer = ShardWriter(out_dir, shard_size=10_000, dtype="float16", model_hash=ckpt_sha)
    for shard, start, stop in writer.pending(n_tracks):      # finished shards are skipped on a restart
        emb, windows = embed(tracks[start:stop])
        writer.write_shard(shard, emb, metadata[start:stop], windows=windows)
    writer.finalize()
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from index.errors import CatalogError
from index.fileio import atomic_write_bytes, sha256_file
from index.fingerprint import DTYPE as FINGERPRINT_DTYPE
from index.fingerprint import LEVEL_DTYPE, level_rows
from index.shards import (DTYPES, LEVEL_WORDS, MANIFEST, ShardCatalog, ShardInfo, _SHARD_RE, normalize_rows,
                          read_manifest, save_npy, shard_stem, write_manifest)
from index.types import TrackMeta


class ShardWriter:
    """Writes numbered shards into ``out_dir``, each committed atomically, and keeps ``catalog.json`` current."""

    def __init__(self, out_dir: str | Path, shard_size: int = 10_000, dtype: str = "float16",
                 model_hash: str = "", dim: int | None = None):
        if dtype not in DTYPES:
            raise CatalogError(f"shard dtype {dtype!r} is not supported; use one of {list(DTYPES)}")
        if shard_size < 1:
            raise CatalogError(f"shard_size must be >= 1, got {shard_size}")
        self.directory = Path(out_dir)
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(".shard-*.tmp"):
            stale.unlink(missing_ok=True)  # temp files of an interrupted write
        self.catalog = ShardCatalog(self.directory, model_hash, dim or 0, dtype, shard_size, [])
        if (self.directory / MANIFEST).exists():
            self._resume(read_manifest(self.directory))
        self._adopt_orphans()
        write_manifest(self.catalog)

    def completed_shards(self) -> set[int]:
        """Indices of shards already committed (a restarted job skips these)."""
        return {s.index for s in self.catalog.shards}

    def pending(self, n_rows: int) -> list[tuple[int, int, int]]:
        """``(shard, start, stop)`` row ranges of a ``n_rows``-track job that still need writing."""
        done = self.completed_shards()
        size = self.catalog.shard_size
        return [(i, start, min(start + size, n_rows))
                for i, start in enumerate(range(0, n_rows, size)) if i not in done]

    def write_shard(self, shard: int, embeddings: np.ndarray, metadata: Sequence[TrackMeta | Mapping[str, Any]],
                    windows: Sequence[np.ndarray] | None = None,
                    fingerprints: Sequence[np.ndarray] | None = None,
                    levels: Sequence[np.ndarray] | None = None) -> ShardInfo:
        """Commit shard ``shard``: arrays first, then the metadata file that marks it complete.

        Args:
            embeddings: ``(rows, dim)`` track embeddings; rows are L2-normalised here.
            metadata: one TrackMeta (or dict) per row.
            windows: optional per-track window embeddings, ``windows[i]`` of shape ``(W_i, dim)``.
            fingerprints: optional per-track recording fingerprints (``index.fingerprint`` words).
            levels: optional per-track level profiles beside them, ``(level_rows(words), bands)`` each.
        """
        if shard in self.completed_shards():
            raise CatalogError(f"{self.directory}: shard {shard} is already complete; skip it "
                               "(see ShardWriter.completed_shards())")
        stem = self.directory / shard_stem(shard)
        metas = [TrackMeta.coerce(m, f"{stem.name} row {i}") for i, m in enumerate(metadata)]
        x = self._check_embeddings(embeddings, metas, stem.name)
        files = {f"{stem.name}.npy": self._save(Path(f"{stem}.npy"), x)}
        n_windows = None
        for suffix in (".windows.npy", ".offsets.npy", ".fp.npy", ".fpoffsets.npy", ".fplevels.npy"):
            Path(f"{stem}{suffix}").unlink(missing_ok=True)  # left over from an interrupted attempt
        if windows is not None:
            wins, offsets = self._pack_windows(windows, metas, stem.name)
            files[f"{stem.name}.windows.npy"] = self._save(Path(f"{stem}.windows.npy"), wins)
            files[f"{stem.name}.offsets.npy"] = self._save(Path(f"{stem}.offsets.npy"), offsets)
            n_windows = int(offsets[-1])
        n_prints = None if fingerprints is None else self._save_fingerprints(stem, fingerprints, metas, files)
        if levels is not None:
            self._save_levels(stem, levels, fingerprints, files)
        lines = "".join(json.dumps(m.to_dict(), ensure_ascii=False) + "\n" for m in metas)
        atomic_write_bytes(Path(f"{stem}.jsonl"), lines.encode("utf-8"))
        files[f"{stem.name}.jsonl"] = sha256_file(f"{stem}.jsonl")
        info = ShardInfo(shard, len(metas), n_windows, files, n_prints)
        self.catalog.shards.append(info)
        self.catalog.complete = False
        write_manifest(self.catalog)
        return info

    def finalize(self) -> ShardCatalog:
        """Mark the catalog complete once shards 0..N-1 are all committed; return its manifest."""
        shards = sorted(self.catalog.shards, key=lambda s: s.index)
        missing = sorted(set(range(len(shards) and shards[-1].index + 1)) - self.completed_shards())
        if not shards or missing:
            raise CatalogError(f"{self.directory}: cannot finalize, shard(s) {missing[:10] or [0]} are not "
                               "written yet; resume the embedding job")
        short = [s.index for s in shards[:-1] if s.rows != self.catalog.shard_size]
        if short:
            raise CatalogError(f"{self.directory}: shard(s) {short} hold fewer than shard_size="
                               f"{self.catalog.shard_size} rows; only the last shard may be short")
        self.catalog.shards = shards
        self.catalog.complete = True
        write_manifest(self.catalog)
        return self.catalog

    def _resume(self, old: ShardCatalog) -> None:
        """Continue an existing catalog if it was written with the same settings."""
        mine = self.catalog
        clashes = [f"{k}: existing {a!r}, requested {b!r}" for k, a, b in (
            ("model_hash", old.model_hash, mine.model_hash), ("dtype", old.dtype, mine.dtype),
            ("shard_size", old.shard_size, mine.shard_size),
            ("dim", old.dim, mine.dim if mine.dim else old.dim)) if a != b and old.shards]
        if clashes:
            raise CatalogError(f"{self.directory}: already holds a catalog written with other settings "
                               f"({'; '.join(clashes)}); write to a new directory or delete this one")
        present = [s for s in old.shards if (self.directory / f"{shard_stem(s.index)}.jsonl").exists()]
        mine.shards, mine.dim, mine.complete = present, mine.dim or old.dim, old.complete and present == old.shards

    def _adopt_orphans(self) -> None:
        """Record shards whose metadata file was committed but whose manifest update was interrupted."""
        known = self.completed_shards()
        for path in sorted(self.directory.glob("shard-*.jsonl")):
            match = _SHARD_RE.match(path.name)
            if not match or int(match.group(1)) in known:
                continue
            stem = path.with_suffix("")
            files = {p.name: sha256_file(p) for p in (Path(f"{stem}{s}") for s in
                     (".npy", ".windows.npy", ".offsets.npy", ".fp.npy", ".fpoffsets.npy", ".fplevels.npy", ".jsonl"))
                     if p.exists()}
            emb = np.load(f"{stem}.npy", mmap_mode="r")
            n_windows = n_prints = None
            if Path(f"{stem}.offsets.npy").exists():
                n_windows = int(np.load(f"{stem}.offsets.npy")[-1])
            if Path(f"{stem}.fpoffsets.npy").exists():
                n_prints = int(np.load(f"{stem}.fpoffsets.npy")[-1])
            self.catalog.dim = self.catalog.dim or int(emb.shape[1])
            self.catalog.shards.append(ShardInfo(int(match.group(1)), int(emb.shape[0]), n_windows, files, n_prints))
            self.catalog.complete = False

    def _check_embeddings(self, embeddings: np.ndarray, metas: list[TrackMeta], where: str) -> np.ndarray:
        """Validate shape and dim against the catalog; return normalised rows in the shard dtype."""
        x = np.asarray(embeddings)
        if x.ndim != 2 or x.shape[0] != len(metas) or not 1 <= len(metas) <= self.catalog.shard_size:
            raise CatalogError(f"{where}: got embeddings of shape {x.shape} for {len(metas)} metadata rows; "
                               f"need (rows, dim) with 1 <= rows <= shard_size={self.catalog.shard_size}")
        if self.catalog.dim and x.shape[1] != self.catalog.dim:
            raise CatalogError(f"{where}: embeddings are {x.shape[1]}-d but this catalog is "
                               f"{self.catalog.dim}-d; write to a new directory for another model")
        self.catalog.dim = int(x.shape[1])
        return normalize_rows(x, [m.track_id for m in metas], where).astype(self.catalog.dtype)

    def _pack_windows(self, windows: Sequence[np.ndarray], metas: list[TrackMeta],
                      where: str) -> tuple[np.ndarray, np.ndarray]:
        """Concatenate per-track window embeddings and compute their offsets."""
        if len(windows) != len(metas):
            raise CatalogError(f"{where}: got window embeddings for {len(windows)} tracks, expected {len(metas)}")
        dim = self.catalog.dim
        arrays = [np.asarray(w, dtype=np.float32).reshape(-1, dim) for w in windows]
        offsets = np.zeros(len(arrays) + 1, np.int64)
        offsets[1:] = np.cumsum([len(a) for a in arrays])
        packed = np.concatenate(arrays) if offsets[-1] else np.zeros((0, dim), np.float32)
        if packed.size:
            owners = np.repeat(np.arange(len(arrays)), np.diff(offsets))
            packed = normalize_rows(packed, [metas[i].track_id for i in owners], f"{where} windows")
        return packed.astype(self.catalog.dtype), offsets

    def _save_fingerprints(self, stem: Path, fingerprints: Sequence[np.ndarray], metas: list[TrackMeta],
                           files: dict[str, str]) -> int:
        """Write the per-track fingerprints and their offsets; return the total words."""
        if len(fingerprints) != len(metas):
            raise CatalogError(f"{stem.name}: got fingerprints for {len(fingerprints)} tracks, expected {len(metas)}")
        arrays = [np.asarray(f, dtype=FINGERPRINT_DTYPE).reshape(-1) for f in fingerprints]
        offsets = np.zeros(len(arrays) + 1, np.int64)
        offsets[1:] = np.cumsum([len(a) for a in arrays])
        packed = np.concatenate(arrays) if offsets[-1] else np.zeros(0, FINGERPRINT_DTYPE)
        files[f"{stem.name}.fp.npy"] = self._save(Path(f"{stem}.fp.npy"), packed)
        files[f"{stem.name}.fpoffsets.npy"] = self._save(Path(f"{stem}.fpoffsets.npy"), offsets)
        return int(offsets[-1])

    def _save_levels(self, stem: Path, levels: Sequence[np.ndarray], fingerprints: Sequence[np.ndarray] | None,
                     files: dict[str, str]) -> None:
        """Write the per-track level profiles, ``level_rows(words)`` rows per track, beside the fingerprints."""
        if fingerprints is None or len(levels) != len(fingerprints):
            raise CatalogError(f"{stem.name}: level profiles come with the fingerprints, one per track; got "
                               f"{len(levels)} for {0 if fingerprints is None else len(fingerprints)} fingerprints")
        arrays = [np.asarray(x, dtype=LEVEL_DTYPE) for x in levels]
        for i, (array, words) in enumerate(zip(arrays, fingerprints)):
            want = level_rows(len(np.asarray(words).reshape(-1)))
            if array.ndim != 2 or len(array) != want:
                raise CatalogError(f"{stem.name} row {i}: level profile of shape {array.shape}, expected {want} rows "
                                   f"(one per {LEVEL_WORDS} fingerprint words)")
        bands = arrays[0].shape[1] if arrays else 0
        packed = np.concatenate(arrays) if sum(len(a) for a in arrays) else np.zeros((0, bands), LEVEL_DTYPE)
        files[f"{stem.name}.fplevels.npy"] = self._save(Path(f"{stem}.fplevels.npy"), packed)

    def _save(self, path: Path, array: np.ndarray) -> str:
        """Write one array atomically; return its sha256."""
        save_npy(path, array)
        return sha256_file(path)
