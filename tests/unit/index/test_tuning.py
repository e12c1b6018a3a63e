"""Exact search, recall@k and parameter tuning checked against naive references."""

from __future__ import annotations

import numpy as np

from index import catalog_from_arrays, exact_knn, recall_at_k, tune
from index.tuning import drop_self


def test_exact_knn_over_chunks_matches_numpy(corpus, held_out):
    x = corpus[0][:1000]
    ids = np.arange(1000) * 7 + 3
    chunks = [(ids[a:a + 300], x[a:a + 300]) for a in range(0, 1000, 300)]
    scores, got = exact_knn(chunks, held_out[:10], 5)
    sims = held_out[:10] @ x.T
    order = np.argsort(-sims, axis=1)[:, :5]
    np.testing.assert_array_equal(got, ids[order])
    np.testing.assert_allclose(scores, np.take_along_axis(sims, order, 1), rtol=1e-5)


def test_exact_knn_pads_when_fewer_rows_than_k(corpus):
    _, got = exact_knn([(np.array([5, 6]), corpus[0][:2])], corpus[0][:1], 4)
    assert got.tolist() == [[5, 6, -1, -1]]


def test_recall_at_k_by_hand():
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[4, 3, 9, -1], [5, 6, 7, 8]])
    assert recall_at_k(found, truth, k=4) == (2 + 4) / 8
    assert recall_at_k(found[:, :2], truth, k=2) == (0 + 2) / 4


def test_drop_self_removes_the_query_row():
    ids = np.array([[7, 1, 2], [3, 7, 4]])
    assert drop_self(ids, np.array([7, 7]), 2).tolist() == [[1, 2], [3, 4]]


def test_tune_stops_on_a_recall_plateau(corpus, held_out):
    x, metas = corpus
    cat = catalog_from_arrays(x, metas, "IVF64,PQ4x4np", target_recall=0)  # 2-byte codes cap recall low
    truth = exact_knn([(np.arange(1, len(x) + 1), x)], held_out[:50], 10)[1]
    res = tune(cat.index, held_out[:50], 0.95, truth, k=10)
    assert not res.reached and res.recall < 0.9
    assert res.value < 64  # did not scan every list once recall stopped growing
    assert max(res.tried.values()) - res.recall < 0.01
    cat.close()
