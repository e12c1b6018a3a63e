"""Zero-training text-alignment score: a calibrated, monotone map from embedding cosine to ``[0, 1]``.

Fit on cosines of matched (audio, its own caption) and mismatched (audio, another clip's caption) pairs:
a class-balanced logistic regression ``p = sigmoid(a * cos + b)`` with ``a >= 0``, so a higher cosine
never gives a lower score. The result is a small JSON-able dict that can live inside a checkpoint, and
reads as "probability that this caption describes this clip" under a 50/50 prior.

Fitting is Newton's method on the standardised cosine with a small ridge penalty, which keeps the slope
finite when matched and mismatched cosines do not overlap at all.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from scipy.stats import rankdata

CALIBRATION_KIND = "logistic"
CALIBRATION_VERSION = 1

ArrayLike = Sequence[float] | np.ndarray | torch.Tensor


def fit_calibration(matched_cos: ArrayLike, mismatched_cos: ArrayLike, ridge: float = 1e-2,
                    max_iters: int = 100) -> dict[str, Any]:
    """Fit ``sigmoid(a * cos + b)`` on matched (label 1) vs mismatched (label 0) cosines.

    Returns ``{"kind", "version", "a", "b", "n_matched", "n_mismatched", "auc"}``; ``auc`` is the ROC AUC
    of the raw cosine on the fitting pairs (0.5 = chance), a quick check that the embeddings separate them.
    """
    pos, neg = _as_numpy(matched_cos), _as_numpy(mismatched_cos)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("fit_calibration needs at least one matched and one mismatched cosine")
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(neg))):
        raise ValueError("fit_calibration: cosines must be finite")
    x = np.concatenate([pos, neg])
    y = np.concatenate([np.ones_like(pos), np.zeros_like(neg)])
    weights = np.where(y == 1, 0.5 / pos.size, 0.5 / neg.size)  # each class counts half
    center, scale = float(x.mean()), float(max(x.std(), 1e-6))
    slope, intercept = _newton_logistic((x - center) / scale, y, weights, ridge, max_iters)
    slope = max(slope, 0.0)  # monotone non-decreasing by construction
    a = slope / scale
    return {
        "kind": CALIBRATION_KIND,
        "version": CALIBRATION_VERSION,
        "a": float(a),
        "b": float(intercept - a * center),
        "n_matched": int(pos.size),
        "n_mismatched": int(neg.size),
        "auc": float(_auc(pos, neg)),
    }


def apply_calibration(params: Mapping[str, Any], cos: Any) -> Any:
    """Calibrated alignment in ``[0, 1]`` for a cosine (float, numpy array or tensor; same type back)."""
    if params.get("kind") != CALIBRATION_KIND:
        raise ValueError(f"unknown calibration kind {params.get('kind')!r}; expected '{CALIBRATION_KIND}'")
    a, b = float(params["a"]), float(params["b"])
    if isinstance(cos, torch.Tensor):
        return torch.sigmoid(a * cos + b)
    z = a * np.asarray(cos, dtype=np.float64) + b
    out = 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free sigmoid
    return float(out) if np.ndim(out) == 0 else out


def _newton_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float,
                     max_iters: int) -> tuple[float, float]:
    """Weighted logistic regression of ``y`` on 1-D ``x`` (ridge on the slope only) by Newton steps."""
    theta = np.zeros(2)  # slope, intercept
    design = np.stack([x, np.ones_like(x)], axis=1)
    penalty = np.diag([ridge, 0.0])
    for _ in range(max_iters):
        p = 0.5 * (1.0 + np.tanh(0.5 * (design @ theta)))
        grad = design.T @ (w * (p - y)) + penalty @ theta
        hess = (design * (w * p * (1 - p))[:, None]).T @ design + penalty + 1e-12 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(theta[0]), float(theta[1])


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC of score ``pos`` (label 1) vs ``neg`` (label 0) from average ranks (ties count half)."""
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def _as_numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy().ravel()
    return np.asarray(x, dtype=np.float64).ravel()
