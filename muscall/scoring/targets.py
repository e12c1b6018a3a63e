"""Target normalisation: fit a z-score on training ratings, train in z-space, map predictions back."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

ArrayLike = Sequence[float] | np.ndarray | torch.Tensor


@dataclass(frozen=True)
class TargetScaler:
    """``z = (y - mean) / std`` for one quality axis; JSON-serialisable via :meth:`to_dict`."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, targets: ArrayLike, min_std: float = 1e-6) -> "TargetScaler":
        """Fit on training targets (population std, floored at ``min_std`` for a constant axis)."""
        y = _as_numpy(targets)
        if y.size == 0 or not np.all(np.isfinite(y)):
            raise ValueError("TargetScaler.fit needs a non-empty array of finite ratings")
        return cls(mean=float(y.mean()), std=max(float(y.std()), min_std))

    def normalize(self, y: Any) -> Any:
        """Ratings -> z-scores (same type as the input: float, numpy array or tensor)."""
        return (y - self.mean) / self.std

    def denormalize(self, z: Any) -> Any:
        """Z-scores (model outputs) -> the rating scale (same type as the input)."""
        return z * self.std + self.mean

    def to_dict(self) -> dict[str, float]:
        """Plain dict for a checkpoint's JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> "TargetScaler":
        """Inverse of :meth:`to_dict`."""
        return cls(mean=float(data["mean"]), std=float(data["std"]))


def fit_target_scalers(targets: Mapping[str, ArrayLike]) -> dict[str, TargetScaler]:
    """One :class:`TargetScaler` per axis from ``{axis: training ratings}``."""
    return {axis: TargetScaler.fit(values) for axis, values in targets.items()}


def denormalize_scores(scores: Mapping[str, Any], scalers: Mapping[str, TargetScaler]) -> dict[str, Any]:
    """Map every axis in ``scores`` back to its rating scale (axes without a scaler pass through)."""
    return {axis: scalers[axis].denormalize(v) if axis in scalers else v for axis, v in scores.items()}


def _as_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy().ravel()
    return np.asarray(x, dtype=np.float64).ravel()
