"""QualityScorer assembly, training it with its loss, and ScoringConfig loading/validation."""

from __future__ import annotations

import math

import pytest
import torch

from muscall.config import from_dict
from muscall.losses.quality import QualityLoss
from muscall.models.quality.heads import QualityScorer
from muscall.config.scoring import ScoringConfig, ScoringConfigError, validate_scoring_config

AUDIO_DIM, TEXT_DIM = 12, 10


def _cfg(**kw) -> ScoringConfig:
    base = dict(hidden=16, coattn_dim=16, coattn_heads=2, attention_hidden=8, segment_size=2, dropout=0.0)
    return ScoringConfig(**{**base, **kw})


def _batch(b: int = 4, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    frames = torch.randn(b, 9, AUDIO_DIM, generator=gen)
    mask = torch.arange(9).unsqueeze(0) < torch.randint(3, 10, (b, 1), generator=gen)
    tokens = torch.randn(b, 7, TEXT_DIM, generator=gen)
    tmask = torch.arange(7).unsqueeze(0) < torch.randint(2, 8, (b, 1), generator=gen)
    return frames, mask, tokens, tmask


@pytest.mark.parametrize("pooling", ["drasp", "asp", "mean"])
def test_forward_shapes_with_and_without_text(pooling):
    torch.manual_seed(0)
    model = QualityScorer(_cfg(pooling=pooling), AUDIO_DIM, TEXT_DIM).eval()
    frames, mask, tokens, tmask = _batch()
    scores = model(frames, mask, tokens, tmask)
    assert list(scores) == ["MI", "TA"] and all(s.shape == (4,) for s in scores.values())
    assert list(model(frames, mask)) == ["MI"]  # no text: the TA axis is left out


def test_audiobox_axes_and_padding_invariance():
    torch.manual_seed(0)
    model = QualityScorer(_cfg(axes=["PQ", "PC", "CE", "CU", "TA"]), AUDIO_DIM, TEXT_DIM).eval()
    frames, mask, tokens, tmask = _batch()
    scores = model(frames, mask, tokens, tmask)
    assert list(scores) == ["PQ", "PC", "CE", "CU", "TA"]
    longer = torch.cat([frames, torch.full((4, 5, AUDIO_DIM), float("nan"))], dim=1)
    longer_mask = torch.cat([mask, torch.zeros(4, 5, dtype=torch.bool)], dim=1)
    padded = model(longer, longer_mask, tokens, tmask)
    for axis in scores:
        torch.testing.assert_close(padded[axis], scores[axis], atol=1e-5, rtol=1e-5)


def test_a_few_gradient_steps_reduce_the_loss_on_a_toy_regression():
    torch.manual_seed(0)
    frames, mask, tokens, tmask = _batch(b=16, seed=1)
    valid = mask.unsqueeze(-1).float()
    mi = (frames[..., 0:1] * valid).sum(1).squeeze(-1) / valid.sum(1).squeeze(-1)
    ta = torch.linspace(-1, 1, 16)
    targets = {"MI": mi, "TA": ta}
    cfg = _cfg(loss="mse", ot_weight=0.1, sinkhorn_iters=10)
    model, objective = QualityScorer(cfg, AUDIO_DIM, TEXT_DIM), QualityLoss(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(25):
        scores, ot = model.forward_with_ot(frames, mask, tokens, tmask)
        loss, parts = objective(scores, targets, ot)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert set(parts) == {"MI", "TA", "ot"}
    assert all(math.isfinite(v) for v in history)
    assert history[-1] < 0.5 * history[0]


def test_config_loads_from_dict_and_validation_names_the_problem():
    cfg = from_dict(ScoringConfig, {"axes": ["MI", "TA", "PQ"], "axis_losses": ["TA=ccc"], "pooling": "asp"})
    assert cfg.loss_for("TA") == "ccc" and cfg.loss_for("MI") == "utmos"
    assert validate_scoring_config(cfg) == []
    bad = ScoringConfig(pooling="max", axis_losses=["TA=huber", "XX=l1"], coattn_dim=10, coattn_heads=4)
    problems = " | ".join(validate_scoring_config(bad))
    for needle in ("scoring.pooling='max'", "huber", "'XX'", "divisible"):
        assert needle in problems
    assert "AXIS=loss" in validate_scoring_config(ScoringConfig(axis_losses=["TA"]))[0]
    with pytest.raises(ScoringConfigError, match="pooling"):
        QualityScorer(bad, AUDIO_DIM, TEXT_DIM)
    with pytest.raises(ScoringConfigError, match="text_dim"):
        QualityScorer(_cfg(), AUDIO_DIM)
