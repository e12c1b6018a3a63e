"""write_tags: zero-shot tags written into a saved index in place (same internal ids, no new vectors)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from index import TrackMeta, catalog_from_arrays, open_catalog, save_catalog
from muscall.catalog.label_scores import Scorer
from muscall.catalog.tag_db import DbUpdate, write_tags

D = 8
LABELS = ["Hip Hop", "rock", "jazz"]


@dataclass
class FakeSource:
    """Scored embeddings of tracks t0..t5 plus one the index lacks: track i points at label i % 3 (+ shift)."""

    shift: int = 0
    model_hash: str = ""
    dim: int = D
    n_parts: int = 2

    def part(self, i: int) -> tuple[list[str], list[str], np.ndarray]:
        ids = [f"t{j}" for j in range(3 * i, 3 * i + 3)] + (["ghost"] if i else [])
        emb = np.zeros((len(ids), D), np.float32)
        emb[np.arange(len(ids)), [(j + self.shift) % 3 for j in range(3 * i, 3 * i + len(ids))]] = 1.0
        return ids, ids, emb


@pytest.fixture
def index_dir(tmp_path):
    x = np.random.default_rng(0).standard_normal((6, D)).astype(np.float32)
    metas = [TrackMeta(f"t{i}", tags=["Own Tag"], attributes={"genre": "x"}) for i in range(6)]
    with catalog_from_arrays(x, metas, "HNSW16", attribute_fields=("genre",), target_recall=0) as cat:
        save_catalog(cat, tmp_path)
    return tmp_path


def _scorer() -> Scorer:
    return Scorer(LABELS, np.eye(3, D, dtype=np.float32), "single", 0.1)


def test_tags_are_set_in_place_and_a_second_run_changes_nothing(index_dir):
    assert write_tags(index_dir, FakeSource(), _scorer(), "genres") == DbUpdate(updated=6, unchanged=0, missing=1)
    with open_catalog(index_dir) as cat:
        assert cat.stats()["vectors"] == 6 and cat.stats()["tracks"] == 6  # no re-inserts, no HNSW tombstones
        np.testing.assert_array_equal(cat.db.ids_for(["t0", "t5"]), [1, 6])
        np.testing.assert_array_equal(cat.filter_ids(tags_any=["hip hop"]), [1, 4])
        record = cat.tracks([2])[0]
        assert record.tags == ["own tag", "rock"] and record.attributes == {"genre": "x",
                                                                            "zeroshot": {"genres": ["rock"]}}
    assert write_tags(index_dir, FakeSource(), _scorer(), "genres") == DbUpdate(updated=0, unchanged=6, missing=1)


def test_a_new_run_replaces_only_the_sets_previous_labels(index_dir):
    write_tags(index_dir, FakeSource(), _scorer(), "genres")
    assert write_tags(index_dir, FakeSource(shift=1), _scorer(), "genres").updated == 6
    with open_catalog(index_dir) as cat:
        assert cat.tracks([1])[0].tags == ["own tag", "rock"]
        assert cat.tracks([1])[0].attributes["zeroshot"] == {"genres": ["rock"]}
        np.testing.assert_array_equal(cat.filter_ids(tags_any=["hip hop"]), [3, 6])
        assert cat.stats()["tracks"] == 6
