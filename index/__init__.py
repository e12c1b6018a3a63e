"""The muscall catalog: embedding shards, track metadata, and a FAISS index searched by stable track ids.

Sees numpy arrays and ids only; never imports torch or muscall.

Public API::

    from index import CatalogError, ShardWriter, TrackFilter, TrackMeta, build_catalog, open_catalog, save_catalog

    # the embedding job writes shards (resumable)
    writer = ShardWriter("out/emb", shard_size=10_000, dtype="float16", model_hash=ckpt_sha)
    for shard, start, stop in writer.pending(n):
        writer.write_shard(shard, embeddings[start:stop], metadata[start:stop])
    writer.finalize()

    # build, tune, save; load for serving
    cat = build_catalog("out/emb", "auto", memory_budget_mb=4096, target_recall=0.95, attribute_fields=("genre",))
    save_catalog(cat, "out/index")
    cat = open_catalog("out/index", expected_dim=512)
    live = LiveCatalog("out/index", expected_dim=512)  # mapped read-only; follows saves of other processes
    scores, ids = cat.search(query_vecs, k=10, allowed_ids=cat.filter_ids(tags_any=["jazz"], duration_max=300))
    cat.add(new_vecs, new_meta); cat.remove(["track-17"])
    cat.set_tags(["track-3"], [["live"]], mode="add")  # in place: same internal id, index untouched
    vecs = cat.vectors(["track-3"])  # stored unit vectors (Flat, HNSW, IVF-Flat; lossy indexes raise)
"""

from index.auto import IndexChoice, choose_factory, choose_index
from index.build import build_catalog, catalog_from_arrays
from index.catalog import Catalog, Hit
from index.errors import CatalogError
from index.faiss_index import configure_faiss
from index.live import LiveCatalog
from index.metadata import MetadataDB, TrackFilter
from index.persist import edit_catalog, open_catalog, save_catalog
from index.shard_writer import ShardWriter
from index.shards import Shard, ShardCatalog, iter_shards, load_catalog
from index.tuning import TuneResult, exact_knn, recall_at_k, tune
from index.types import TrackMeta, TrackRecord, normalize_tag

__all__ = [
    "Catalog", "CatalogError", "Hit", "IndexChoice", "LiveCatalog", "MetadataDB", "Shard", "ShardCatalog",
    "ShardWriter", "TrackFilter", "TrackMeta", "TrackRecord", "TuneResult", "build_catalog", "catalog_from_arrays",
    "choose_factory", "choose_index", "configure_faiss", "edit_catalog", "exact_knn", "iter_shards", "load_catalog",
    "normalize_tag", "open_catalog", "recall_at_k", "save_catalog", "tune",
]
