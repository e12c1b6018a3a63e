"""Catalog.set_tags (tags changed in place, ids and index untouched) and Catalog.vectors (stored vectors back)."""

from __future__ import annotations

import numpy as np
import pytest

from index import CatalogError, TrackFilter, catalog_from_arrays, open_catalog, save_catalog

N = 1000


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def flat(corpus):
    cat = catalog_from_arrays(corpus[0][:N], corpus[1][:N], "Flat", attribute_fields=("genre",), target_recall=0)
    yield cat
    cat.close()


@pytest.mark.parametrize("factory", ["Flat", "HNSW16"])
def test_set_tags_replace_and_add_keep_ids_and_the_index(factory, corpus):
    x = corpus[0][:N]
    cat = catalog_from_arrays(x, corpus[1][:N], factory, target_recall=0)
    before = cat.search(x[:20], 5)
    stats = cat.stats()
    ids = cat.set_tags(["t4", "t1"], [[" Jazz  Fusion ", "LIVE", ""], []])
    np.testing.assert_array_equal(ids, [5, 2])
    assert cat.tracks([5, 2])[0].tags == ["jazz fusion", "live"] and cat.tracks([2])[0].tags == []
    cat.set_tags(["t1", "t4"], {"t4": ["Piano"], "t1": ["rock", "Night"]}, mode="add")
    assert cat.tracks([5])[0].tags == ["jazz fusion", "live", "piano"]
    assert cat.tracks([2])[0].tags == ["night", "rock"]
    assert cat.tracks(cat.db.ids_for(["t4"]))[0].id == 5  # the same internal id, not a re-inserted row
    after = cat.search(x[:20], 5)
    np.testing.assert_array_equal(after[1], before[1])
    assert cat.stats()["vectors"] == stats["vectors"] and cat.stats()["tracks"] == stats["tracks"]
    cat.close()


def test_filters_see_the_new_tags_at_once(flat, corpus):
    assert flat.filter_ids(tags_any=["jazz fusion"]).size == 0
    flat.set_tags(["t7", "t9"], [["Jazz Fusion"], ["jazz fusion", "rare"]])
    np.testing.assert_array_equal(flat.filter_ids(tags_any=["JAZZ fusion"]), [8, 10])
    np.testing.assert_array_equal(flat.filter_ids(tags_all=["jazz fusion", "rare"]), [10])
    hits = flat.search_tracks(corpus[0][:1], 5, TrackFilter(tags_any=["rare"]))[0]
    assert [h.track.track_id for h in hits] == ["t9"]
    flat.set_tags(["t9"], [["other"]])  # replace drops the old tags from the filters too
    np.testing.assert_array_equal(flat.filter_ids(tags_any=["rare", "jazz fusion"]), [8])


def test_attributes_change_with_the_tags_and_filters_follow(flat):
    assert flat.tracks([4])[0].attributes["genre"] == "Rock"
    flat.set_tags(["t3"], [["x"]], "add", attributes=[{"genre": "Ambient", "zeroshot": {"genres": ["x"]}}])
    record = flat.tracks([4])[0]
    assert record.attributes == {"genre": "Ambient", "bpm": 63, "zeroshot": {"genres": ["x"]}}
    assert 4 in flat.filter_ids(attributes={"genre": "ambient"}) and 4 not in flat.filter_ids(
        attributes={"genre": "rock"})
    with pytest.raises(CatalogError, match="JSON"):  # a bad attribute rolls the tag change back too
        flat.set_tags(["t3"], [["y"]], attributes=[{"when": object()}])
    assert flat.tracks([4])[0].tags == ["jazz", "x"]


@pytest.mark.parametrize("track_ids, tags, needle", [
    (["t1", "nope", "gone"], [[], [], []], r"not live.*'nope', 'gone'"),
    (["t1", "t1"], [["a"], ["b"]], r"\['t1'\] are given more than once"),
    (["t1", "t2"], [["a"]], "one entry per track"),
    (["t1"], ["jazz"], "must be a list of strings"),
    (["t1"], {"t2": ["a"]}, "exactly the given track ids"),
])
def test_bad_updates_raise_and_change_nothing(flat, track_ids, tags, needle):
    flat.remove(["gone"])
    flat.add(np.ones((1, 32), np.float32), [{"track_id": "gone"}])
    flat.remove(["gone"])
    with pytest.raises(CatalogError, match=needle):
        flat.set_tags(track_ids, tags)
    assert flat.tracks([2])[0].tags == ["rock"]
    with pytest.raises(CatalogError, match="'replace' or 'add'"):
        flat.set_tags(["t1"], [["a"]], mode="merge")


def test_set_tags_persist_through_save_and_load(flat, tmp_path):
    flat.set_tags(["t2"], [["saved tag"]])
    save_catalog(flat, tmp_path)
    with open_catalog(tmp_path) as cat:
        assert cat.tracks([3])[0].tags == ["saved tag"]
        np.testing.assert_array_equal(cat.filter_ids(tags_any=["saved tag"]), [3])
    with open_catalog(tmp_path, mmap=True) as cat, pytest.raises(CatalogError, match="read-only"):
        cat.set_tags(["t2"], [["x"]])


@pytest.mark.parametrize("factory", ["Flat", "HNSW16", "IVF16,Flat"])
def test_vectors_are_what_was_added(factory, corpus, metas):
    x = _unit(corpus[0][:N]).astype(np.float32)
    cat = catalog_from_arrays(x, metas(N), factory, target_recall=0)
    got = cat.vectors(["t9", "t0", "t999", "t9"])
    assert got.dtype == np.float32 and got.shape == (4, 32)
    np.testing.assert_array_equal(got, x[[9, 0, 999, 9]])  # bit for bit
    cat.add(3.0 * corpus[0][N:N + 2], metas(2, start=N))  # not unit: the catalog stores normalised rows
    cat.remove(["t5"])
    np.testing.assert_allclose(cat.vectors(["t1001"]), _unit(corpus[0][N + 1:N + 2]), atol=1e-6)
    with pytest.raises(CatalogError, match=r"not live.*'t5', 'nope'"):
        cat.vectors(["t1", "t5", "nope"])
    assert cat.vectors([]).shape == (0, 32)
    cat.close()


def test_vectors_of_an_mmap_loaded_catalog(flat, corpus, tmp_path):
    save_catalog(flat, tmp_path)
    with open_catalog(tmp_path, mmap=True) as cat:
        np.testing.assert_allclose(cat.vectors(["t3"]), corpus[0][3:4], atol=1e-6)


@pytest.mark.parametrize("factory", ["IVF16,PQ8x4", "IVF16,SQ8"])
def test_lossy_indexes_refuse_and_point_to_the_shards(factory, corpus, metas):
    cat = catalog_from_arrays(corpus[0][:N], metas(N), factory, target_recall=0)
    with pytest.raises(CatalogError, match=r"lossy.*shards"):
        cat.vectors(["t1"])
    cat.close()
