"""Stored track embeddings to score without decoding audio: an embedding catalog's shards or a saved index.

Both expose the same small interface: ``model_hash``, ``dim``, ``n_tracks``, ``n_parts`` and
``part(i) -> (track_ids, titles, unit-norm float32 rows)``. Parts are a catalog's shards, or chunks of a saved
index's live tracks (in internal-id order, vectors reconstructed from the FAISS index).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from index import Catalog, CatalogError, open_catalog
from index.fileio import sha256_file
from index.persist import MANIFEST as INDEX_MANIFEST
from index.shards import MANIFEST as SHARDS_MANIFEST
from index.shards import ShardCatalog, load_catalog, read_shard, shard_stem
from muscall.errors import MuscallError


class EmbeddingSource(Protocol):
    """What the tagging job reads."""

    model_hash: str
    dim: int
    n_tracks: int
    n_parts: int

    def part(self, i: int) -> tuple[list[str], list[str], np.ndarray]:
        """Track ids, titles and unit-norm float32 embeddings of part ``i``."""

    def rows(self, i: int) -> int:
        """Number of tracks in part ``i``."""


class ShardSource:
    """The shards of a finished embedding catalog, one part per shard; each part checks the files it reads."""

    def __init__(self, catalog: ShardCatalog):
        self.catalog = catalog
        self.shards = sorted(catalog.shards, key=lambda s: s.index)
        self.model_hash, self.dim, self.n_tracks = catalog.model_hash, catalog.dim, catalog.n_rows
        self.n_parts = len(self.shards)

    def rows(self, i: int) -> int:
        return self.shards[i].rows

    def part(self, i: int) -> tuple[list[str], list[str], np.ndarray]:
        info = self.shards[i]
        for name in (f"{shard_stem(info.index)}.npy", f"{shard_stem(info.index)}.jsonl"):
            if sha256_file(self.catalog.directory / name) != info.files.get(name):
                raise MuscallError(f"{self.catalog.directory / name}: checksum does not match {SHARDS_MANIFEST} "
                                   "(altered or corrupted); re-run 'muscall embed' for this catalog")
        shard = read_shard(self.catalog.directory, info)
        return ([m.track_id for m in shard.metadata], [m.title for m in shard.metadata],
                _unit(np.asarray(shard.embeddings, dtype=np.float32)))


class IndexSource:
    """The live tracks of a saved index, ``part_size`` at a time (Flat, HNSW and IVF-Flat/SQ indexes)."""

    def __init__(self, catalog: Catalog, part_size: int = 10_000):
        if catalog.family == "ivfpq":
            raise MuscallError("an IVF-PQ index keeps only compressed vectors; tag the embedding catalog it was "
                               "built from instead (muscall tag --catalog CATALOG_DIR)")
        self.catalog = catalog
        self.ids = catalog.db.live_ids()
        self.part_size = part_size
        self.model_hash, self.dim, self.n_tracks = catalog.model_hash, catalog.dim, len(self.ids)
        self.n_parts = -(-len(self.ids) // part_size)
        ivf = faiss.try_extract_index_ivf(catalog.index)
        if ivf is not None:
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # IVF reconstructs by (arbitrary) id through it

    def rows(self, i: int) -> int:
        return len(self.ids[i * self.part_size:(i + 1) * self.part_size])

    def part(self, i: int) -> tuple[list[str], list[str], np.ndarray]:
        ids = self.ids[i * self.part_size:(i + 1) * self.part_size]
        records = self.catalog.tracks(ids)
        x = self.catalog.index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))
        return [r.track_id for r in records], [r.title for r in records], _unit(np.asarray(x, dtype=np.float32))


def open_source(path: str | Path, part_size: int = 10_000) -> ShardSource | IndexSource:
    """A ShardSource for an embedding catalog folder, an IndexSource for a saved index folder."""
    path = Path(path)
    try:
        if (path / SHARDS_MANIFEST).exists():
            return ShardSource(load_catalog(path, verify=False))  # each part checks the files it reads
        if (path / INDEX_MANIFEST).exists():
            return IndexSource(open_catalog(path), part_size)
    except CatalogError as err:
        raise MuscallError(str(err)) from err
    raise MuscallError(f"'{path}' is neither an embedding catalog (no {SHARDS_MANIFEST}) nor a saved index (no "
                       f"{INDEX_MANIFEST}); pass the folder 'muscall embed' or 'muscall index build' wrote")


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (stored float16 rows are only nearly unit)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
