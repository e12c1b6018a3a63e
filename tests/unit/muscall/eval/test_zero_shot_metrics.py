"""Zero-shot accuracy, confusion matrix and multi-label AUCs against naive loops and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import top_k_accuracy_score

from muscall.eval import metrics as M


def naive_roc_auc(y, s):
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = [v for v, t in zip(s, y) if t]
    neg = [v for v, t in zip(s, y) if not t]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def naive_average_precision(y, s):
    """Sum over distinct thresholds (high to low) of (recall gain) * precision at that threshold."""
    n_pos, total, prev_recall = sum(y), 0.0, 0.0
    for thr in sorted(set(s), reverse=True):
        picked = [t for v, t in zip(s, y) if v >= thr]
        recall = sum(picked) / n_pos
        total += (recall - prev_recall) * sum(picked) / len(picked)
        prev_recall = recall
    return total


SCORES = np.array([
    [0.9, 0.1, 0.0],  # label 0: rank 1
    [0.2, 0.2, 0.6],  # label 2: rank 1
    [0.5, 0.5, 0.0],  # label 0 ties with class 1: rank 2 (pessimistic)
    [0.1, 0.3, 0.2],  # label 2: rank 2
])
LABELS = np.array([0, 2, 0, 2])


def test_zero_shot_accuracy_hand_computed_with_ties():
    assert M.zero_shot_accuracy(SCORES, LABELS) == pytest.approx(0.5)
    assert M.zero_shot_accuracy(SCORES, LABELS, k=2) == pytest.approx(1.0)
    assert M.zero_shot_accuracy(np.ones((3, 4)), np.array([0, 1, 2])) == 0.0  # constant scores never win


@pytest.mark.parametrize("k", [1, 2, 3])
def test_zero_shot_accuracy_matches_sklearn_without_ties(k):
    rng = np.random.default_rng(k)
    scores = rng.normal(size=(40, 5))
    labels = rng.integers(0, 5, size=40)
    expected = top_k_accuracy_score(labels, scores, k=k, labels=range(5))
    assert M.zero_shot_accuracy(scores, labels, k) == pytest.approx(expected)


def test_confusion_matrix_hand_and_sklearn():
    cm = M.confusion_matrix(LABELS, SCORES, n_classes=3)  # argmax (first max on ties): 0, 2, 0, 1
    np.testing.assert_array_equal(cm, [[2, 0, 0], [0, 0, 0], [0, 1, 1]])
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    np.testing.assert_array_equal(M.confusion_matrix(y, p), sk_confusion_matrix(y, p, labels=range(4)))
    with pytest.raises(ValueError, match="class indices"):
        M.confusion_matrix(np.array([0, 5]), np.array([0, 1]), n_classes=3)


def test_multilabel_auc_matches_naive_loops_with_ties():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 4, size=(30, 4)).astype(float)  # many ties
    targets = (rng.random((30, 4)) < 0.4).astype(int)
    targets[0, :] = 1
    targets[1, :] = 0
    out = M.multilabel_auc(scores, targets, ["rock", "jazz", "pop", "folk"])
    assert out["skipped"] == [] and out["n_classes_used"] == 4
    for c, name in enumerate(["rock", "jazz", "pop", "folk"]):
        y, s = targets[:, c].tolist(), scores[:, c].tolist()
        assert out["per_class"][name]["roc_auc"] == pytest.approx(naive_roc_auc(y, s))
        assert out["per_class"][name]["pr_auc"] == pytest.approx(naive_average_precision(y, s))
        assert out["per_class"][name]["n_pos"] == sum(y)
    assert out["roc_auc_macro"] == pytest.approx(np.mean([v["roc_auc"] for v in out["per_class"].values()]))


def test_multilabel_auc_skips_degenerate_classes():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.5], [0.7, 0.3, 0.5]])
    targets = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    targets_all_pos = targets.copy()
    targets_all_pos[:, 1] = 1
    out = M.multilabel_auc(scores, targets_all_pos, ["a", "b", "c"])
    assert out["skipped"] == ["b", "c"]  # b has no negatives, c no positives
    assert list(out["per_class"]) == ["a"]
    assert out["roc_auc_macro"] == pytest.approx(1.0) and out["pr_auc_macro"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="every class"):
        M.multilabel_auc(scores[:, 2:], targets[:, 2:])
    with pytest.raises(ValueError, match="0/1"):
        M.multilabel_auc(scores, targets * 2)
