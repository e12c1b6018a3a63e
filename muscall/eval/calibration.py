"""Calibration of single-label zero-shot probabilities: ECE, the reliability table, and temperature fitting.

* ECE (expected calibration error) with ``n_bins`` equal-width bins over the top-1 probability:
  ``sum_b |B_b| / n * |accuracy(B_b) - confidence(B_b)|``; a probability of exactly 1 falls in the last bin.
* ``fit_temperature`` finds the one softmax temperature ``T`` (``p = softmax(cos / T)``) that minimises the
  negative log-likelihood of the true labels. The NLL is convex in ``1 / T``, so a golden-section search over
  ``log T`` in a fixed bracket is exact up to its tolerance and deterministic (no random start, no step size).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from muscall.errors import MuscallError
from muscall.zeroshot import softmax

DEFAULT_BINS = 15
T_MIN, T_MAX = 1e-4, 1e2  # bracket of the search (cosines lie in [-1, 1], so T = 1e-4 is a scale of 1e4)
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _check(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, y = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    if p.ndim != 2 or y.shape != (len(p),) or len(p) == 0:
        raise ValueError(f"need probabilities (n, C) and n labels with n > 0, got {p.shape} and {y.shape}")
    return p, y.astype(np.int64)


def reliability_table(probs: np.ndarray, labels: np.ndarray, n_bins: int = DEFAULT_BINS) -> list[dict[str, Any]]:
    """One row per equal-width bin of top-1 probability: its range, count, mean confidence and accuracy."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    p, y = _check(probs, labels)
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    rows = []
    for b in range(n_bins):
        mask = bins == b
        count = int(mask.sum())
        rows.append({"low": b / n_bins, "high": (b + 1) / n_bins, "count": count,
                     "confidence": float(conf[mask].mean()) if count else None,
                     "accuracy": float(correct[mask].mean()) if count else None})
    return rows


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = DEFAULT_BINS) -> float:
    """ECE of the top-1 probability over equal-width bins (0: calibrated; up to 1)."""
    rows = reliability_table(probs, labels, n_bins)
    n = sum(r["count"] for r in rows)
    return float(sum(r["count"] / n * abs(r["accuracy"] - r["confidence"]) for r in rows if r["count"]))


def nll(cos: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(cos / temperature)``."""
    z = np.asarray(cos, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(z)), labels]))


def fit_temperature(cos: np.ndarray, labels: np.ndarray, tol: float = 1e-6) -> float:
    """The temperature minimising the NLL of ``labels`` under ``softmax(cos / T)`` (golden section on log T)."""
    c, y = _check(cos, labels)
    if y.min() < 0 or y.max() >= c.shape[1]:
        raise MuscallError(f"labels must index the {c.shape[1]} classes, got values {y.min()}..{y.max()}")
    lo, hi = math.log(T_MIN), math.log(T_MAX)
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = nll(c, y, math.exp(a)), nll(c, y, math.exp(b))
    while hi - lo > tol:
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - _GOLDEN * (hi - lo)
            fa = nll(c, y, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + _GOLDEN * (hi - lo)
            fb = nll(c, y, math.exp(b))
    return math.exp((lo + hi) / 2.0)


def calibration_block(cos: np.ndarray, labels: np.ndarray, temperature: float,
                      n_bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """ECE, NLL, mean top-1 probability and the reliability table of ``softmax(cos / temperature)``."""
    probs = softmax(np.asarray(cos, dtype=np.float64), temperature)
    return {"temperature": float(temperature), "ece": expected_calibration_error(probs, labels, n_bins),
            "nll": nll(cos, labels, temperature), "mean_confidence": float(probs.max(axis=1).mean()),
            "n_bins": n_bins, "reliability": reliability_table(probs, labels, n_bins)}
