"""DRASP / ASP / mean pooling: hand-computed statistics, segment boundaries, padding invariance."""

from __future__ import annotations

import pytest
import torch

from muscall.models.quality.drasp import DRASP, AttentiveStatsPool, MeanPool, make_pooling, segment_means

LENGTHS = [10, 7, 3]


def _batch(dim: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    frames = torch.randn(len(LENGTHS), max(LENGTHS), dim, generator=gen)
    mask = torch.arange(max(LENGTHS)).unsqueeze(0) < torch.tensor(LENGTHS).unsqueeze(1)
    return frames, mask


def _pad_with_garbage(frames: torch.Tensor, mask: torch.Tensor, extra: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Append ``extra`` padded frames and fill every padded position with huge values and NaNs."""
    b, t, c = frames.shape
    longer = torch.cat([frames, torch.zeros(b, extra, c)], dim=1)
    longer_mask = torch.cat([mask, torch.zeros(b, extra, dtype=torch.bool)], dim=1)
    garbage = 1e4 * torch.randn(longer.shape, generator=torch.Generator().manual_seed(9))
    garbage[..., 0] = float("nan")
    return torch.where(longer_mask.unsqueeze(-1), longer, garbage), longer_mask


def test_drasp_at_init_is_masked_mean_and_std():
    frames, mask = _batch()
    pool = DRASP(5, segment_size=2)
    assert pool.alpha.item() == 1.0 and pool.beta.item() == 0.0
    out = pool(frames, mask)
    expected = torch.stack([
        torch.cat([frames[i, :n].mean(0), frames[i, :n].std(0, unbiased=False)]) for i, n in enumerate(LENGTHS)
    ])
    assert out.shape == (3, 10)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)


def test_segment_boundaries_count_valid_frames_only():
    x = torch.arange(8, dtype=torch.float32).view(1, 8, 1)
    mask = torch.tensor([[True, False, True, True, False, True, True, False]])
    segments, seg_mask = segment_means(x, mask, size=2)
    # valid frames 0, 2, 3, 5, 6 -> segments (0, 2), (3, 5), (6); the 4th possible segment is empty
    assert seg_mask.tolist() == [[True, True, True, False]]
    assert segments[0, :3, 0].tolist() == [1.0, 4.0, 6.0]


def test_drasp_segment_branch_with_uniform_attention_matches_hand_computation():
    frames, mask = _batch(dim=3)
    pool = DRASP(3, segment_size=3)
    with torch.no_grad():
        pool.alpha.fill_(0.0)
        pool.beta.fill_(1.0)
        pool.attention.v.weight.zero_()  # all scores equal -> uniform weights over non-empty segments
    out = pool(frames, mask)
    for i, n in enumerate(LENGTHS):
        valid = frames[i, :n]
        seg = torch.stack([valid[s:s + 3].mean(0) for s in range(0, n, 3)])
        expected = torch.cat([seg.mean(0), seg.std(0, unbiased=False)])
        torch.testing.assert_close(out[i], expected, atol=1e-3, rtol=0)


@pytest.mark.parametrize("name", ["drasp", "asp", "mean"])
def test_padding_garbage_does_not_change_the_output(name):
    torch.manual_seed(0)
    frames, mask = _batch(dim=4)
    pool = make_pooling(name, 4, segment_size=3, hidden=8)
    if name == "drasp":
        with torch.no_grad():
            pool.beta.fill_(0.7)  # make the segment branch count
    clean = pool(frames, mask)
    padded, padded_mask = _pad_with_garbage(frames, mask)
    torch.testing.assert_close(pool(padded, padded_mask), clean, atol=1e-5, rtol=1e-5)
    # and the pool does look at valid frames
    changed = frames.clone()
    changed[2, 0] += 1.0
    assert not torch.allclose(pool(changed, mask), clean)


def test_gradients_are_finite_and_zero_on_padding():
    frames, mask = _batch(dim=4)
    padded, padded_mask = _pad_with_garbage(frames, mask)
    padded.requires_grad_(True)
    pool = DRASP(4, segment_size=2, hidden=8)
    pool(padded, padded_mask).sum().backward()
    assert torch.isfinite(padded.grad).all()
    assert (padded.grad[~padded_mask] == 0).all()
    assert pool.beta.grad is not None and pool.beta.grad.abs() > 0  # the segment branch can switch on


def test_no_mask_means_all_frames_valid_and_out_dims():
    frames, _ = _batch(dim=6)
    full = torch.ones(frames.shape[:2], dtype=torch.bool)
    for pool, dim in [(MeanPool(6), 6), (AttentiveStatsPool(6), 12), (DRASP(6), 12)]:
        assert pool.out_dim == dim
        torch.testing.assert_close(pool(frames), pool(frames, full))


def test_unknown_pooling_and_bad_segment_size_raise():
    with pytest.raises(ValueError, match="drasp, asp, mean"):
        make_pooling("max", 4)
    with pytest.raises(ValueError, match="segment_size"):
        DRASP(4, segment_size=0)
