"""Log-domain Sinkhorn OT between frames and tokens: marginals, padding, small eps, gradients."""

from __future__ import annotations

import pytest
import torch

from muscall.models.quality.sinkhorn import cosine_cost, ot_cost, sinkhorn, sinkhorn_loss


def _lengths_mask(lengths: list[int], size: int) -> torch.Tensor:
    return torch.arange(size).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


def _pair(seed: int = 0, dim: int = 8):
    gen = torch.Generator().manual_seed(seed)
    audio, text = torch.randn(2, 6, dim, generator=gen), torch.randn(2, 5, dim, generator=gen)
    return audio, _lengths_mask([6, 4], 6), text, _lengths_mask([5, 3], 5)


def test_plan_marginals_match_masked_uniform_marginals():
    audio, am, text, tm = _pair()
    plan, cost = ot_cost(audio, text, am, tm, eps=0.1, n_iters=300)
    row_target = am.float() / am.sum(1, keepdim=True)
    col_target = tm.float() / tm.sum(1, keepdim=True)
    torch.testing.assert_close(plan.sum(2), row_target, atol=1e-4, rtol=0)
    torch.testing.assert_close(plan.sum(1), col_target, atol=1e-4, rtol=0)
    assert (plan >= 0).all() and cost.shape == (2,)


def test_padding_does_not_change_the_ot_cost():
    audio, am, text, tm = _pair()
    _, clean = ot_cost(audio, text, am, tm, eps=0.1, n_iters=100)
    pad_a = torch.cat([audio, 1e3 * torch.randn(2, 4, 8)], dim=1)
    pad_a[~torch.cat([am, torch.zeros(2, 4, dtype=torch.bool)], dim=1)] = float("nan")
    pad_t = torch.cat([text, torch.full((2, 3, 8), float("nan"))], dim=1)
    am2 = torch.cat([am, torch.zeros(2, 4, dtype=torch.bool)], dim=1)
    tm2 = torch.cat([tm, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    plan, padded = ot_cost(pad_a, pad_t, am2, tm2, eps=0.1, n_iters=100)
    torch.testing.assert_close(padded, clean, atol=1e-6, rtol=1e-6)
    assert (plan[~(am2.unsqueeze(2) & tm2.unsqueeze(1))] == 0).all()


def test_small_eps_is_stable_and_recovers_the_exact_matching():
    gen = torch.Generator().manual_seed(1)
    audio = torch.randn(1, 4, 16, generator=gen)
    text = audio[:, [2, 0, 3, 1]]  # the same vectors, permuted: exact OT cost 0 via the permutation
    plan, cost = ot_cost(audio, text, eps=1e-3, n_iters=200)
    assert torch.isfinite(plan).all()
    assert cost.item() < 1e-3
    assert torch.equal(plan[0].argmax(dim=1), torch.tensor([1, 3, 0, 2]))


def test_matched_pairs_cost_less_than_mismatched():
    gen = torch.Generator().manual_seed(2)
    audio = torch.randn(4, 6, 8, generator=gen)
    text = audio[:, :5] + 0.1 * torch.randn(4, 5, 8, generator=gen)  # tokens close to frames
    _, matched = ot_cost(audio, text, eps=0.05)
    _, mismatched = ot_cost(audio, text.roll(1, dims=0), eps=0.05)
    assert (matched < mismatched).all()


def test_loss_weight_and_gradient():
    audio, am, text, tm = _pair()
    audio.requires_grad_(True)
    base = sinkhorn_loss(audio, text, am, tm, weight=1.0)
    scaled = sinkhorn_loss(audio, text, am, tm, weight=0.25)
    torch.testing.assert_close(scaled, 0.25 * base)
    base.backward()
    assert torch.isfinite(audio.grad).all() and audio.grad[am].abs().sum() > 0
    assert (audio.grad[~am] == 0).all()


def test_differentiable_plan_also_gives_finite_gradients():
    audio, am, text, tm = _pair()
    audio.requires_grad_(True)
    sinkhorn_loss(audio, text, am, tm, eps=0.05, n_iters=20, differentiable=True).backward()
    assert torch.isfinite(audio.grad).all()


def test_invalid_inputs_raise():
    cost = cosine_cost(torch.randn(1, 3, 4), torch.randn(1, 2, 4))
    assert cost.shape == (1, 3, 2) and (cost >= -1e-6).all() and (cost <= 2 + 1e-6).all()
    ones_r, ones_c = torch.ones(1, 3, dtype=torch.bool), torch.ones(1, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="at least one valid"):
        sinkhorn(cost, ones_r, torch.zeros(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="eps"):
        sinkhorn(cost, ones_r, ones_c, eps=0.0)
    with pytest.raises(ValueError, match="project"):
        cosine_cost(torch.randn(1, 3, 4), torch.randn(1, 2, 5))


def test_half_precision_inputs_give_a_float32_plan_close_to_the_float32_one():
    audio, am, text, tm = _pair()
    plan32, cost32 = ot_cost(audio, text, am, tm, eps=0.05)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        plan16, cost16 = ot_cost(audio.bfloat16(), text.bfloat16(), am, tm, eps=0.05)
    assert plan16.dtype == torch.float32 and torch.isfinite(plan16).all()
    torch.testing.assert_close(cost16, cost32, atol=2e-2, rtol=0)
