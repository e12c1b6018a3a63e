"""Retrieval metrics against hand-computed fixtures (with ties), naive loops and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, ndcg_score

from muscall.eval import metrics as M


# ---------- naive references (plain loops) ----------

def naive_rank(row, target):
    """Pessimistic 1-based rank: the target plus every other item scoring at least as high."""
    return 1 + sum(1 for j, v in enumerate(row) if j != target and v >= row[target])


def naive_order(row):
    return sorted(range(len(row)), key=lambda j: (-row[j], j))


def naive_ap_at_k(row, rel, k):
    n_rel = sum(1 for r in rel if r)
    if n_rel == 0:
        return math.nan
    hits, total = 0, 0.0
    for i, j in enumerate(naive_order(row)[:k], start=1):
        if rel[j]:
            hits += 1
            total += hits / i
    return total / min(k, n_rel)


def naive_ndcg_at_k(row, gains, k):
    dcg = sum(gains[j] / math.log2(i + 1) for i, j in enumerate(naive_order(row)[:k], start=1))
    ideal = sorted(gains, reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    return dcg / idcg


# ---------- ranks ----------

TIED_SIM = np.array([
    [0.9, 0.9, 0.1],  # target 0 ties with item 1 -> rank 2
    [0.2, 0.5, 0.7],  # target 1 is beaten by item 2 -> rank 2
    [0.3, 0.3, 0.3],  # constant row -> worst rank 3
])


def test_rank_of_targets_hand_computed_ties_are_pessimistic():
    np.testing.assert_array_equal(M.rank_of_targets(TIED_SIM), [2, 2, 3])


def test_constant_scores_give_the_worst_rank():
    ranks = M.rank_of_targets(np.zeros((4, 6)))
    np.testing.assert_array_equal(ranks, [6, 6, 6, 6])
    assert M.recall_at_k(ranks, 5) == 0.0


def test_explicit_targets():
    sim = np.array([[0.1, 0.4, 0.3, 0.9], [0.8, 0.8, 0.8, 0.1]])
    np.testing.assert_array_equal(M.rank_of_targets(sim, np.array([3, 0])), [1, 3])


@pytest.mark.parametrize("levels", [None, 3])  # None: continuous scores; 3: heavy ties
def test_rank_matches_naive_loop(levels):
    rng = np.random.default_rng(0)
    sim = rng.normal(size=(7, 9)) if levels is None else rng.integers(0, levels, size=(7, 9)).astype(float)
    targets = rng.integers(0, 9, size=7)
    expected = [naive_rank(list(sim[q]), targets[q]) for q in range(7)]
    np.testing.assert_array_equal(M.rank_of_targets(sim, targets), expected)


def test_mean_reciprocal_rank_against_a_loop():
    ranks = np.array([1, 2, 4, 10, 1])
    assert M.mean_reciprocal_rank(ranks) == pytest.approx(sum(1 / r for r in ranks) / len(ranks))
    assert M.mean_reciprocal_rank(np.ones(7, dtype=int)) == 1.0
    with pytest.raises(ValueError, match="1-based"):
        M.mean_reciprocal_rank(np.array([0, 1]))


def test_recall_and_median_rank():
    ranks = np.array([1, 2, 3, 10, 11])
    assert M.recall_at_k(ranks, 1) == pytest.approx(0.2)
    assert M.recall_at_k(ranks, 10) == pytest.approx(0.8)
    assert M.median_rank(ranks) == 3.0
    assert M.median_rank(np.array([1, 2, 3, 10])) == 2.5


@pytest.mark.parametrize("bad", [np.array([[0.1, np.nan]]), np.zeros(3), np.zeros((0, 3))])
def test_bad_similarity_raises(bad):
    with pytest.raises(ValueError):
        M.rank_of_targets(bad)


def test_bad_targets_raise():
    with pytest.raises(ValueError, match="targets"):
        M.rank_of_targets(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="diagonal"):
        M.rank_of_targets(np.zeros((4, 3)))


# ---------- mAP@k ----------

def test_ap_at_k_hand_computed():
    sim = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
    rel = np.array([[1, 0, 1, 0, 1]], dtype=bool)
    assert M.map_at_k(sim, rel, k=2) == pytest.approx(1 / 2)  # (1/1) / min(2, 3)
    assert M.map_at_k(sim, rel, k=3) == pytest.approx(5 / 9)  # (1 + 2/3) / 3
    assert M.map_at_k(sim, rel, k=5) == pytest.approx(34 / 45)  # (1 + 2/3 + 3/5) / 3


def test_map_tie_rules():
    sim = np.array([[0.5, 0.5]])
    assert M.map_at_k(sim, np.array([[0, 1]]), k=10) == pytest.approx(0.5)  # index order: item 0 first
    assert M.map_at_k(sim, np.array([[1, 0]]), k=10) == pytest.approx(1.0)
    assert M.map_at_k(sim, np.array([[1, 0]]), k=10, ties="pessimistic") == pytest.approx(0.5)


@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_map_matches_naive_loop_with_ties(k):
    rng = np.random.default_rng(k)
    sim = rng.integers(0, 4, size=(6, 12)).astype(float)
    rel = rng.random((6, 12)) < 0.3
    rel[0] = False  # a query with nothing relevant is excluded
    expected = [naive_ap_at_k(list(sim[q]), list(rel[q]), k) for q in range(6)]
    np.testing.assert_allclose(M.average_precision_at_k(sim, rel, k), expected)
    assert M.map_at_k(sim, rel, k) == pytest.approx(np.nanmean(expected))


def test_full_depth_ap_matches_sklearn_without_ties():
    rng = np.random.default_rng(1)
    sim = rng.normal(size=(5, 15))
    rel = rng.random((5, 15)) < 0.4
    rel[:, 0] = True
    expected = [average_precision_score(rel[q], sim[q]) for q in range(5)]
    np.testing.assert_allclose(M.average_precision_at_k(sim, rel, k=15), expected)


def test_map_without_any_relevant_raises():
    with pytest.raises(ValueError, match="no query has a relevant"):
        M.map_at_k(np.zeros((2, 3)), np.zeros((2, 3), dtype=bool))


# ---------- nDCG@k ----------

def test_ndcg_hand_computed():
    sim = np.array([[0.9, 0.8, 0.7]])
    gains = np.array([[0, 1, 1]])
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert M.ndcg_at_k(sim, gains, k=3) == pytest.approx(expected)
    assert M.ndcg_at_k(sim, gains, k=1) == 0.0


@pytest.mark.parametrize("k", [1, 5, 10])
def test_ndcg_matches_sklearn_without_ties(k):
    rng = np.random.default_rng(k)
    sim = rng.normal(size=(6, 10))
    gains = rng.integers(0, 4, size=(6, 10)).astype(float)
    gains[:, 0] = 3
    assert M.ndcg_at_k(sim, gains, k) == pytest.approx(ndcg_score(gains, sim, k=k))


def test_ndcg_matches_naive_loop_with_ties():
    rng = np.random.default_rng(3)
    sim = rng.integers(0, 3, size=(5, 8)).astype(float)
    gains = rng.integers(0, 3, size=(5, 8)).astype(float)
    gains[:, 2] = 1
    expected = np.mean([naive_ndcg_at_k(list(sim[q]), list(gains[q]), 4) for q in range(5)])
    assert M.ndcg_at_k(sim, gains, 4) == pytest.approx(expected)


# ---------- retrieval_metrics / both directions / pools ----------

def test_retrieval_metrics_hand_computed():
    out = M.retrieval_metrics(TIED_SIM)
    assert out["R@1"] == 0.0 and out["R@5"] == 1.0 and out["R@10"] == 1.0
    assert out["MedR"] == 2.0
    assert out["mAP@10"] == pytest.approx((1 / 2 + 1 / 2 + 1 / 3) / 3)
    assert out["n_queries"] == 3 and out["n_items"] == 3
    assert "attr_mAP@10" not in out


def test_one_target_map_equals_map_at_k_of_one_hot_without_ties():
    rng = np.random.default_rng(4)
    sim = rng.normal(size=(20, 20))
    assert M.retrieval_metrics(sim)["mAP@10"] == pytest.approx(M.map_at_k(sim, np.eye(20, dtype=bool), 10))


def test_retrieval_metrics_attribute_level():
    rng = np.random.default_rng(5)
    sim = rng.normal(size=(4, 6))
    rel = rng.random((4, 6)) < 0.5
    rel[:, 0] = True
    out = M.retrieval_metrics(sim, relevance=rel, use_targets=False)
    assert "R@1" not in out
    assert out["attr_mAP@10"] == pytest.approx(M.map_at_k(sim, rel, 10))
    assert out["attr_nDCG@10"] == pytest.approx(M.ndcg_at_k(sim, rel, 10))
    assert out["attr_n_queries"] == 4
    with pytest.raises(ValueError, match="relevance"):
        M.retrieval_metrics(sim, use_targets=False)


def test_both_directions_perfect_and_transposed():
    rng = np.random.default_rng(6)
    audio = rng.normal(size=(12, 8))
    perfect = M.retrieval_both_directions(audio, audio * 3.0)  # scaling vanishes after normalisation
    for d in M.DIRECTIONS:
        assert perfect[d]["R@1"] == 1.0 and perfect[d]["MedR"] == 1.0
    text = audio + rng.normal(size=(12, 8)) * 2
    out = M.retrieval_both_directions(audio, text)
    a = audio / np.linalg.norm(audio, axis=1, keepdims=True)
    t = text / np.linalg.norm(text, axis=1, keepdims=True)
    assert out["text_to_audio"] == M.retrieval_metrics(t @ a.T)
    assert out["audio_to_text"] == M.retrieval_metrics(a @ t.T)
    assert out["pool"] == {"n_total": 12, "size": 12, "seed": None}


def test_both_directions_pool_is_seeded():
    rng = np.random.default_rng(7)
    audio, text = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    rel = rng.random((30, 30)) < 0.3
    one = M.retrieval_both_directions(audio, text, relevance=rel, pool_size=10, seed=3)
    two = M.retrieval_both_directions(audio, text, relevance=rel, pool_size=10, seed=3)
    assert one == two
    assert one["pool"] == {"n_total": 30, "size": 10, "seed": 3}
    assert one["text_to_audio"]["n_items"] == 10 and "attr_mAP@10" in one["audio_to_text"]
    assert one["chance"] == M.chance_level(10)
    with pytest.raises(ValueError, match="paired"):
        M.retrieval_both_directions(audio, text[:5])


def test_pool_sample():
    a = M.pool_sample(100, 10, seed=1)
    np.testing.assert_array_equal(a, M.pool_sample(100, 10, seed=1))
    assert len(set(a.tolist())) == 10 and (np.diff(a) > 0).all() and a.max() < 100
    assert not np.array_equal(a, M.pool_sample(100, 10, seed=2))
    np.testing.assert_array_equal(M.pool_sample(5, 5), np.arange(5))
    with pytest.raises(ValueError, match="pool_size"):
        M.pool_sample(5, 6)


def test_chance_level_matches_enumeration():
    n = 10
    ranks = np.arange(1, n + 1)  # a random ranking puts the target at each rank with probability 1/n
    out = M.chance_level(n, ks=(1, 5, 10))
    assert out["R@1"] == pytest.approx(0.1) and out["R@5"] == pytest.approx(0.5) and out["R@10"] == 1.0
    assert out["mAP@10"] == pytest.approx(np.mean(np.where(ranks <= 10, 1 / ranks, 0)))
    assert out["MedR"] == 5.5
    assert M.chance_level(3)["R@10"] == 1.0


def test_both_directions_add_the_search_bonus_to_the_similarities():
    rng = np.random.default_rng(8)
    audio, text = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
    bonus = np.eye(10) * 10.0  # each text's own clip lifted to the top
    out = M.retrieval_both_directions(audio, text, bonus=bonus)
    assert out["text_to_audio"]["R@1"] == 1.0
    assert out["audio_to_text"] == M.retrieval_both_directions(audio, text)["audio_to_text"]  # text search only
    pooled = M.retrieval_both_directions(audio, text, bonus=bonus, pool_size=5, seed=1)
    assert pooled["text_to_audio"]["R@1"] == 1.0
    with pytest.raises(ValueError, match="bonus"):
        M.retrieval_both_directions(audio, text, bonus=np.zeros((3, 3)))
