"""Fact losses: unknown targets masked out, accuracy over known ones, a head with nothing known gives zero."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from muscall.losses import FactHeads, fact_losses
from muscall.losses.facts import fact_loss


def test_single_label_masks_unknown():
    logits = torch.tensor([[2.0, 0.0], [0.0, 3.0], [5.0, -5.0]])
    loss, acc = fact_loss(logits, torch.tensor([0, 0, -1]), multi_label=False)
    assert loss.item() == pytest.approx(F.cross_entropy(logits[:2], torch.tensor([0, 0])).item())
    assert acc.item() == pytest.approx(0.5)


def test_multi_label_masks_unknown_rows_and_scores_top_k():
    logits = torch.tensor([[3.0, 2.0, -1.0], [0.0, 1.0, 2.0], [9.0, 9.0, 9.0]])
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [-1.0, -1.0, -1.0]])
    loss, acc = fact_loss(logits, target, multi_label=True)
    assert loss.item() == pytest.approx(F.binary_cross_entropy_with_logits(logits[:2], target[:2]).item())
    assert acc.item() == pytest.approx((0.5 + 1.0) / 2)  # top-2 of row 0 holds one of its two labels


def test_all_unknown_gives_zero_loss_with_a_gradient_and_no_accuracy():
    heads = FactHeads(4, {"key": 24, "instruments": 3})
    logits = heads({"audio": torch.randn(2, 4), "text": torch.randn(2, 4)})
    unknown = {"audio_key": torch.tensor([-1, -1]), "text_key": torch.tensor([-1, -1]),
               "audio_instruments": -torch.ones(2, 3), "text_instruments": -torch.ones(2, 3)}
    out = fact_losses(logits, unknown)
    assert out["facts"].item() == 0.0 and not any(k.endswith("_acc") for k in out)
    out["facts"].backward()
    assert all(p.grad is not None for p in heads.parameters())


def test_shared_heads_read_both_towers_through_one_head_per_fact():
    torch.manual_seed(0)
    shared, apart = FactHeads(4, {"key": 24, "mode": 2}, shared=True), FactHeads(4, {"key": 24, "mode": 2})
    assert sorted(shared.heads) == ["key", "mode"] and len(apart.heads) == 4
    x = torch.randn(3, 4)
    logits = shared({"audio": x, "text": x})
    assert set(logits) == {"audio_key", "audio_mode", "text_key", "text_mode"}
    torch.testing.assert_close(logits["audio_key"], logits["text_key"])
    torch.testing.assert_close(logits["audio_key"], shared.heads["key"](x * 2.0))
    apart_logits = apart({"audio": x, "text": x})
    assert not torch.allclose(apart_logits["audio_key"], apart_logits["text_key"])
    only_text = shared({"text": x})
    assert set(only_text) == {"text_key", "text_mode"}
