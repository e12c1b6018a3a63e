"""Quality losses against hand-computed values on a toy batch, the registry, and the scorer's objective."""

from __future__ import annotations

import pytest
import torch

from muscall.losses.quality import (
    LOSSES,
    QualityLoss,
    ccc_loss,
    clipped_mse_loss,
    dcq_loss,
    l1_loss,
    loss_params,
    make_loss,
    margin_ranking_loss,
    mse_loss,
    utmos_loss,
)
from muscall.config.scoring import LOSS_NAMES, ScoringConfig, ScoringConfigError

PRED = torch.tensor([1.0, 2.0, 3.5])
TRUE = torch.tensor([1.2, 2.0, 2.5])
# errors: -0.2, 0.0, +1.0
# true gaps (0-1, 0-2, 1-2): -0.8, -1.3, -0.5 ; predicted gaps: -1.0, -2.5, -1.5


def _close(value: torch.Tensor, expected: float) -> None:
    assert value.item() == pytest.approx(expected, abs=1e-5)


def test_l1_and_mse():
    _close(l1_loss(PRED, TRUE), (0.2 + 0.0 + 1.0) / 3)
    _close(mse_loss(PRED, TRUE), (0.04 + 0.0 + 1.0) / 3)


def test_clipped_mse_ignores_errors_inside_the_margin():
    _close(clipped_mse_loss(PRED, TRUE, tau=0.25), 1.0 / 3)  # only the error of 1.0 exceeds tau
    _close(clipped_mse_loss(PRED, TRUE, tau=0.1), (0.04 + 1.0) / 3)
    inside = (TRUE + torch.tensor([0.2, -0.1, 0.24])).requires_grad_(True)
    loss = clipped_mse_loss(inside, TRUE, tau=0.25)
    loss.backward()
    assert loss.item() == 0.0 and (inside.grad == 0).all()


def test_margin_ranking_matches_pairs_by_hand():
    # |gap error| per unordered pair: 0.2, 1.2, 1.0 ; minus margin 0.2 -> 0, 1.0, 0.8 ; mean over pairs
    _close(margin_ranking_loss(PRED, TRUE, margin=0.2), (0.0 + 1.0 + 0.8) / 3)
    _close(margin_ranking_loss(PRED, TRUE, margin=0.0), (0.2 + 1.2 + 1.0) / 3)
    _close(margin_ranking_loss(TRUE + 5.0, TRUE, margin=0.0), 0.0)  # a constant shift keeps every gap
    _close(margin_ranking_loss(PRED[:1], TRUE[:1]), 0.0)  # no pairs


def test_utmos_is_clipped_mse_plus_weighted_ranking():
    _close(utmos_loss(PRED, TRUE, tau=0.25, margin=0.2, rank_weight=0.5), 1.0 / 3 + 0.5 * 0.6)


def test_dcq_matches_hand_computation():
    mse = (0.04 + 1.0) / 3
    qdc = (0.2 ** 2 + 1.2 ** 2 + 1.0 ** 2) / 3
    qac = -(1.0 + 2.5 + 1.5) / 3  # -mean(d_pred * sign(d_true)); all true gaps negative, pred gaps too
    _close(dcq_loss(PRED, TRUE, mse_weight=1.0), mse + qdc + qac)
    _close(dcq_loss(PRED, TRUE, mse_weight=0.0), qdc + qac)
    tied = torch.tensor([2.0, 2.0, 1.0])  # a tie: sign 0, that pair adds nothing to QAC
    pred = torch.tensor([2.5, 2.0, 1.0])
    qdc_t = (0.5 ** 2 + 0.5 ** 2 + 0.0) / 3
    qac_t = -(0.0 + 1.5 + 1.0) / 3
    _close(dcq_loss(pred, tied, mse_weight=0.0), qdc_t + qac_t)


def test_ccc_loss_zero_at_identity_and_hand_value():
    _close(ccc_loss(TRUE, TRUE), 0.0)
    mp, mt = 6.5 / 3, 5.7 / 3
    var_p = sum((p - mp) ** 2 for p in [1.0, 2.0, 3.5]) / 3
    var_t = sum((t - mt) ** 2 for t in [1.2, 2.0, 2.5]) / 3
    cov = sum((p - mp) * (t - mt) for p, t in zip([1.0, 2.0, 3.5], [1.2, 2.0, 2.5])) / 3
    _close(ccc_loss(PRED, TRUE), 1 - 2 * cov / (var_p + var_t + (mp - mt) ** 2))
    _close(ccc_loss(-TRUE + 2 * TRUE.mean(), TRUE), 1 - (-1.0))  # mirrored around the mean: CCC = -1
    assert ccc_loss(TRUE + 1.0, TRUE).item() > 0.1  # a bias is penalised, unlike Pearson


def test_registry_and_make_loss():
    assert set(LOSSES) == set(LOSS_NAMES)
    _close(make_loss("clipped_mse", tau=2.0)(PRED, TRUE), 0.0)
    fn = make_loss("l1", strict=False, tau=0.3, margin=0.1)  # shared kwargs the loss ignores
    _close(fn(PRED, TRUE), 0.4)
    assert loss_params("utmos") == ["tau", "margin", "rank_weight"]
    with pytest.raises(ScoringConfigError, match="choose one of"):
        make_loss("huber")
    with pytest.raises(ScoringConfigError, match="no argument 'tau'"):
        make_loss("ccc", tau=0.5)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_is_finite_and_differentiable(name):
    pred = torch.randn(6, requires_grad=True)
    make_loss(name)(pred, torch.randn(6)).backward()
    assert torch.isfinite(pred.grad).all()


def test_loss_skips_unrated_clips_and_honours_axis_losses():
    objective = QualityLoss(ScoringConfig(loss="mse", axis_losses=["TA=l1"], ot_weight=0.0))
    scores = {"MI": torch.tensor([1.0, 2.0, 3.0]), "TA": torch.tensor([0.0, 1.0, 2.0])}
    targets = {"MI": torch.tensor([1.0, float("nan"), 5.0]), "TA": torch.tensor([1.0, 1.0, 1.0])}
    total, parts = objective(scores, targets)
    assert parts["MI"].item() == pytest.approx(2.0)  # mse over the 2 rated clips: (0 + 4) / 2
    assert parts["TA"].item() == pytest.approx(2.0 / 3)  # l1
    assert total.item() == pytest.approx(2.0 + 2.0 / 3)
    with pytest.raises(ValueError, match="no axis"):
        objective({"MI": scores["MI"]}, {"TA": targets["TA"]})
