"""Catalog search: recall after tuning, filtering inside FAISS, add/remove with stable ids, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from index import Catalog, CatalogError, TrackFilter, TrackMeta, catalog_from_arrays, exact_knn, recall_at_k
from index.faiss_index import new_index
from index.metadata import new_work_db

FACTORIES = ["Flat", "HNSW16", "IVF64,Flat", "IVF64_HNSW32,SQfp16"]
TARGET = 0.95


def _truth(x, queries, k=10, ids=None):
    ids = np.arange(1, len(x) + 1) if ids is None else ids
    return exact_knn([(ids, x)], queries, k)[1]


@pytest.fixture(scope="module", params=FACTORIES)
def built(request, corpus):
    cat = catalog_from_arrays(corpus[0], corpus[1], request.param, attribute_fields=("genre",),
                              target_recall=TARGET)
    yield cat
    cat.close()


@pytest.mark.parametrize("factory", ["HNSW16", "IVF64,Flat"])
def test_tuning_reaches_target_recall_against_exact_search(factory, corpus, held_out):
    x, metas = corpus
    tune_q, eval_q = held_out[:100], held_out[100:]
    cat = catalog_from_arrays(x, metas, factory, target_recall=0)
    res = cat.tune(tune_q, TARGET)
    assert res.reached and res.recall >= TARGET
    assert res.param == ("efSearch" if factory.startswith("HNSW") else "nprobe")
    assert any(r < TARGET for v, r in res.tried.items() if v < res.value) or res.value == min(res.tried)
    if factory.startswith("IVF"):
        assert res.value < 64  # a real trade-off, not an exhaustive scan
    assert recall_at_k(cat.search(tune_q, 10)[1], _truth(x, tune_q)) >= TARGET  # the value is applied
    assert recall_at_k(cat.search(eval_q, 10)[1], _truth(x, eval_q)) >= TARGET - 0.03  # held-out queries
    cat.close()


def test_build_tunes_on_held_out_rows(built, corpus, held_out):
    x = corpus[0]
    if built.family == "flat":
        assert built.tuned is None
    else:
        assert built.tuned.reached and built.tuned.recall >= TARGET and built.tuned.n_queries == 500
    assert recall_at_k(built.search(held_out, 10)[1], _truth(x, held_out)) >= TARGET - 0.03


def test_flat_scores_are_exact_cosines(corpus, held_out):
    x, metas = corpus
    cat = catalog_from_arrays(x, metas, "Flat")
    scores, ids = cat.search(held_out[:5], 3)
    np.testing.assert_allclose(scores, np.take_along_axis(held_out[:5] @ x.T, ids - 1, 1), rtol=1e-5)
    np.testing.assert_array_equal(ids, _truth(x, held_out[:5], 3))
    cat.close()


@pytest.mark.parametrize("n_allowed", [5, 40, 1333])
def test_filter_applies_before_ranking(built, corpus, held_out, n_allowed):
    x = corpus[0]
    allowed = built.filter_ids(tags_any=["jazz"])[:n_allowed]
    scores, ids = built.search(held_out[:20], 10, allowed_ids=allowed)
    found = ids >= 0
    assert np.isin(ids[found], allowed).all()
    assert (found.sum(axis=1) == min(10, n_allowed)).all()  # k results whenever >= k tracks match
    if n_allowed == 5:
        assert (ids[:, :5] >= 0).all() and (ids[:, 5:] == -1).all()
        exact = _truth(x[allowed - 1], held_out[:20], 5, ids=allowed)
        np.testing.assert_array_equal(np.sort(ids[:, :5], 1), np.sort(exact, 1))
    assert (np.diff(scores[:, :min(10, n_allowed)], axis=1) <= 1e-6).all()  # best first


def test_search_tracks_with_metadata_filter(built, held_out):
    flt = TrackFilter(tags_any=["Jazz"], duration_max=120, attributes={"genre": "ROCK"})
    hits = built.search_tracks(held_out[:3], k=10, flt=flt)
    assert all(len(h) == 10 for h in hits)
    for h in (h for row in hits for h in row):
        assert "jazz" in h.track.tags and h.track.duration <= 120 and h.track.attributes["genre"] == "Rock"


def test_empty_filter_and_bad_queries(built):
    scores, ids = built.search(np.ones(32, np.float32), 4, allowed_ids=[])
    assert (ids == -1).all() and ids.shape == (1, 4)
    with pytest.raises(CatalogError, match=r"expected \(n, 32\)"):
        built.search(np.ones((2, 31), np.float32))
    with pytest.raises(CatalogError, match="k must be"):
        built.search(np.ones(32, np.float32), 0)


@pytest.mark.parametrize("factory", FACTORIES)
def test_add_and_remove_keep_ids_stable(factory, corpus, metas):
    x = corpus[0]
    cat = catalog_from_arrays(x[:3000], metas(3000), factory, target_recall=TARGET)
    new_ids = cat.add(x[3000:3100], metas(100, start=3000))
    np.testing.assert_array_equal(new_ids, np.arange(3001, 3101))
    assert cat.search(x[3050], 1)[1][0, 0] == 3051
    top = cat.search(x[:1], 1)[1][0, 0]
    assert top == 1
    gone = cat.remove(["t0", "t3050", "not-a-track"])
    np.testing.assert_array_equal(gone, [1, 3051])
    _, ids = cat.search(x[[0, 3050]], 50)
    assert not np.isin(ids, gone).any()
    _, ids = cat.search(x[[0, 3050]], 10, allowed_ids=[1, 3051, 2, 3])  # asking for them does not help
    assert set(ids[ids >= 0].tolist()) <= {2, 3}
    readded = cat.add(x[:1], [TrackMeta("t0")])
    assert readded[0] == 3101 and cat.search(x[:1], 1)[1][0, 0] == 3101
    assert cat.stats()["live"] == 3099 and cat.ntotal == 3099
    cat.close()


def _empty(factory: str) -> Catalog:
    """An empty catalog through the public constructor (what build and load do, minus the data)."""
    db, work_dir = new_work_db(None, ())
    return Catalog(new_index(factory, 32), db, factory=factory, work_dir=work_dir)


def test_empty_flat_then_add(metas, corpus):
    cat = _empty("Flat")
    assert cat.search(corpus[0][:1], 3)[1].tolist() == [[-1, -1, -1]]
    cat.add(corpus[0][:10], metas(10))
    assert cat.search(corpus[0][4], 1)[1][0, 0] == 5
    with _empty("IVF64,Flat") as untrained, pytest.raises(CatalogError, match="must be trained"):
        untrained.add(corpus[0][:10], metas(10))
    cat.close()


def test_unsupported_factory_is_refused(corpus):
    with pytest.raises(CatalogError, match="not supported"):
        catalog_from_arrays(corpus[0][:100], corpus[1][:100], "LSH")


def test_ivfpq_tuning_needs_ground_truth(corpus, held_out):
    x, metas = corpus
    cat = catalog_from_arrays(x, metas, "IVF16,PQ8x4np", target_recall=0)  # 4-bit codes train on few rows
    with pytest.raises(CatalogError, match="true_ids"):
        cat.tune(held_out[:20])
    cat.close()


@pytest.mark.parametrize("factory", ["HNSW16", "IVF64,Flat"])
def test_concurrent_searches_and_updates(factory, corpus, metas):
    x = corpus[0]
    cat = catalog_from_arrays(x[:3000], metas(3000), factory, target_recall=0.9)
    removed = [f"t{i}" for i in range(0, 300, 3)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                cat.search(x[:32], 10)
                cat.search(x[:8], 5, allowed_ids=np.arange(1, 200))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(10):
            cat.add(x[3000 + 10 * i:3010 + 10 * i], metas(10, start=3000 + 10 * i))
            cat.remove(removed[10 * i:10 * (i + 1)])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    gone = np.arange(1, 301, 3)
    _, ids = cat.search(x[:300], 10)
    assert not np.isin(ids, gone).any()
    assert cat.ntotal == 3000 + 100 - 100
    cat.close()


def test_pre_transformed_ivf_gets_nested_search_parameters(corpus, held_out):
    x, metas = corpus
    cat = catalog_from_arrays(x, metas, "PCA16,IVF32,Flat", target_recall=0.9)
    assert cat.tuned.param == "nprobe"
    allowed = np.arange(1, 4001, 97)
    _, ids = cat.search(held_out[:10], 10, allowed_ids=allowed)
    assert np.isin(ids, allowed).all()  # selector reached the IVF through the PCA wrapper
    cat.remove(["t0"])
    assert not (cat.search(x[:1], 5)[1] == 1).any()
    cat.close()
