"""The searchable catalog: a FAISS index keyed by stable track ids plus the SQLite metadata of those tracks.

Thread safety: searches and ``vectors`` hold a shared lock and run concurrently; ``add``, ``remove``,
``set_tags`` and ``tune`` hold it exclusively, so a web service may call any method from any thread. The
metadata database has its own lock. A service answering single queries should call
``configure_faiss(omp_threads=1)`` in every thread that searches, not once: OpenMP keeps the thread count per
thread (see there).
"""

from __future__ import annotations

import logging
import shutil
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from index._args import attribute_rows, tag_rows, track_names
from index._locks import RWLock
from index.auto import family_of
from index.errors import CatalogError
from index.faiss_index import (as_float32, can_remove, gpu_replica, id_selector, knob_max, reconstruct,
                               remove_ids, search_params, stored_vectors, stores_exact_vectors)
from index.metadata import MetadataDB, TrackFilter
from index.shards import normalize_rows
from index.tuning import TuneResult, exact_knn, tune
from index.types import TrackMeta, TrackRecord

log = logging.getLogger(__name__)
_CHUNK = 65536


@dataclass
class Hit:
    """One search result: cosine score and the track's record."""

    score: float
    track: TrackRecord


class Catalog:
    """Search, filter, add and remove tracks in a FAISS index plus its metadata database.

    Build one with ``index.build.build_catalog`` (from embedding shards) or ``catalog_from_arrays``; save it with
    ``index.persist.save_catalog`` and reopen it with ``index.persist.open_catalog``.
    """

    def __init__(self, index: Any, db: MetadataDB, *, factory: str, model_hash: str = "",
                 tuned: TuneResult | None = None, read_only: bool = False, work_dir: Path | None = None,
                 gpu: int | None = None):
        self.index, self.db, self.factory = index, db, factory
        self.family = family_of(factory)
        self.dim = int(index.d)
        self.model_hash = model_hash
        self.tuned = tuned
        self.read_only = read_only
        self._lock = RWLock()
        self.manifest_digests: dict[str, str | None] = {}  # folder -> sha256 of the manifest loaded/saved there
        self._removed = db.deleted_ids()
        self._tombstones = np.zeros(0, np.int64) if can_remove(index) else self._removed.copy()
        self._n_live = db.counts()[1]
        self._gpu = gpu_replica(index, gpu) if gpu is not None else None  # gpu: a CUDA device number or None
        self._cleanup = weakref.finalize(self, _release, db, work_dir)

    # search -----------------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int = 10,
               allowed_ids: np.ndarray | Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query by inner product; ids are internal track ids, -1 padded.

        Queries should be L2-normalised (scores are then cosines). ``allowed_ids`` (e.g. from
        ``filter_ids``) restricts the search inside FAISS, before ranking, so k results come back whenever at
        least k allowed tracks exist. Removed tracks are never returned.
        """
        if k < 1:
            raise CatalogError(f"k must be >= 1, got {k}")
        q = as_float32(queries, self.dim)
        with self._lock.read():
            if allowed_ids is None:
                sel, keep = id_selector(self._tombstones, exclude=True) if self._tombstones.size else (None, [])
                return self._search(q, k, sel, None, min(k, self._n_live))
            allowed = _live_subset(allowed_ids, self._removed)
            if not allowed.size:
                return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
            sel, keep = id_selector(allowed)
            return self._search(q, k, sel, allowed, min(k, allowed.size))

    def search_tracks(self, queries: np.ndarray, k: int = 10, flt: TrackFilter | None = None) -> list[list[Hit]]:
        """Like ``search`` with an optional metadata filter, returning scored track records per query."""
        allowed = None if flt is None or flt.is_empty() else self.db.filter_ids(flt)
        scores, ids = self.search(queries, k, allowed)
        records = self.db.get(ids.ravel())  # a track removed since the search is dropped here, never returned
        flat = [Hit(float(s), r) for s, r in zip(scores.ravel(), records)]
        return [[h for h in flat[i * k:(i + 1) * k] if h.track is not None and not h.track.deleted]
                for i in range(len(ids))]

    def filter_ids(self, flt: TrackFilter | None = None, **conditions: Any) -> np.ndarray:
        """Ids of live tracks passing a TrackFilter (or its fields as keywords), for ``search(allowed_ids=)``."""
        return self.db.filter_ids(flt or TrackFilter(**conditions))

    def tracks(self, ids: Sequence[int] | np.ndarray) -> list[TrackRecord | None]:
        """Metadata records for internal ids (None for -1 padding or unknown ids)."""
        return self.db.get(ids)

    def vectors(self, track_ids: Sequence[str]) -> np.ndarray:
        """Stored unit vectors ``(n, dim)`` float32 of live tracks, in the order given.

        Flat, HNSW and IVF-Flat indexes give back exactly what was added (after L2-normalisation; IVF scans
        its lists, so ask for many ids in one call). Lossy indexes (IVF-PQ, SQ) and unknown or removed track
        ids raise CatalogError.
        """
        names = track_names(track_ids)
        if not stores_exact_vectors(self.index):
            raise CatalogError(f"the {self.factory!r} index stores lossy compressed codes (IVF-PQ / SQ), not the "
                               "added vectors, so it cannot give them back; read them from the embedding "
                               "catalog's shards (index.load_catalog(<embedding dir>)), or build the index as "
                               "Flat, HNSW or IVF-Flat")
        with self._lock.read():
            return stored_vectors(self.index, self._live_ids(names, repeats=True))

    def _search(self, q: np.ndarray, k: int, sel: Any, allowed: np.ndarray | None,
                expected: int) -> tuple[np.ndarray, np.ndarray]:
        """Selector search, exhaustive retry of rows that came back short, and a final removed-id guard."""
        if sel is None and self._gpu is not None:
            scores, ids = self._gpu.search(q, k)
        else:
            params, _keep = search_params(self.index, sel, None, k)
            scores, ids = self.index.search(q, k, params=params)
        short = (ids >= 0).sum(axis=1) < expected
        if short.any():
            scores[short], ids[short] = self._exhaustive(q[short], k, sel, allowed)
        return _drop(scores, ids, self._removed)

    def _exhaustive(self, q: np.ndarray, k: int, sel: Any, allowed: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Search that cannot miss an allowed track: all IVF lists, or exact scan of HNSW's stored vectors."""
        if self.family in ("ivf", "ivfpq"):
            params, _keep = search_params(self.index, sel, knob_max(self.index), k)
            return self.index.search(q, k, params=params)
        ids = allowed if allowed is not None else self.db.live_ids()
        chunks = ((c, reconstruct(self.index, c)) for c in np.array_split(ids, max(1, len(ids) // _CHUNK)))
        return exact_knn(chunks, q, k)

    # updates ----------------------------------------------------------------------------------------------
    def add(self, embeddings: np.ndarray, metadata: Sequence[TrackMeta | Mapping[str, Any]]) -> np.ndarray:
        """Add tracks without a rebuild; return their new internal ids (rows are L2-normalised here)."""
        self._writable()
        metas = [TrackMeta.coerce(m, f"metadata row {i}") for i, m in enumerate(metadata)]
        x = as_float32(embeddings, self.dim, "embeddings")
        if len(x) != len(metas):
            raise CatalogError(f"got {len(x)} embeddings but {len(metas)} metadata rows")
        x = normalize_rows(x, [m.track_id for m in metas], "add")
        with self._lock.write():
            ids = self._append(x, metas)
            self._refresh()
        return ids

    def remove(self, track_ids: Sequence[str] | str) -> np.ndarray:
        """Remove tracks by track_id without a rebuild; return the internal ids removed (unknown ids ignored).

        Ids are never reused and a removed track is never returned again, also after save/load.
        """
        self._writable()
        with self._lock.write():
            ids = self.db.mark_deleted(track_names(track_ids))
            if ids.size:
                self._forget(ids)
                self._refresh()
        return ids

    def set_tags(self, track_ids: Sequence[str], tags: Sequence[Sequence[str]] | Mapping[str, Sequence[str]],
                 mode: str = "replace", *,
                 attributes: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]] | None = None
                 ) -> np.ndarray:
        """Replace (``mode="replace"``) or extend (``"add"``) live tracks' tags in place; return their internal ids.

        ``tags`` is one list per track id, or a mapping track_id -> tags covering exactly ``track_ids``. Tags
        are normalised as on ``add`` and filters see them at once; the index and internal ids stay as they
        are. ``attributes`` (same shapes) sets top-level attribute keys in the same update, e.g. where the
        tags came from. Unknown or removed track ids raise CatalogError. ``save`` persists the change.
        """
        self._writable()
        if mode not in ("replace", "add"):
            raise CatalogError(f"set_tags mode={mode!r}: use 'replace' or 'add'")
        names = track_names(track_ids)
        rows = tag_rows(names, tags)
        updates = None if attributes is None else attribute_rows(names, attributes)
        with self._lock.write():
            ids = self._live_ids(names)
            with self.db.transaction():
                self.db.set_tags(ids, rows, add=mode == "add")
                if updates is not None:
                    self.db.update_attributes(ids, updates)
        return ids

    def tune(self, queries: np.ndarray, target_recall: float = 0.95, k: int = 10,
             true_ids: np.ndarray | None = None, exclude: np.ndarray | None = None) -> TuneResult:
        """Tune nprobe / efSearch so recall@k of ``queries`` vs exact search reaches ``target_recall``.

        ``true_ids`` (exact top-k) is computed when not given; an IVF-PQ index cannot do that itself, so pass
        it (``index.tuning.exact_knn`` over the shards). ``exclude`` is a per-query id to ignore (queries that
        are catalog rows, with their own id left out of ``true_ids``).
        """
        q = as_float32(queries, self.dim)
        with self._lock.write():
            if true_ids is None:
                true_ids = self._exact_ids(q, k)
            self.tuned = tune(self.index, q, target_recall, true_ids, k, exclude=exclude)
            self._refresh()
        return self.tuned

    def _append(self, x: np.ndarray, metas: list[TrackMeta]) -> np.ndarray:
        """Insert rows in the DB and vectors in the index as one unit (caller holds the write lock)."""
        if not self.index.is_trained:
            raise CatalogError(f"index {self.factory!r} must be trained on data first; build the catalog with "
                               "index.build_catalog or catalog_from_arrays")
        added = None
        try:
            with self.db.transaction():
                ids = self.db.insert(metas)
                self.index.add_with_ids(x, ids)
                added = ids
        except BaseException:
            if added is not None:  # vectors went in but the DB commit failed: keep ids from ever resurfacing
                self._forget(added)
            raise
        self._n_live += len(ids)
        return ids

    def _live_ids(self, names: list[str], repeats: bool = False) -> np.ndarray:
        """Internal ids of ``names`` in order; CatalogError naming unknown or removed (or repeated) track ids."""
        found = self.db.id_map(names)
        missing = [n for n in names if n not in found]
        if missing:
            raise CatalogError(f"{len(missing)} track id(s) are not live in the catalog (unknown or removed): "
                               f"{missing[:5]}{' ...' if len(missing) > 5 else ''}; check the ids")
        if not repeats and len(found) != len(names):
            seen: set[str] = set()
            again = sorted({n for n in names if n in seen or seen.add(n)})
            raise CatalogError(f"track id(s) {again[:5]} are given more than once; give each track once")
        return np.array([found[n] for n in names], dtype=np.int64)

    def _forget(self, ids: np.ndarray) -> None:
        """Drop ids from the index (or tombstone them where the index cannot remove)."""
        if can_remove(self.index):
            remove_ids(self.index, ids)
        else:
            self._tombstones = np.union1d(self._tombstones, ids)
        self._removed = np.union1d(self._removed, ids)
        self._n_live = self.db.counts()[1]

    def _exact_ids(self, q: np.ndarray, k: int) -> np.ndarray:
        """Exact top-k ids of live tracks for tuning."""
        if self.family == "ivfpq":
            raise CatalogError("an IVF-PQ index cannot compute exact neighbours; pass true_ids from "
                               "index.tuning.exact_knn over the embedding shards")
        if self.family == "hnsw":
            return self._exhaustive(q, k, None, None)[1]
        params, _keep = search_params(self.index, None, knob_max(self.index), k)
        return self.index.search(q, k, params=params)[1]

    def set_gpu(self, gpu: int | None) -> None:
        """Search through a copy of the index on CUDA device ``gpu`` (unfiltered searches only) when FAISS has
        GPU support and sees it; ``None``, or a FAISS without GPUs (logged), searches on CPU."""
        with self._lock.write():
            self._gpu = gpu_replica(self.index, gpu) if gpu is not None else None

    def _refresh(self) -> None:
        """Re-copy the GPU replica after an update."""
        if self._gpu is not None:
            self._gpu = gpu_replica(self.index, self._gpu.device)

    def _writable(self) -> None:
        """Raise CatalogError on a read-only (memory-mapped) catalog."""
        if self.read_only:
            raise CatalogError("this catalog was loaded with mmap=True and is read-only; load it with "
                               "mmap=False to add or remove tracks")

    # info -------------------------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        """Number of live (searchable) tracks."""
        return self._n_live

    @property
    def n_tombstones(self) -> int:
        """Removed ids still in an index that cannot remove them (search filters them out)."""
        return int(self._tombstones.size)

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Hold off updates (searches go on) while a caller reads a consistent state, e.g. to save it."""
        with self._lock.read():
            yield

    def stats(self) -> dict[str, Any]:
        """Summary for health checks and logs."""
        total, live = self.db.counts()
        return {"dim": self.dim, "factory": self.factory, "family": self.family, "vectors": int(self.index.ntotal),
                "tracks": total, "live": live, "removed": total - live, "model_hash": self.model_hash,
                "tuned": self.tuned.to_dict() if self.tuned else None, "read_only": self.read_only,
                "gpu": self._gpu is not None}

    def close(self) -> None:
        """Close the database and delete the private working copy."""
        self._cleanup()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _live_subset(allowed_ids: np.ndarray | Sequence[int], removed: np.ndarray) -> np.ndarray:
    """Sorted unique non-negative ids of ``allowed_ids`` that are not in the sorted array ``removed``."""
    ids = np.asarray(allowed_ids, dtype=np.int64).ravel()
    if ids.size > 1 and not (ids[1:] > ids[:-1]).all():  # filter_ids already returns sorted unique ids
        ids = np.unique(ids)
    ids = ids[np.searchsorted(ids, 0):]
    if removed.size and ids.size:
        pos = np.minimum(np.searchsorted(removed, ids), removed.size - 1)
        ids = ids[removed[pos] != ids]
    return ids


def _drop(scores: np.ndarray, ids: np.ndarray, removed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blank out any removed id (defence in depth) and keep each row ordered best first."""
    if removed.size:
        bad = np.isin(ids, removed)
        if bad.any():
            log.error("index returned %d removed id(s); they were dropped", int(bad.sum()))
            ids, scores = np.where(bad, -1, ids), np.where(bad, -np.inf, scores).astype(np.float32)
            order = np.argsort(-scores, axis=1, kind="stable")
            ids, scores = np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)
    return scores, ids


def _release(db: MetadataDB, work_dir: Path | None) -> None:
    """Close the DB and delete a temporary working directory."""
    db.close()
    if work_dir is not None:
        shutil.rmtree(work_dir, ignore_errors=True)
