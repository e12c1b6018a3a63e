"""Pooling of the audio tower's final feature map ``(B, C, F', T')`` into one vector per clip.

:class:`AttentionPool` follows CLIP's ``AttentionPool2d`` (a multi-head attention whose single query is the
mean of the feature map, attending over the mean token and every position), changed so that it works for
any number of time frames: CLIP's positional grid is fixed to one image size, ours is a learned embedding
per *frequency* row only (``F'`` is fixed by ``n_mels``), with no time embedding at all. A song's meaning
does not depend on where in the window a sound falls, so pooling is time-translation invariant by design,
needs no interpolation, and a 5 s crop and a 30 s window go through the same weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from muscall.errors import MuscallError


def _flatten_tokens(fmap: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """``(B, C, F, T)`` and a time mask ``(B, T)`` -> tokens ``(B, F*T, C)`` and their mask ``(B, F*T)``."""
    b, c, f, t = fmap.shape
    tokens = fmap.permute(0, 2, 3, 1).reshape(b, f * t, c)
    token_mask = mask[:, None, :].expand(b, f, t).reshape(b, f * t)
    return tokens, token_mask


def masked_mean(tokens: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``tokens (B, N, C)`` over positions where ``mask (B, N)`` is True."""
    weights = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


class MeanPool(nn.Module):
    """Masked average over frequency and time (the pooling ablation)."""

    def forward(self, fmap: Tensor, mask: Tensor) -> Tensor:
        """``(B, C, F, T)``, ``(B, T)`` -> ``(B, C)``."""
        tokens, token_mask = _flatten_tokens(fmap, mask)
        return masked_mean(tokens, token_mask)


class AttentionPool(nn.Module):
    """Multi-head attention pooling with a mean query; frequency-only positions, any number of frames."""

    def __init__(self, dim: int, heads: int, freq_bins: int):
        super().__init__()
        if heads < 1 or dim % heads:
            raise MuscallError(f"model.audio.attention_heads={heads} must divide the audio feature width {dim} "
                               f"(32 x model.audio.base_width)")
        self.freq_bins = freq_bins
        self.freq_embedding = nn.Parameter(torch.randn(freq_bins, dim) / dim**0.5)
        self.query_embedding = nn.Parameter(torch.randn(dim) / dim**0.5)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, fmap: Tensor, mask: Tensor) -> Tensor:
        """``(B, C, F, T)``, ``(B, T)`` -> ``(B, C)``."""
        if fmap.shape[2] != self.freq_bins:
            raise MuscallError(f"attention pooling was built for {self.freq_bins} frequency rows, got "
                               f"{fmap.shape[2]}; the log-mel has the wrong number of mel bins")
        tokens, token_mask = _flatten_tokens(fmap, mask)
        query = masked_mean(tokens, token_mask) + self.query_embedding  # (B, C)
        pos = self.freq_embedding.repeat_interleave(fmap.shape[3], dim=0)  # (F*T, C), row-major [f, t]
        seq = torch.cat([query[:, None, :], tokens + pos[None]], dim=1)  # (B, 1 + F*T, C)
        keep = torch.cat([token_mask.new_ones(token_mask.shape[0], 1), token_mask], dim=1)
        out, _ = self.attn(seq[:, :1], seq, seq, key_padding_mask=~keep, need_weights=False)
        return out[:, 0]
