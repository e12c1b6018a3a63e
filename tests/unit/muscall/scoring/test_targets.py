"""Target scaling: z-scored ratings per axis and back."""

from __future__ import annotations

import json

import pytest
import torch

from muscall.scoring.targets import TargetScaler, denormalize_scores, fit_target_scalers


def test_target_scaler_round_trip_and_json():
    ratings = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    scaler = TargetScaler.fit(ratings)
    assert scaler.mean == pytest.approx(3.0) and scaler.std == pytest.approx(2 ** 0.5)
    z = scaler.normalize(ratings)
    assert z.mean().abs() < 1e-6 and z.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(scaler.denormalize(z), ratings)
    again = TargetScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert again == scaler
    assert TargetScaler.fit([3.0, 3.0]).std > 0  # a constant axis does not divide by zero
    scalers = fit_target_scalers({"MI": [1.0, 3.0], "TA": [2.0, 4.0]})
    out = denormalize_scores({"MI": 1.0, "TA": -1.0, "PQ": 0.5}, scalers)
    assert out == {"MI": 3.0, "TA": 2.0, "PQ": 0.5}
    with pytest.raises(ValueError, match="finite"):
        TargetScaler.fit([1.0, float("nan")])
