"""Text tower: token + learned position embeddings, a pre-LN Transformer encoder, pooled over real tokens.

Attention is bidirectional with a key padding mask, so pad tokens never influence real tokens, and pooling
reads real tokens only: padding a caption to any length leaves its embedding unchanged.

Pooling defaults to the masked mean over real tokens (``[BOS]`` and ``[EOS]`` included). MusCALL and CLIP
read the ``[EOS]`` position of a causal Transformer instead; we keep that as ``pooling="eos"`` but default to
the mean because (1) every token gets a direct gradient, which trains faster on the small corpora and short
CPU budgets this project targets, and (2) it is the pooling all-MiniLM-L6-v2 uses, so both text towers
pool the same way.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from muscall.config import TextEncoderConfig
from muscall.errors import MuscallError
from muscall.models.pooling import masked_mean

POOLINGS = ("mean", "eos")


class TransformerTextEncoder(nn.Module):
    """Token ids ``(B, L)`` + mask ``(B, L)`` -> pooled features ``(B, width)``."""

    def __init__(self, cfg: TextEncoderConfig, vocab_size: int, pooling: str = "mean"):
        super().__init__()
        if cfg.width % cfg.heads:
            raise MuscallError(f"model.text.width={cfg.width} must be divisible by model.text.heads={cfg.heads}")
        if pooling not in POOLINGS:
            raise MuscallError(f"text pooling '{pooling}': use one of {POOLINGS}")
        if vocab_size < 4:
            raise MuscallError(f"text vocab_size={vocab_size} is too small; train the tokenizer on more captions")
        self.pooling = pooling
        self.max_tokens = cfg.max_tokens
        self.output_dim = cfg.width
        self.token_embedding = nn.Embedding(vocab_size, cfg.width)
        self.position_embedding = nn.Parameter(torch.randn(cfg.max_tokens, cfg.width) * 0.01)
        self.dropout = nn.Dropout(cfg.dropout)
        layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, 4 * cfg.width, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.ln_final = nn.LayerNorm(cfg.width)
        nn.init.normal_(self.token_embedding.weight, std=0.02)

    @property
    def vocab_size(self) -> int:
        """Rows of the token embedding."""
        return self.token_embedding.num_embeddings

    def token_features(self, tokens: Tensor, attention_mask: Tensor) -> Tensor:
        """Per-token features ``(B, L, width)`` after the final LayerNorm (pad positions are meaningless)."""
        self._check(tokens, attention_mask)
        x = self.token_embedding(tokens) + self.position_embedding[: tokens.shape[1]]
        x = self.transformer(self.dropout(x), src_key_padding_mask=~attention_mask.bool())
        return self.ln_final(x)

    def pool(self, features: Tensor, attention_mask: Tensor) -> Tensor:
        """Pool ``(B, L, W)`` token features over the real tokens."""
        mask = attention_mask.bool()
        if self.pooling == "eos":
            last = (mask.sum(dim=1) - 1).clamp_min(0)
            return features[torch.arange(features.shape[0], device=features.device), last]
        return masked_mean(features, mask)

    def forward(self, tokens: Tensor, attention_mask: Tensor) -> Tensor:
        """Pooled features ``(B, width)``."""
        return self.pool(self.token_features(tokens, attention_mask), attention_mask)

    def _check(self, tokens: Tensor, attention_mask: Tensor) -> None:
        if tokens.dim() != 2 or tokens.shape != attention_mask.shape:
            raise MuscallError(f"text input must be token ids and a mask of the same (batch, length) shape, got "
                               f"{tuple(tokens.shape)} and {tuple(attention_mask.shape)}")
        if tokens.shape[1] > self.max_tokens:
            raise MuscallError(f"{tokens.shape[1]} tokens exceed model.text.max_tokens={self.max_tokens}; "
                               f"encode with CaptionTokenizer.encode_batch(texts, max_tokens={self.max_tokens})")
        if tokens.numel() and (int(tokens.max()) >= self.vocab_size or int(tokens.min()) < 0):
            raise MuscallError(f"token id out of range for a vocabulary of {self.vocab_size}; the tokenizer does "
                               f"not match this model (use the tokenizer saved with the checkpoint)")
        if not bool(attention_mask.bool().any(dim=1).all()):
            raise MuscallError("a caption has no real tokens in its attention mask; encode it with the tokenizer")
