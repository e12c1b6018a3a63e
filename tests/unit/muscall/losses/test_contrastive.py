"""InfoNCE, caption weights and NT-Xent against naive loop references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from muscall.errors import MuscallError
from muscall.losses import SSLHead, caption_weights, infonce_loss, nt_xent_loss


def _embeds(batch: int, dim: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(batch, dim, generator=gen, dtype=torch.float64), dim=-1)


def _naive_infonce(a, t, scale, w=None):
    batch = a.shape[0]
    w = [1.0] * batch if w is None else [float(x) for x in w]
    a2t = t2a = 0.0
    for i in range(batch):
        row = [scale * float(a[i] @ t[j]) for j in range(batch)]
        col = [scale * float(t[i] @ a[j]) for j in range(batch)]
        a2t += w[i] * (math.log(sum(math.exp(x) for x in row)) - row[i])
        t2a += w[i] * (math.log(sum(math.exp(x) for x in col)) - col[i])
    return (a2t + t2a) / (2 * sum(w))


def test_infonce_matches_naive_loop():
    a, t = _embeds(6, 8, 0), _embeds(6, 8, 1)
    assert infonce_loss(a, t, 7.5).item() == pytest.approx(_naive_infonce(a, t, 7.5), rel=1e-9)


def test_weighted_infonce_matches_naive_loop():
    a, t = _embeds(5, 4, 2), _embeds(5, 4, 3)
    w = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.1], dtype=torch.float64)
    assert infonce_loss(a, t, 3.0, weights=w).item() == pytest.approx(_naive_infonce(a, t, 3.0, w), rel=1e-9)


def test_uniform_logits_give_log_batch():
    same = F.normalize(torch.ones(7, 4), dim=-1)
    assert infonce_loss(same, same, 20.0).item() == pytest.approx(math.log(7), rel=1e-6)


def test_equal_weights_equal_unweighted():
    a, t = _embeds(8, 16, 4), _embeds(8, 16, 5)
    plain = infonce_loss(a, t, 10.0)
    assert infonce_loss(a, t, 10.0, weights=torch.full((8,), 2.5)).item() == pytest.approx(plain.item(), rel=1e-9)
    assert infonce_loss(a, t, 10.0, weights=torch.ones(8)).item() == pytest.approx(plain.item(), rel=1e-9)


def test_infonce_gradient_and_perfect_alignment():
    a = _embeds(4, 8, 6).float().requires_grad_()
    loss = infonce_loss(a, a.detach(), torch.tensor(100.0))
    assert loss.item() < 1e-3
    infonce_loss(a, _embeds(4, 8, 7).float(), 10.0).backward()
    assert a.grad is not None and a.grad.abs().sum() > 0


def test_infonce_shape_errors():
    with pytest.raises(MuscallError):
        infonce_loss(torch.randn(3, 4), torch.randn(4, 4), 1.0)
    with pytest.raises(MuscallError):
        infonce_loss(torch.randn(3, 4), torch.randn(3, 4), 1.0, weights=torch.ones(4))


def test_caption_weights_match_hand_computation():
    sim = torch.tensor([[1.0, 0.2, 0.4],
                        [0.2, 1.0, 0.6],
                        [0.4, 0.6, 1.0]])
    # off-diagonal row means: 0.3, 0.4, 0.5 -> normalised 0.25, 0.333.., 0.41666..
    expected = torch.tensor([math.exp(0.25 / 0.1), math.exp((0.4 / 1.2) / 0.1), math.exp((0.5 / 1.2) / 0.1)])
    assert torch.allclose(caption_weights(sim, 0.1), expected, rtol=1e-5)


def test_caption_weights_equal_for_equal_similarity_and_zero():
    sim = torch.full((4, 4), 0.3).fill_diagonal_(1.0)
    w = caption_weights(sim, 0.5)
    assert torch.allclose(w, torch.full((4,), math.exp(0.25 / 0.5)))
    assert torch.equal(caption_weights(torch.eye(5), 0.5), torch.ones(5))
    with pytest.raises(MuscallError):
        caption_weights(torch.ones(2, 3), 0.5)


def _naive_nt_xent(z1, z2, temp):
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    n, batch = z.shape[0], z1.shape[0]
    total = 0.0
    for i in range(n):
        partner = (i + batch) % n
        others = [math.exp(float(z[i] @ z[k]) / temp) for k in range(n) if k != i]
        total += -math.log(math.exp(float(z[i] @ z[partner]) / temp) / sum(others))
    return total / n


def test_nt_xent_matches_naive_loop():
    gen = torch.Generator().manual_seed(8)
    z1 = torch.randn(5, 6, generator=gen, dtype=torch.float64)
    z2 = torch.randn(5, 6, generator=gen, dtype=torch.float64)
    assert nt_xent_loss(z1, z2, 0.5).item() == pytest.approx(_naive_nt_xent(z1, z2, 0.5), rel=1e-9)


def test_nt_xent_is_low_for_identical_views_and_validates():
    z = _embeds(6, 32, 9)
    assert nt_xent_loss(z, z, 0.05).item() < nt_xent_loss(z, _embeds(6, 32, 10), 0.05).item()
    with pytest.raises(MuscallError):
        nt_xent_loss(z, z, 0.0)


def test_ssl_head_shape():
    head = SSLHead(64, 16)
    assert head(torch.randn(3, 64)).shape == (3, 16)
