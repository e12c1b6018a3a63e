"""WhisQ-style text-alignment (TA) path: bidirectional audio-text co-attention -> pooled features -> score.

WhisQ (Emon et al., "WhisQ: Cross-Modal Representation Learning for Text-to-Music MOS Prediction", 2025)
keeps both modalities as sequences: audio frames attend to text tokens and text tokens attend to audio
frames (multi-head, padding masked out), each side is pooled, and an MLP predicts TA. Here the pooled
sides are concatenated with the cosine similarity of the two global embeddings (the dual encoder's
``encode_audio`` / ``encode_text`` when given, else of the pooled projected sequences).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from muscall.models.quality.layers import AdditiveAttention, as_mask, masked_mean, mlp_head, zero_padding
from muscall.config.scoring import TA_POOLINGS


class CrossAttentionBlock(nn.Module):
    """Pre-norm cross attention + feed-forward, queries from one sequence, keys/values from the other."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * dim, dim))

    def forward(self, q: torch.Tensor, q_mask: torch.Tensor, kv: torch.Tensor, kv_mask: torch.Tensor) -> torch.Tensor:
        """Updated queries ``[B, Tq, D]``; padded query positions come back as 0."""
        kv_n = self.norm_kv(kv)
        attended, _ = self.attn(self.norm_q(q), kv_n, kv_n, key_padding_mask=~kv_mask, need_weights=False)
        x = q + attended
        x = x + self.ff(self.norm_ff(x))
        return zero_padding(x, q_mask)


class _SeqPool(nn.Module):
    """Masked mean or additive-attention pooling of ``[B, T, D]`` into ``[B, D]``."""

    def __init__(self, dim: int, kind: str):
        super().__init__()
        if kind not in TA_POOLINGS:
            raise ValueError(f"unknown TA pooling '{kind}'; use one of {', '.join(TA_POOLINGS)}")
        self.attention = AdditiveAttention(dim) if kind == "attentive" else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.attention is None:
            return masked_mean(x, mask)
        return (self.attention(x, mask).unsqueeze(-1) * x).sum(dim=1)


class CoAttentionTA(nn.Module):
    """Bidirectional co-attention between audio frames and text tokens, pooled, + cosine -> TA score ``[B]``."""

    def __init__(self, audio_dim: int, text_dim: int, dim: int = 256, heads: int = 4, layers: int = 1,
                 pooling: str = "mean", hidden: int = 256, dropout: float = 0.1, extra_dim: int = 0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"co-attention dim {dim} must be divisible by heads {heads}")
        self.audio_proj = nn.Linear(audio_dim, dim)
        self.text_proj = nn.Linear(text_dim, dim)
        self.audio_to_text = nn.ModuleList(CrossAttentionBlock(dim, heads, dropout) for _ in range(layers))
        self.text_to_audio = nn.ModuleList(CrossAttentionBlock(dim, heads, dropout) for _ in range(layers))
        self.audio_pool = _SeqPool(dim, pooling)
        self.text_pool = _SeqPool(dim, pooling)
        self.extra_dim = extra_dim  # features joined before the head, e.g. the fact check's agreements
        self.head = mlp_head(2 * dim + 1 + extra_dim, hidden, dropout)

    def project(self, audio: torch.Tensor, audio_mask: torch.Tensor | None, text: torch.Tensor,
                text_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Both sequences in the shared ``dim`` space, padding zeroed: ``(a [B,T,D], am, t [B,L,D], tm)``.

        This is also the space where the Sinkhorn OT regulariser compares frames with tokens.
        """
        am, tm = as_mask(audio, audio_mask), as_mask(text, text_mask)
        a = zero_padding(self.audio_proj(zero_padding(audio, am)), am)
        t = zero_padding(self.text_proj(zero_padding(text, tm)), tm)
        return a, _keep_one(am), t, _keep_one(tm)

    def co_attend(self, a: torch.Tensor, am: torch.Tensor, t: torch.Tensor,
                  tm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio attends to text and text to audio (both from the same layer inputs), layer by layer."""
        for a2t, t2a in zip(self.audio_to_text, self.text_to_audio):
            a, t = a2t(a, am, t, tm), t2a(t, tm, a, am)
        return a, t

    def forward(self, audio: torch.Tensor, audio_mask: torch.Tensor | None, text: torch.Tensor,
                text_mask: torch.Tensor | None, audio_emb: torch.Tensor | None = None,
                text_emb: torch.Tensor | None = None) -> torch.Tensor:
        """TA score ``[B]`` from frames ``[B, T, C]`` and tokens ``[B, L, W]`` (+ optional global embeddings)."""
        return self.score(*self.project(audio, audio_mask, text, text_mask), audio_emb, text_emb)

    def score(self, a: torch.Tensor, am: torch.Tensor, t: torch.Tensor, tm: torch.Tensor,
              audio_emb: torch.Tensor | None = None, text_emb: torch.Tensor | None = None,
              extra: torch.Tensor | None = None) -> torch.Tensor:
        """TA score ``[B]`` from already projected sequences (see :meth:`project`); ``extra [B, extra_dim]``."""
        a_co, t_co = self.co_attend(a, am, t, tm)
        pa, pt = self.audio_pool(a_co, am), self.text_pool(t_co, tm)
        if (audio_emb is None) != (text_emb is None):
            raise ValueError("give both audio_emb and text_emb, or neither")
        if audio_emb is None:
            cos = F.cosine_similarity(masked_mean(a, am), masked_mean(t, tm), dim=-1)
        else:
            cos = F.cosine_similarity(audio_emb, text_emb, dim=-1)
        joined = [pa, pt, cos.unsqueeze(-1).to(pa.dtype)]
        if self.extra_dim:
            if extra is None or extra.shape != (pa.shape[0], self.extra_dim):
                got = None if extra is None else tuple(extra.shape)
                raise ValueError(f"this TA path needs extra features shaped ({pa.shape[0]}, {self.extra_dim}), "
                                 f"got {got}")
            joined.append(extra.to(pa.dtype))
        return self.head(torch.cat(joined, dim=-1)).squeeze(-1)


def _keep_one(mask: torch.Tensor) -> torch.Tensor:
    """Mask with position 0 marked valid in rows that have no valid position (avoids all-masked softmax NaNs)."""
    empty = ~mask.any(dim=1)
    if not empty.any():
        return mask
    fixed = mask.clone()
    fixed[empty, 0] = True
    return fixed
