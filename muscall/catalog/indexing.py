"""Index operations behind ``muscall index``: build from a catalog, add, remove, describe, search by text.

Every ``CatalogError`` from the ``index`` package is re-raised as a ``MuscallError`` so the CLI prints one
clear line.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from index import CatalogError, Hit, TrackFilter, build_catalog, edit_catalog, open_catalog, save_catalog
from index.persist import MANIFEST as INDEX_MANIFEST
from index.persist import read_manifest as read_index_manifest
from index.shards import iter_shards, load_catalog
from muscall.catalog.tag_db import check_same_model
from muscall.checkpoint import Checkpoint
from muscall.embedding import embed_texts
from muscall.errors import MuscallError
from muscall.keys import CHROMA_FIELD, rerank_depth, rerank_hits
from muscall.utils.accel import faiss_gpu

COMPUTED_ATTRIBUTES = ("window_starts", CHROMA_FIELD)  # written by the embed job and track uploads, never by users
NOT_FILTERABLE = ("caption", "zeroshot", *COMPUTED_ATTRIBUTES)  # long or nested attributes never worth an SQL index


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn CatalogError into MuscallError (same message)."""
    try:
        yield
    except CatalogError as err:
        raise MuscallError(str(err)) from err


def build_index(catalog_dir: str | Path, out: str | Path, factory: str = "auto", memory_budget_mb: float = 4096.0,
                target_recall: float = 0.95, attribute_fields: Sequence[str] | None = None,
                overwrite: bool = False, progress: bool = True, gpu: int | None = None) -> dict[str, Any]:
    """Build, tune and save an index of a finished embedding catalog; return its stats (``gpu``: the CUDA
    device number it is built to be searched on, see ``index.build.build_from_source``)."""
    out = Path(out)
    if (out / INDEX_MANIFEST).exists() and not overwrite:
        raise MuscallError(f"'{out}' already holds an index; choose another --out or pass --overwrite")
    with user_errors():
        fields = detect_attribute_fields(catalog_dir) if attribute_fields is None else tuple(attribute_fields)
        bars: dict[str, tqdm] = {}

        def report(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=total, desc=stage, disable=not progress))
            bar.update(done - bar.n)

        catalog = build_catalog(catalog_dir, factory, memory_budget_mb=memory_budget_mb, target_recall=target_recall,
                                attribute_fields=fields, progress=report, gpu=gpu)
        for bar in bars.values():
            bar.close()
        with catalog:
            save_catalog(catalog, out)
            return {**catalog.stats(), "attribute_fields": list(fields), "index": str(out)}


def detect_attribute_fields(catalog_dir: str | Path) -> tuple[str, ...]:
    """Attribute keys whose values are always scalars (or lists of scalars): the filterable ones."""
    ok: dict[str, bool] = {}
    for shard in iter_shards(catalog_dir):
        for meta in shard.metadata:
            for key, value in meta.attributes.items():
                values = value if isinstance(value, list) else [value]
                scalar = all(v is None or isinstance(v, (str, int, float, bool)) for v in values)
                ok[key] = ok.get(key, True) and scalar and key not in NOT_FILTERABLE
    return tuple(sorted(k for k, good in ok.items() if good))


def add_catalog(index_dir: str | Path, catalog_dir: str | Path) -> int:
    """Add every track of another embedding catalog to a saved index (all or nothing); return the count."""
    with user_errors():
        more = load_catalog(catalog_dir, verify=True)
        manifest = read_index_manifest(Path(index_dir))
        check_same_model(int(manifest["dim"]), str(manifest["model_hash"]), more.dim, more.model_hash,
                         f"index '{index_dir}'")
        with edit_catalog(index_dir) as catalog:  # under the folder lock: a running service's writes are kept
            n = 0
            for shard in more.iter_shards():
                n += len(catalog.add(np.asarray(shard.embeddings, dtype=np.float32), shard.metadata))
    return n


def remove_tracks(index_dir: str | Path, track_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Remove tracks by id from a saved index; return (removed, unknown) ids."""
    with user_errors(), edit_catalog(index_dir) as catalog:  # saved as the next generation unless this raises
        live = {r.track_id for r in catalog.tracks(catalog.db.ids_for(list(track_ids))) if r is not None}
        unknown = [t for t in track_ids if t not in live]
        if not live:
            raise MuscallError(f"none of {list(track_ids)[:5]} is in index '{index_dir}'; check the track ids "
                               "(see 'muscall index search' output)")
        catalog.remove(sorted(live))
    return sorted(live), unknown


def index_info(index_dir: str | Path) -> dict[str, Any]:
    """Verified summary of a saved index: counts, factory, model hash, tuning, files."""
    with user_errors():
        manifest = read_index_manifest(Path(index_dir))
        with open_catalog(index_dir) as catalog:
            stats = catalog.stats()
    return {**stats, "created_at": manifest.get("created_at"), "attribute_fields": manifest.get("attribute_fields"),
            "files": {role: f"{f['name']} ({f['bytes']} bytes)" for role, f in manifest["files"].items()}}


def search_text(index_dir: str | Path, ckpt: Checkpoint, text: str, k: int = 10, genre: str | None = None,
                tags: Sequence[str] | None = None) -> list[Hit]:
    """Top-``k`` tracks for a text query, optionally only a genre and/or any of some tags."""
    if not text.strip():
        raise MuscallError("--text is empty; describe the music you are looking for")
    with user_errors():
        catalog = open_catalog(index_dir, expected_dim=int(ckpt.model.embed_dim), expected_model_hash=ckpt.sha256)
        with catalog:
            device = next(ckpt.model.parameters()).device
            catalog.set_gpu(faiss_gpu(device))  # the index follows the model onto the GPU
            query = embed_texts(ckpt.model, ckpt.tokenizer, [text], ckpt.config.model.text.max_tokens, device=device)
            flt = TrackFilter(tags_any=list(tags) if tags else None, attributes={"genre": genre} if genre else {})
            weight = ckpt.config.serve.key_weight
            return rerank_hits(catalog.search_tracks(query, rerank_depth(k, text, weight), flt)[0], text, weight)[:k]


def format_hits(hits: Sequence[Hit]) -> str:
    """A plain-text table of search results."""
    if not hits:
        return "no results (no track passes the filters)"
    rows = [("#", "score", "title", "track_id", "seconds", "tags")]
    for i, hit in enumerate(hits, 1):
        t = hit.track
        rows.append((str(i), f"{hit.score:.4f}", t.title, t.track_id,
                     "" if t.duration is None else f"{t.duration:.1f}", ",".join(t.tags)))
    widths = [min(max(len(r[c]) for r in rows), 40) for c in range(len(rows[0]))]
    lines = ["  ".join(cell[:40].ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
