"""Store zero-shot tags in a saved index's metadata so that searches can filter on them.

Tags are changed in place with ``Catalog.set_tags``: a track keeps its internal id and vector, the FAISS index
is not touched. A track's tags become its own tags minus the labels an earlier run of the same label set gave
it, plus the new ones (compared as normalised tags, so a second identical run changes nothing);
``attributes["zeroshot"][set]`` records the labels of each set. The index is saved in place, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from index import Catalog, CatalogError, TrackMeta, TrackRecord, normalize_tag, open_catalog, save_catalog
from muscall.catalog.label_scores import Scorer
from muscall.catalog.sources import EmbeddingSource
from muscall.errors import MuscallError

ZEROSHOT_KEY = "zeroshot"


@dataclass
class DbUpdate:
    """What ``write_tags`` changed."""

    updated: int  # tracks whose tags changed
    unchanged: int
    missing: int  # scored tracks the index does not hold


def write_tags(index_dir: str | Path, source: EmbeddingSource, scorer: Scorer, label_set: str,
               progress: Callable[[int], None] | None = None) -> DbUpdate:
    """Re-score ``source`` part by part and write the chosen labels into the index at ``index_dir``."""
    try:
        catalog = open_catalog(index_dir)
    except CatalogError as err:
        raise MuscallError(str(err)) from err
    with catalog:
        check_same_model(catalog.dim, catalog.model_hash, source.dim, source.model_hash, f"index '{index_dir}'")
        result = DbUpdate(0, 0, 0)
        for i in range(source.n_parts):
            ids, _titles, emb = source.part(i)
            _, chosen = scorer.select(scorer.score(emb))
            _update_part(catalog, ids, [[scorer.labels[j] for j in np.flatnonzero(r)] for r in chosen],
                         label_set, result)
            if progress:
                progress(len(ids))
        save_catalog(catalog, index_dir)
    return result


def check_same_model(dim: int, model_hash: str, other_dim: int, other_hash: str, what: str) -> None:
    """Raise MuscallError when two embedding sets come from different models (dimension or checkpoint hash)."""
    if dim != other_dim:
        raise MuscallError(f"{what} holds {dim}-d embeddings but the catalog has {other_dim}-d ones: they come from "
                           "different models; use an index built from this catalog's model")
    if model_hash and other_hash and model_hash != other_hash:
        raise MuscallError(f"{what} was built with model {model_hash[:12]} but the catalog with model "
                           f"{other_hash[:12]}: the embeddings are not comparable; use matching ones")


def retagged(record: TrackRecord, labels: list[str], label_set: str) -> TrackMeta | None:
    """The record's metadata with this label set's tags replaced by ``labels`` (None when nothing changes)."""
    attrs = dict(record.attributes)
    previous = dict(attrs.get(ZEROSHOT_KEY) or {})
    old = _normalized(previous.get(label_set, []))
    tags = sorted((_normalized(record.tags) - old) | _normalized(labels))
    if previous.get(label_set) == labels and tags == sorted(_normalized(record.tags)):
        return None
    previous[label_set] = labels
    attrs[ZEROSHOT_KEY] = previous
    return TrackMeta(record.track_id, record.path, record.title, record.duration, tags, attrs)


def _update_part(catalog: Catalog, ids: list[str], labels: list[list[str]], label_set: str,
                 result: DbUpdate) -> None:
    """Set the tags (and zero-shot record) of the tracks of one part whose tags change, in place."""
    records = {r.track_id: r for r in catalog.tracks(catalog.db.ids_for(ids)) if r is not None}
    metas = []
    for i, track_id in enumerate(ids):
        record = records.get(track_id)
        if record is None:
            result.missing += 1
            continue
        meta = retagged(record, labels[i], label_set)
        if meta is None:
            result.unchanged += 1
        else:
            metas.append(meta)
    if metas:
        catalog.set_tags([m.track_id for m in metas], [m.tags for m in metas],
                         attributes=[{ZEROSHOT_KEY: m.attributes[ZEROSHOT_KEY]} for m in metas])
        result.updated += len(metas)


def _normalized(tags: list[str]) -> set[str]:
    """Tags as the catalog stores them (see ``index.normalize_tag``); empty ones dropped."""
    return {normalize_tag(t) for t in tags} - {""}
