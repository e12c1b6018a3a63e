"""Fact check for the text-alignment path: does the prompt state the key, mode and tempo that the signal shows?

A contrastive encoder trained on captions barely hears key (BENCHMARKS.md, retrieval notes), and a co-attention
head fed the raw chroma does not learn to match key *words* to it. This module splits the job in two:

* audio side, no learning: the clip's mean chroma (:mod:`muscall.audio.signal`) is correlated with the 24
  rotated Krumhansl-Kessler key profiles, and its tempo profile gives one value per tempo band; each becomes a
  distribution (softmax with a learned sharpness); the mode's distribution sums the key one over the tonics
  (prompts often state only the mode: "in a minor key");
* text side, learned: each token scores the same 24 keys (2 modes, tempo bands) plus one more class, "not
  stated", and the scores are pooled over the tokens by log-sum-exp, then a softmax. A token is its text-tower
  feature (its context) joined with an embedding of its id learned here: the frozen text tower has learned to
  ignore key names (a nearest-centroid probe on its features at the key word finds the key for 9% of captions,
  chance 4%: `scripts/text_facts.py`), so the words themselves must be read;
* agreement = ``p_text[:K] . (M p_audio)`` with ``M`` learned and initialised to the identity (so the head can
  learn which confusions the signal makes, e.g. a tempo's double or half), returned beside ``p_text["not stated"]``.

The TA head reads these six numbers (agreement and "not stated" for key, mode and tempo) beside its pooled
co-attention features, and they also reach the score through a linear term (:attr:`FactCheck.direct`). The text
side learns only from the TA targets: a prompt naming the key the chroma shows is rated higher than one naming
another key.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from muscall.audio.signal import CHROMA_AT, TEMPO_AT, TEMPO_EDGES_BPM
from muscall.keys import N_KEYS, key_templates
from muscall.models.quality.layers import as_mask, masked_mean, zero_padding

N_TEMPO = len(TEMPO_EDGES_BPM) - 1
# rows of the word embedding: token id modulo this. Exact for `small` (2,000 ids); the 8,000-id tokenizers of
# `paper` and `resnet50` share each row between two ids (the text-tower feature beside it still tells them apart)
WORD_BUCKETS = 4096
WORD_DIM = 32


def key_correlation(chroma: torch.Tensor) -> torch.Tensor:
    """Pearson correlation ``[B, 24]`` of chroma profiles ``[B, 12]`` with every key profile (a flat one gives 0)."""
    c = chroma - chroma.mean(dim=-1, keepdim=True)
    c = c / c.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    return c @ torch.from_numpy(key_templates()).to(c).T


class _StatedFact(nn.Module):
    """What a prompt states about one fact: a distribution over ``n`` values plus "not stated".

    Every token scores every value (a linear layer); a value's score is the log-sum-exp over the prompt's tokens,
    so one word ("minor", "D") can state it without being averaged away among the others.
    """

    def __init__(self, text_dim: int, n: int):
        super().__init__()
        self.classify = nn.Linear(text_dim, n + 1)
        self.mix = nn.Parameter(torch.eye(n))

    def p_text(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, n + 1]``: the prompt's distribution over the values, the last being "not stated"."""
        logits = self.classify(tokens)
        logits = logits.masked_fill(~mask.unsqueeze(-1), torch.finfo(logits.dtype).min)  # no token: uniform, not NaN
        return torch.softmax(torch.logsumexp(logits, dim=1), dim=-1)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, p_audio: torch.Tensor) -> torch.Tensor:
        """``[B, 2]``: agreement with the audio's distribution ``p_audio [B, n]``, and P(not stated)."""
        p_text = self.p_text(tokens, mask)
        agree = (p_text[:, :-1] * (p_audio @ self.mix.T)).sum(dim=-1)
        return torch.stack([agree, p_text[:, -1]], dim=-1)


class FactCheck(nn.Module):
    """Key, mode and tempo agreement between a clip's signal features and its prompt's tokens: ``[B, 6]``."""

    out_dim = 6

    def __init__(self, text_dim: int):
        super().__init__()
        self.words = nn.Embedding(WORD_BUCKETS, WORD_DIM)
        text_dim = text_dim + WORD_DIM
        self.key_sharpness = nn.Parameter(torch.tensor(math.log(20.0)))  # correlations differ by ~0.1 near the top
        self.tempo_sharpness = nn.Parameter(torch.tensor(math.log(10.0)))
        self.key = _StatedFact(text_dim, N_KEYS)
        self.mode = _StatedFact(text_dim, 2)
        self.tempo = _StatedFact(text_dim, N_TEMPO)
        # a direct path from the features to the score, agreement weights starting at 1: through the head's MLP
        # alone the text side gets almost no gradient at first (p_text is uniform, so agreement is constant)
        self.direct = nn.Linear(self.out_dim, 1, bias=False)
        with torch.no_grad():
            self.direct.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0, 0.0]]))

    def audio_facts(self, signal: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Key ``[B, 24]`` and tempo-band ``[B, N_TEMPO]`` distributions from raw (unstandardised) signal features."""
        m = as_mask(signal, mask)
        chroma = masked_mean(signal[..., CHROMA_AT:CHROMA_AT + 12], m)
        tempo = masked_mean(signal[..., TEMPO_AT:TEMPO_AT + N_TEMPO], m)
        return (torch.softmax(key_correlation(chroma) * self.key_sharpness.exp(), dim=-1),
                torch.softmax(tempo * self.tempo_sharpness.exp(), dim=-1))

    def forward(self, signal: torch.Tensor, mask: torch.Tensor | None, tokens: torch.Tensor,
                text_mask: torch.Tensor | None, token_ids: torch.Tensor | None) -> torch.Tensor:
        """``[B, 6]``: agreement and P(not stated) for key, mode and tempo."""
        if token_ids is None or token_ids.shape != tokens.shape[:2]:
            got = None if token_ids is None else tuple(token_ids.shape)
            raise ValueError(f"the fact check needs the prompts' token ids shaped {tuple(tokens.shape[:2])}, got {got} "
                             "(features extracted before token ids were stored: extract them again)")
        p_key, p_tempo = self.audio_facts(signal, mask)
        tm = as_mask(tokens, text_mask)
        words = self.words(torch.remainder(token_ids.long(), WORD_BUCKETS))
        tokens = zero_padding(torch.cat([tokens, words.to(tokens.dtype)], dim=-1), tm)
        p_mode = torch.stack([p_key[:, :12].sum(dim=-1), p_key[:, 12:].sum(dim=-1)], dim=-1)
        return torch.cat([self.key(tokens, tm, p_key), self.mode(tokens, tm, p_mode), self.tempo(tokens, tm, p_tempo)],
                         dim=-1)
