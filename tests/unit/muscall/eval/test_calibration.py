"""ECE and the reliability table against a naive reference; temperature fitting on synthetic logits."""

from __future__ import annotations

import numpy as np
import pytest

from muscall.eval.calibration import (calibration_block, expected_calibration_error, fit_temperature, nll,
                                      reliability_table)
from muscall.zeroshot import softmax


def naive_ece(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> float:
    """Sample by sample: bin b holds top-1 probabilities in [b/n, (b+1)/n), the last bin also 1.0."""
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        idx = [i for i, p in enumerate(probs) if lo <= max(p) < hi or (b == n_bins - 1 and max(p) == 1.0)]
        if idx:
            acc = np.mean([int(np.argmax(probs[i]) == labels[i]) for i in idx])
            conf = np.mean([max(probs[i]) for i in idx])
            total += len(idx) / len(probs) * abs(acc - conf)
    return total


def _sample(n: int, c: int, rng: np.random.Generator, sharpen: float) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels drawn from them; ``sharpen`` > 1 reports them sharper than they are."""
    true = rng.dirichlet(np.full(c, 0.7), size=n)
    labels = np.array([rng.choice(c, p=p) for p in true])
    reported = true ** sharpen
    return reported / reported.sum(axis=1, keepdims=True), labels


def test_ece_matches_the_naive_reference():
    rng = np.random.default_rng(0)
    probs, labels = _sample(300, 4, rng, 1.5)
    for bins in (1, 5, 15):
        assert expected_calibration_error(probs, labels, bins) == pytest.approx(naive_ece(probs, labels, bins))


def test_calibrated_is_near_zero_and_overconfident_is_high():
    rng = np.random.default_rng(1)
    probs, labels = _sample(20_000, 5, rng, 1.0)
    assert expected_calibration_error(probs, labels) < 0.02
    over, labels = _sample(20_000, 5, rng, 4.0)
    assert expected_calibration_error(over, labels) > 0.1


def test_hand_made_probabilities():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 0])  # 0.9 bin: acc 0.5; 0.6 bin: acc 1.0
    assert expected_calibration_error(probs, labels, 10) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    table = reliability_table(probs, labels, 10)
    assert [r["count"] for r in table] == [0, 0, 0, 0, 0, 0, 2, 0, 0, 2]
    assert table[9]["accuracy"] == 0.5 and table[6]["confidence"] == pytest.approx(0.6)
    assert expected_calibration_error(np.array([[1.0, 0.0]]), np.array([0]), 15) == 0.0


def test_fit_recovers_a_known_temperature():
    rng = np.random.default_rng(2)
    true_t = 0.05
    cos = rng.uniform(-0.3, 0.3, size=(20_000, 6))
    probs = softmax(cos, true_t)
    labels = np.array([rng.choice(6, p=p) for p in probs])
    fitted = fit_temperature(cos, labels)
    assert fitted == pytest.approx(true_t, rel=0.05)
    assert fit_temperature(cos, labels) == fitted  # deterministic
    assert nll(cos, labels, fitted) <= min(nll(cos, labels, t) for t in (0.01, 0.03, 0.07, 0.2))


def test_fitting_lowers_the_ece_of_an_overconfident_model():
    rng = np.random.default_rng(3)
    cos = rng.uniform(-0.3, 0.3, size=(5000, 4))
    labels = np.array([rng.choice(4, p=p) for p in softmax(cos, 0.1)])
    before = calibration_block(cos, labels, 0.01)
    after = calibration_block(cos, labels, fit_temperature(cos, labels))
    assert after["ece"] < before["ece"] / 3 and after["nll"] < before["nll"]
    assert after["mean_confidence"] < before["mean_confidence"]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="n_bins"):
        reliability_table(np.array([[1.0]]), np.array([0]), 0)
    with pytest.raises(ValueError, match="labels"):
        expected_calibration_error(np.ones((3, 2)) / 2, np.array([0, 1]))
