"""Masked building blocks shared by the scoring modules.

Convention everywhere in :mod:`muscall.models.quality`: a sequence is ``x [B, T, C]`` with ``mask [B, T]`` where
``True`` marks a valid position (``None`` means every position is valid). Padded positions may hold any
value, NaN included: every module zeroes them first, so they never reach an output or a gradient.
"""

from __future__ import annotations

import torch
from torch import nn


def as_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Boolean ``[B, T]`` validity mask for ``x [B, T, ...]`` (all True when ``mask`` is None)."""
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    if mask.shape != x.shape[:2]:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match sequence shape {tuple(x.shape[:2])}")
    return mask.to(device=x.device, dtype=torch.bool)


def zero_padding(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x`` with padded positions set to exactly 0 (NaN/inf garbage included)."""
    return torch.where(mask.unsqueeze(-1), x, torch.zeros((), dtype=x.dtype, device=x.device))


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over valid entries only; padded entries get weight 0 and an all-padded row gets all zeros."""
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(filled, dim=dim) * mask.to(scores.dtype)


def weighted_mean_std(x: torch.Tensor, weights: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean and standard deviation over dim 1 of ``x [B, T, C]`` with ``weights [B, T]`` summing to 1.

    The variance is the two-pass ``sum w (x - mu)^2`` and the std is ``sqrt(var + eps)`` (smooth at 0).
    """
    w = weights.unsqueeze(-1)
    mu = (w * x).sum(dim=1)
    var = (w * (x - mu.unsqueeze(1)).pow(2)).sum(dim=1)
    return mu, torch.sqrt(var + eps)


def uniform_weights(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Weights ``[B, T]`` that are ``1 / n_valid`` on valid positions and 0 elsewhere."""
    m = mask.to(dtype)
    return m / m.sum(dim=1, keepdim=True).clamp_min(1.0)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x [B, T, C]`` over valid positions (zeros for a row with no valid position)."""
    w = uniform_weights(mask, x.dtype).unsqueeze(-1)
    return (w * zero_padding(x, mask)).sum(dim=1)


class AdditiveAttention(nn.Module):
    """Scalar additive attention score per position: ``v^T tanh(W h + b)``."""

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.proj = nn.Linear(dim, hidden)
        self.v = nn.Linear(hidden, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Attention weights ``[B, T]``: a softmax over the valid positions of ``x [B, T, C]``."""
        scores = self.v(torch.tanh(self.proj(x))).squeeze(-1)
        return masked_softmax(scores, mask, dim=-1)


def mlp_head(in_dim: int, hidden: int, dropout: float = 0.0, out_dim: int = 1) -> nn.Sequential:
    """Two-layer MLP regressor: ``Linear -> GELU -> Dropout -> Linear``."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim))
