"""Auxiliary fact objectives: linear classification heads on a tower's embedding, with masked losses.

Single-label heads (key, mode, tempo, genre) take integer targets and cross-entropy; instruments take
multi-label 0/1 rows and binary cross-entropy. A target of -1 (a single label, or a whole instruments row)
is unknown and masked out; a head with no known target in the batch contributes a zero that keeps its
parameters in the graph (DDP expects every parameter to get a gradient).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MULTI_LABEL = ("instruments",)


class FactHeads(nn.Module):
    """Linear heads over the ``dim``-wide embeddings; never part of the inference model.

    Apart (``shared=False``): one head per (tower, fact), so each tower may carry a fact in directions of its own.
    Shared: one head per fact read by every tower, so a fact lives in the same directions of the joint space for
    audio and text, and the dot product of a clip and a caption that agree on it gains from them.
    The embeddings are unit vectors (coordinates ~ 1/sqrt(dim)); they are scaled by sqrt(dim) first, so a
    head starts with logits of the usual size and learns at the rate of any linear layer.
    """

    def __init__(self, dim: int, classes: dict[str, int], towers: tuple[str, ...] = ("audio", "text"),
                 shared: bool = False):
        super().__init__()
        self.towers, self.classes, self.shared = towers, dict(classes), shared
        self.heads = nn.ModuleDict({h if shared else f"{t}_{h}": nn.Linear(dim, n)
                                    for t in towers for h, n in classes.items()})
        self.scale = dim ** 0.5

    def forward(self, embeds: dict[str, Tensor]) -> dict[str, Tensor]:
        """Logits keyed ``<tower>_<head>`` for each tower in ``embeds``."""
        return {f"{t}_{h}": self.heads[h if self.shared else f"{t}_{h}"](embeds[t] * self.scale)
                for t in self.towers if t in embeds for h in self.classes}


def fact_loss(logits: Tensor, target: Tensor, multi_label: bool) -> tuple[Tensor, Tensor | None]:
    """(masked loss, accuracy over known targets or None when there is none).

    Multi-label accuracy is the share of true labels found among the top-``k`` logits (``k`` true labels).
    """
    known = (target >= 0).all(dim=1) if multi_label else target >= 0
    if not bool(known.any()):
        return logits.sum() * 0.0, None
    logits, target = logits[known].float(), target[known]
    if multi_label:
        loss = F.binary_cross_entropy_with_logits(logits, target.float())
        return loss, _top_k_recall(logits.detach(), target)
    loss = F.cross_entropy(logits, target.long())
    return loss, (logits.detach().argmax(dim=1) == target).float().mean()


def _top_k_recall(logits: Tensor, target: Tensor) -> Tensor | None:
    k = target.sum(dim=1).long()
    if not bool((k > 0).any()):
        return None
    rank = logits.argsort(dim=1, descending=True).argsort(dim=1)
    hits = ((rank < k[:, None]) & (target > 0)).sum(dim=1)
    has = k > 0
    return (hits[has].float() / k[has].float()).mean()


def fact_losses(logits: dict[str, Tensor], targets: dict[str, Tensor]) -> dict[str, Tensor]:
    """``fact_<name>`` losses and ``fact_<name>_acc`` accuracies, plus ``facts``: the mean of the losses."""
    out: dict[str, Tensor] = {}
    for name, head_logits in logits.items():
        loss, acc = fact_loss(head_logits, targets[name].to(head_logits.device),
                              name.split("_", 1)[1] in MULTI_LABEL)
        out[f"fact_{name}"] = loss
        if acc is not None:
            out[f"fact_{name}_acc"] = acc
    losses = [v for k, v in out.items() if not k.endswith("_acc")]
    out["facts"] = torch.stack(losses).mean()
    return out
