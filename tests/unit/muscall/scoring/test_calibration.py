"""Calibrated zero-training alignment: monotone, matched high / mismatched low, JSON-storable."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from muscall.scoring.calibration import apply_calibration, fit_calibration


def _cosines(seed: int = 0, n_pos: int = 200, n_neg: int = 800):
    rng = np.random.default_rng(seed)
    return rng.normal(0.55, 0.1, n_pos), rng.normal(0.15, 0.1, n_neg)


def test_monotone_and_separates_matched_from_mismatched():
    matched, mismatched = _cosines()
    params = fit_calibration(matched, mismatched)
    grid = apply_calibration(params, np.linspace(-1, 1, 201))
    assert np.all(np.diff(grid) > 0) and grid.min() >= 0 and grid.max() <= 1
    assert apply_calibration(params, matched).mean() > 0.8
    assert apply_calibration(params, mismatched).mean() < 0.2
    hits = np.mean(apply_calibration(params, matched) > 0.5), np.mean(apply_calibration(params, mismatched) < 0.5)
    accuracy = sum(hits) / 2
    assert accuracy > 0.95
    assert params["auc"] > 0.99 and params["n_matched"] == 200 and params["n_mismatched"] == 800


def test_balanced_fit_puts_the_midpoint_between_the_classes():
    matched, mismatched = _cosines(n_pos=50, n_neg=5000)  # heavy imbalance must not drag the threshold
    params = fit_calibration(matched, mismatched)
    midpoint = -params["b"] / params["a"]
    assert 0.3 < midpoint < 0.4


def test_separable_data_gives_finite_parameters():
    params = fit_calibration([0.8, 0.9, 0.85], [0.1, 0.2, 0.15])
    assert np.isfinite(params["a"]) and np.isfinite(params["b"]) and params["a"] > 0
    assert params["auc"] == 1.0
    assert apply_calibration(params, 0.9) > 0.5 > apply_calibration(params, 0.1)


def test_reversed_data_never_yields_a_decreasing_map():
    params = fit_calibration([0.1, 0.2, 0.15], [0.8, 0.9, 0.85])
    assert params["a"] == 0.0 and params["auc"] == 0.0
    assert apply_calibration(params, -1.0) == apply_calibration(params, 1.0)


def test_json_round_trip_and_input_types():
    params = fit_calibration(*_cosines(1))
    again = json.loads(json.dumps(params))
    assert apply_calibration(again, 0.4) == pytest.approx(apply_calibration(params, 0.4))
    assert isinstance(apply_calibration(params, 0.4), float)
    t = apply_calibration(params, torch.tensor([0.1, 0.6]))
    assert isinstance(t, torch.Tensor) and t[1] > t[0]
    np.testing.assert_allclose(t.numpy(), apply_calibration(params, np.array([0.1, 0.6])), rtol=1e-5)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="at least one"):
        fit_calibration([], [0.1])
    with pytest.raises(ValueError, match="finite"):
        fit_calibration([0.5, float("nan")], [0.1])
    with pytest.raises(ValueError, match="kind"):
        apply_calibration({"kind": "isotonic"}, 0.5)
