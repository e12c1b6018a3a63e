"""Symmetric InfoNCE (CLIP) loss and MusCALL's caption-similarity sample weights."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from muscall.errors import MuscallError


def infonce_loss(audio_embeds: Tensor, text_embeds: Tensor, logit_scale: Tensor | float,
                 weights: Tensor | None = None) -> Tensor:
    """Mean of audio->text and text->audio cross-entropy over ``logit_scale * audio @ text.T``.

    Row ``i`` of both inputs is a matching pair. With ``weights`` (``(B,)``, e.g. :func:`caption_weights`) each
    direction is the weighted mean ``sum(w_i * ce_i) / sum(w_i)``, as in MusCALL's weighted loss.
    """
    if audio_embeds.shape != text_embeds.shape or audio_embeds.dim() != 2:
        raise MuscallError(f"infonce_loss needs two (batch, dim) tensors of one shape, got "
                           f"{tuple(audio_embeds.shape)} and {tuple(text_embeds.shape)}")
    logits = logit_scale * audio_embeds @ text_embeds.t()
    labels = torch.arange(logits.shape[0], device=logits.device)
    audio_to_text = F.cross_entropy(logits, labels, reduction="none")
    text_to_audio = F.cross_entropy(logits.t(), labels, reduction="none")
    if weights is None:
        return (audio_to_text.mean() + text_to_audio.mean()) / 2
    weights = weights.to(logits.dtype).detach()
    if weights.shape != (logits.shape[0],):
        raise MuscallError(f"weights must have shape ({logits.shape[0]},), got {tuple(weights.shape)}")
    total = weights.sum()
    return ((weights * audio_to_text).sum() + (weights * text_to_audio).sum()) / (2 * total)


def caption_weights(sim: Tensor, temperature: float) -> Tensor:
    """MusCALL's per-sample weights ``exp(s_i / sum_j s_j / temperature)`` from caption similarities.

    ``s_i`` is caption ``i``'s mean similarity to the *other* captions of the batch (the diagonal is
    excluded), clamped at 0; the ``s_i`` are normalised to sum to 1 before the exponential. Samples whose
    captions resemble the rest of the batch (more likely false negatives) weigh more. Because the
    normalised values average ``1/B``, weights only spread when ``temperature`` is around ``1/B`` or below
    (the released code uses 0.01 with batches of 256). All-zero similarity gives equal weights of 1.
    """
    if sim.dim() != 2 or sim.shape[0] != sim.shape[1]:
        raise MuscallError(f"caption similarity must be square (batch, batch), got {tuple(sim.shape)}")
    if temperature <= 0:
        raise MuscallError(f"caption weight temperature must be positive, got {temperature}")
    batch = sim.shape[0]
    sim = sim.detach().float()
    off_diagonal = sim.masked_fill(torch.eye(batch, dtype=torch.bool, device=sim.device), 0.0)
    mean_sim = (off_diagonal.sum(dim=1) / max(batch - 1, 1)).clamp_min(0.0)
    total = mean_sim.sum()
    if total <= 1e-12:
        return torch.ones(batch, device=sim.device)
    return torch.exp(mean_sim / total / temperature)
