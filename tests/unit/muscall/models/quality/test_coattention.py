"""WhisQ-style co-attention TA path: masks respected, shapes, global-embedding cosine."""

from __future__ import annotations

import pytest
import torch

from muscall.models.quality.coattention import CoAttentionTA


def _mask(lengths: list[int], size: int) -> torch.Tensor:
    return torch.arange(size).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


def _inputs(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    audio, text = torch.randn(2, 8, 12, generator=gen), torch.randn(2, 6, 10, generator=gen)
    return audio, _mask([8, 5], 8), text, _mask([6, 3], 6)


def _garbage(x: torch.Tensor, mask: torch.Tensor, extra: int) -> tuple[torch.Tensor, torch.Tensor]:
    b, _, c = x.shape
    longer = torch.cat([x, torch.zeros(b, extra, c)], dim=1)
    longer_mask = torch.cat([mask, torch.zeros(b, extra, dtype=torch.bool)], dim=1)
    junk = 1e4 * torch.randn(longer.shape, generator=torch.Generator().manual_seed(5))
    junk[:, :, 1] = float("nan")
    return torch.where(longer_mask.unsqueeze(-1), longer, junk), longer_mask


def _model(pooling: str) -> CoAttentionTA:
    torch.manual_seed(0)
    return CoAttentionTA(12, 10, dim=16, heads=4, layers=2, pooling=pooling, hidden=16, dropout=0.0).eval()


@pytest.mark.parametrize("pooling", ["mean", "attentive"])
def test_padding_garbage_does_not_change_the_score(pooling):
    model = _model(pooling)
    audio, am, text, tm = _inputs()
    clean = model(audio, am, text, tm)
    assert clean.shape == (2,)
    a2, am2 = _garbage(audio, am, extra=3)
    t2, tm2 = _garbage(text, tm, extra=4)
    torch.testing.assert_close(model(a2, am2, t2, tm2), clean, atol=1e-5, rtol=1e-5)


def test_valid_positions_on_both_sides_do_matter():
    model = _model("mean")
    audio, am, text, tm = _inputs()
    clean = model(audio, am, text, tm)
    text2 = text.clone()
    text2[1, 2] += 3.0  # a valid token of sample 1
    out = model(audio, am, text2, tm)
    assert torch.allclose(out[0], clean[0]) and not torch.allclose(out[1], clean[1])
    audio2 = audio.clone()
    audio2[0, 7] += 3.0  # a valid frame of sample 0
    out = model(audio2, am, text, tm)
    assert not torch.allclose(out[0], clean[0]) and torch.allclose(out[1], clean[1])


def test_gradients_finite_with_nan_padding():
    model = _model("attentive").train()
    audio, am, text, tm = _inputs()
    a2, am2 = _garbage(audio, am, extra=2)
    a2.requires_grad_(True)
    model(a2, am2, text, tm).sum().backward()
    assert torch.isfinite(a2.grad).all() and (a2.grad[~am2] == 0).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_global_embeddings_feed_the_cosine_feature():
    model = _model("mean")
    audio, am, text, tm = _inputs()
    emb = torch.nn.functional.normalize(torch.randn(2, 4), dim=-1)
    same = model(audio, am, text, tm, audio_emb=emb, text_emb=emb)
    opposite = model(audio, am, text, tm, audio_emb=emb, text_emb=-emb)
    assert not torch.allclose(same, opposite)
    with pytest.raises(ValueError, match="both"):
        model(audio, am, text, tm, audio_emb=emb)


def test_a_sample_without_valid_tokens_gives_a_finite_score():
    model = _model("mean")
    audio, am, text, _ = _inputs()
    tm = _mask([6, 0], 6)
    assert torch.isfinite(model(audio, am, text, tm)).all()
