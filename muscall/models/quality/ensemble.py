"""MMMOS-style ensembling: keep the top-k models by validation SRCC and average their per-axis scores."""

from __future__ import annotations

import math
from typing import Any, Sequence, TypeVar

import torch
from torch import nn

M = TypeVar("M")


def select_top_k(models_with_val_srcc: Sequence[tuple[M, float]], k: int) -> list[M]:
    """The ``k`` models with the highest validation SRCC, best first (NaN scores rank last; ties keep order)."""
    if k < 1:
        raise ValueError(f"select_top_k needs k >= 1, got {k}")
    ranked = sorted(enumerate(models_with_val_srcc), key=lambda item: (_sort_key(item[1][1]), item[0]))
    return [model for _, (model, _) in ranked[:k]]


def _sort_key(srcc: float) -> float:
    return math.inf if srcc is None or math.isnan(srcc) else -float(srcc)


class EnsembleScorer(nn.Module):
    """Average the ``{axis: [B]}`` outputs of several scorers called with the same arguments.

    An axis is averaged over the members that return it (members may cover different axes, e.g. an
    audio-only member has no TA); the output lists axes in first-seen order.
    """

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("EnsembleScorer needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """Per-axis mean of the members' scores."""
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}
        for member in self.members:
            for axis, score in member(*args, **kwargs).items():
                sums[axis] = sums[axis] + score if axis in sums else score
                counts[axis] = counts.get(axis, 0) + 1
        return {axis: total / counts[axis] for axis, total in sums.items()}
