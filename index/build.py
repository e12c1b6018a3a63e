"""Building a Catalog from embedding shards or arrays: choose, train, add, tune.

    cat = build_catalog("out/emb", "auto", memory_budget_mb=4096, target_recall=0.95, attribute_fields=("genre",))
    cat = catalog_from_arrays(embeddings, metadata, "Flat", model_hash=ckpt_sha, target_recall=0)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import faiss
import numpy as np

from index.auto import choose_index
from index.catalog import Catalog
from index.errors import CatalogError
from index.faiss_index import ivf_of, new_index, search_knob
from index.metadata import new_work_db
from index.shards import ShardCatalog, load_catalog, normalize_rows
from index.tuning import drop_self, exact_knn
from index.types import TrackMeta

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (stage, done, total)
_ARRAY_CHUNK = 65536


@dataclass
class Source:
    """Embeddings to index: their count, dimension, model hash, a chunk iterator and random row access."""

    n: int
    dim: int
    model_hash: str
    chunks: Callable[[], Iterator[tuple[np.ndarray, list[TrackMeta]]]]  # normalised float32 rows + metadata
    rows: Callable[[np.ndarray], np.ndarray]  # float32 rows by global row number (sorted)


def shard_source(shard_dir: str | Path | ShardCatalog, verify: bool = True) -> Source:
    """Source over a finished embedding catalog (checksums verified first by default)."""
    cat = shard_dir if isinstance(shard_dir, ShardCatalog) else load_catalog(shard_dir, verify=verify)

    def chunks() -> Iterator[tuple[np.ndarray, list[TrackMeta]]]:
        for shard in cat.iter_shards():
            ids = [m.track_id for m in shard.metadata]
            yield normalize_rows(np.asarray(shard.embeddings), ids, f"shard {shard.index}"), shard.metadata

    def rows(r: np.ndarray) -> np.ndarray:
        x = cat.read_rows(r)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    return Source(cat.n_rows, cat.dim, cat.model_hash, chunks, rows)


def array_source(embeddings: np.ndarray, metadata: Sequence[TrackMeta | Mapping[str, Any]],
                 model_hash: str = "") -> Source:
    """Source over in-memory embeddings and row-aligned metadata."""
    metas = [TrackMeta.coerce(m, f"metadata row {i}") for i, m in enumerate(metadata)]
    x = np.asarray(embeddings)
    if x.ndim != 2 or len(x) != len(metas):
        raise CatalogError(f"got embeddings of shape {x.shape} for {len(metas)} metadata rows; need (n, dim)")
    x = normalize_rows(x, [m.track_id for m in metas], "embeddings")

    def chunks() -> Iterator[tuple[np.ndarray, list[TrackMeta]]]:
        for start in range(0, len(x), _ARRAY_CHUNK):
            yield x[start:start + _ARRAY_CHUNK], metas[start:start + _ARRAY_CHUNK]

    return Source(len(x), int(x.shape[1]), model_hash, chunks, lambda r: x[r])


def build_catalog(shard_dir: str | Path | ShardCatalog, factory: str = "auto", **options: Any) -> Catalog:
    """Build from an embedding catalog directory (checksums verified first; options as ``build_from_source``)."""
    return build_from_source(shard_source(shard_dir), factory, **options)


def catalog_from_arrays(embeddings: np.ndarray, metadata: Sequence[TrackMeta | Mapping[str, Any]],
                        factory: str = "auto", *, model_hash: str = "", **options: Any) -> Catalog:
    """Build from in-memory embeddings and row-aligned metadata (options as ``build_from_source``)."""
    return build_from_source(array_source(embeddings, metadata, model_hash), factory, **options)


def build_from_source(source: Source, factory: str = "auto", *, memory_budget_mb: float = 4096.0,
                      target_recall: float = 0.95, attribute_fields: Sequence[str] = (),
                      db_path: str | Path | None = None, mmap: bool = False, n_tune_queries: int = 500,
                      k: int = 10, train_size: int | None = None, seed: int = 0, gpu: int | None = None,
                      progress: Progress | None = None) -> Catalog:
    """Choose (``factory="auto"``), train on a sample, add every row with its stable id, then tune.

    Args:
        memory_budget_mb: index memory budget for the automatic choice.
        target_recall: recall@k the tuned nprobe / efSearch must reach on held-out rows (0 skips tuning).
        attribute_fields: attribute keys made filterable (e.g. ``("genre", "mood")``).
        mmap: the index must be memory-mappable at load time (auto choice avoids HNSW).
        n_tune_queries: catalog rows used as leave-one-out tuning queries.
        train_size: training sample size (default: 40 points per IVF list, FAISS's minimum being 39, and at
            least 10,000 for PQ; k-means dominates the build time on small machines).
        gpu: CUDA device number to search on (the auto choice then avoids HNSW, which FAISS cannot put on a
            GPU); None, or a FAISS without GPU support (logged), keeps the index on CPU.
        progress: called as ``progress(stage, done, total)`` for long stages.
    """
    if source.n == 0:
        raise CatalogError("no tracks to index; the embedding catalog is empty")
    if factory == "auto":
        choice = choose_index(source.n, source.dim, memory_budget_mb, mmap=mmap, gpu=gpu is not None and _has_gpu())
        log.info("auto index for %d x %d: %s (%s)", source.n, source.dim, choice.factory, choice.reason)
        factory = choice.factory
    index = new_index(factory, source.dim)
    rng = np.random.default_rng(seed)
    if not index.is_trained:
        _train(index, source, train_size, rng, seed, progress)
    db, work_dir = new_work_db(db_path, attribute_fields)
    catalog = Catalog(index, db, factory=factory, model_hash=source.model_hash, work_dir=work_dir,
                      gpu=None)  # the GPU copy is made once, after adding and tuning
    id_chunks = _add_all(catalog, source, progress)
    if target_recall and search_knob(index) is not None:
        _tune_held_out(catalog, source, id_chunks, target_recall, n_tune_queries, k, rng, progress)
    catalog.set_gpu(gpu)
    return catalog


def _has_gpu() -> bool:
    """Whether FAISS sees a GPU."""
    return faiss.get_num_gpus() > 0


def _train(index: Any, source: Source, train_size: int | None, rng: np.random.Generator, seed: int,
           progress: Progress | None) -> None:
    """Train the index on a random sample of rows."""
    ivf = ivf_of(index)
    nlist = ivf.nlist if ivf is not None else 1
    default = max(40 * nlist, 10_000 if "PQ" in type(faiss.downcast_index(ivf or index)).__name__ else 0)
    size = min(source.n, train_size or default)
    if ivf is not None:
        ivf.cp.seed = seed
        if source.n < 39 * nlist:
            raise CatalogError(f"{source.n} tracks are too few to train {nlist} IVF lists (need >= {39 * nlist}); "
                               "use factory 'Flat' or 'auto'")
    if progress:
        progress("train", 0, size)
    rows = np.sort(rng.choice(source.n, size, replace=False))
    index.train(source.rows(rows))
    if progress:
        progress("train", size, size)


def _add_all(catalog: Catalog, source: Source, progress: Progress | None) -> list[np.ndarray]:
    """Insert every row (DB + index) in source order; return the new ids chunk by chunk."""
    out, done = [], 0
    for x, metas in source.chunks():
        out.append(catalog.add(x, metas))  # rows are normalised float32 already, so add keeps them as they are
        done += len(x)
        if progress:
            progress("add", done, source.n)
    return out


def _tune_held_out(catalog: Catalog, source: Source, id_chunks: list[np.ndarray], target: float,
                   n_queries: int, k: int, rng: np.random.Generator, progress: Progress | None) -> None:
    """Tune on catalog rows used leave-one-out: neighbours of a row exclude the row itself."""
    rows = np.sort(rng.choice(source.n, min(n_queries, source.n), replace=False))
    queries, self_ids = source.rows(rows), np.concatenate(id_chunks)[rows]
    if progress:
        progress("ground truth", 0, 1)
    chunks = ((ids, x) for ids, (x, _) in zip(id_chunks, source.chunks()))
    _, truth = exact_knn(chunks, queries, k + 1)
    truth = drop_self(truth, self_ids, k)
    if progress:
        progress("tune", 0, 1)
    catalog.tune(queries, target, k, true_ids=truth, exclude=self_ids)
    if progress:
        progress("tune", 1, 1)
