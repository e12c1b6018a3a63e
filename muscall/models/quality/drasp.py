"""Pooling of frame sequences ``[B, T, C]`` into clip vectors: DRASP, attentive statistics and mean pooling.

DRASP (Yang et al., "DRASP: A Dual-Resolution Attentive Statistics Pooling Framework for Automatic MOS
Prediction", APSIPA 2025) fuses a coarse global view (mean and std over all valid frames) with a fine
segmental view (frames averaged into segments of ``n`` frames, additive attention over segments,
attention-weighted mean and std): ``alpha * [mu; sigma] + beta * [mu_seg; sigma_seg]``, with learnable
scalars starting at ``alpha = 1, beta = 0`` so that training starts from plain statistics pooling.

All three pools share one interface, ``pool(frames, mask) -> [B, pool.out_dim]``, and ignore padding:
appending padded frames (whatever they hold) leaves the output unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from muscall.models.quality.layers import (
    AdditiveAttention,
    as_mask,
    masked_mean,
    uniform_weights,
    weighted_mean_std,
    zero_padding,
)
from muscall.config.scoring import POOLINGS


def segment_means(x: torch.Tensor, mask: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Average the valid frames of ``x [B, T, C]`` into consecutive segments of ``size`` valid frames.

    Segment boundaries count valid frames only (the k-th valid frame goes to segment ``k // size``), so
    padding never shifts them; the last segment may hold fewer frames. Returns ``(segments [B, S, C],
    segment_mask [B, S])`` with ``S = ceil(T / size)``; a segment with no frame is marked invalid.
    """
    if size < 1:
        raise ValueError(f"segment size must be >= 1, got {size}")
    batch, frames, channels = x.shape
    n_seg = max(1, math.ceil(frames / size))
    rank = mask.long().cumsum(dim=1) - 1
    seg_id = torch.where(mask, torch.div(rank, size, rounding_mode="floor"), torch.full_like(rank, n_seg))
    sums = x.new_zeros(batch, n_seg + 1, channels)
    sums.scatter_add_(1, seg_id.unsqueeze(-1).expand(-1, -1, channels), zero_padding(x, mask))
    counts = x.new_zeros(batch, n_seg + 1)
    counts.scatter_add_(1, seg_id, mask.to(x.dtype))
    sums, counts = sums[:, :n_seg], counts[:, :n_seg]
    return sums / counts.clamp_min(1.0).unsqueeze(-1), counts > 0


class MeanPool(nn.Module):
    """Masked average over valid frames (the usual MOS-prediction baseline); ``out_dim = C``."""

    def __init__(self, dim: int):
        super().__init__()
        self.out_dim = dim

    def forward(self, frames: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled ``[B, C]``."""
        return masked_mean(frames, as_mask(frames, mask))


class AttentiveStatsPool(nn.Module):
    """Attentive statistics pooling (Okabe et al. 2018): attention over frames, weighted mean and std."""

    def __init__(self, dim: int, hidden: int = 128, eps: float = 1e-6):
        super().__init__()
        self.attention = AdditiveAttention(dim, hidden)
        self.eps = eps
        self.out_dim = 2 * dim

    def forward(self, frames: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled ``[B, 2C]`` = ``[weighted mean; weighted std]``."""
        m = as_mask(frames, mask)
        x = zero_padding(frames, m)
        mu, sigma = weighted_mean_std(x, self.attention(x, m), self.eps)
        return torch.cat([mu, sigma], dim=-1)


class DRASP(nn.Module):
    """Dual-resolution attentive statistics pooling: global statistics + attentive segment statistics."""

    def __init__(self, dim: int, segment_size: int = 4, hidden: int = 128, eps: float = 1e-6):
        super().__init__()
        if segment_size < 1:
            raise ValueError(f"DRASP segment_size must be >= 1, got {segment_size}")
        self.segment_size = segment_size
        self.attention = AdditiveAttention(dim, hidden)
        self.alpha = nn.Parameter(torch.tensor(1.0))
        self.beta = nn.Parameter(torch.tensor(0.0))
        self.eps = eps
        self.out_dim = 2 * dim

    def global_stats(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[mu; sigma]`` over all valid frames of zero-padded ``x``: ``[B, 2C]``."""
        mu, sigma = weighted_mean_std(x, uniform_weights(mask, x.dtype), self.eps)
        return torch.cat([mu, sigma], dim=-1)

    def segment_stats(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[mu_seg; sigma_seg]`` from attention over segment means (empty segments excluded): ``[B, 2C]``."""
        segments, seg_mask = segment_means(x, mask, self.segment_size)
        mu, sigma = weighted_mean_std(segments, self.attention(segments, seg_mask), self.eps)
        return torch.cat([mu, sigma], dim=-1)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled ``[B, 2C]`` = ``alpha * global + beta * segmental``."""
        m = as_mask(frames, mask)
        x = zero_padding(frames, m)
        return self.alpha * self.global_stats(x, m) + self.beta * self.segment_stats(x, m)


def make_pooling(name: str, dim: int, segment_size: int = 4, hidden: int = 128) -> nn.Module:
    """Build a pooling module by name (``drasp`` | ``asp`` | ``mean``); every one has ``out_dim``."""
    if name == "drasp":
        return DRASP(dim, segment_size=segment_size, hidden=hidden)
    if name == "asp":
        return AttentiveStatsPool(dim, hidden=hidden)
    if name == "mean":
        return MeanPool(dim)
    raise ValueError(f"unknown pooling '{name}'; use one of {', '.join(POOLINGS)}")
