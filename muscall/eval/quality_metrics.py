"""Quality-score metrics: MSE, LCC, SRCC, KTAU at utterance and system level, with percentile bootstrap CIs.

Correlations of a constant input are undefined and come back as NaN (never a warning or an exception), so a
degenerate predictor is reported honestly rather than crashing an evaluation run.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import stats

MetricFn = Callable[[np.ndarray, np.ndarray], float]
_BOOT_CHUNK = 64  # bootstrap resamples drawn at once: a (64, N) index array, not (n_boot, N)


def _pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(true, dtype=np.float64).ravel()
    if p.shape != t.shape or p.size == 0:
        raise ValueError(f"pred ({p.size}) and true ({t.size}) must be non-empty and the same length")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("pred and true must be finite; drop or fix NaN/inf scores first")
    return p, t


def _degenerate(p: np.ndarray, t: np.ndarray) -> bool:
    return p.size < 2 or np.ptp(p) == 0 or np.ptp(t) == 0


def mse(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean squared error."""
    p, t = _pair(pred, true)
    return float(np.mean((p - t) ** 2))


def lcc(pred: np.ndarray, true: np.ndarray) -> float:
    """Linear (Pearson) correlation; NaN if either side is constant."""
    p, t = _pair(pred, true)
    if _degenerate(p, t):
        return float("nan")
    pc, tc = p - p.mean(), t - t.mean()
    r = float(pc @ tc / np.sqrt((pc @ pc) * (tc @ tc)))
    return max(-1.0, min(1.0, r))


def srcc(pred: np.ndarray, true: np.ndarray) -> float:
    """Spearman rank correlation (Pearson of average ranks); NaN if either side is constant."""
    p, t = _pair(pred, true)
    if _degenerate(p, t):
        return float("nan")
    return lcc(stats.rankdata(p), stats.rankdata(t))


def ktau(pred: np.ndarray, true: np.ndarray) -> float:
    """Kendall tau-b (tie-corrected); NaN if either side is constant."""
    p, t = _pair(pred, true)
    if _degenerate(p, t):
        return float("nan")
    return float(stats.kendalltau(p, t, variant="b").statistic)


METRICS: dict[str, MetricFn] = {"MSE": mse, "LCC": lcc, "SRCC": srcc, "KTAU": ktau}


def utterance_level(pred: np.ndarray, true: np.ndarray) -> dict:
    """MSE, LCC, SRCC and KTAU over utterances."""
    p, t = _pair(pred, true)
    out: dict = {name: fn(p, t) for name, fn in METRICS.items()}
    out["n"] = int(p.size)
    return out


def system_means(values: np.ndarray, systems: Sequence) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(sorted system names, mean of ``values`` per system, utterance count per system)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    s = np.asarray(systems).ravel()
    if s.shape != v.shape:
        raise ValueError(f"systems ({s.size}) must name the system of each of the {v.size} utterances")
    names, inverse = np.unique(s, return_inverse=True)
    counts = np.bincount(inverse)
    return [str(n) for n in names], np.bincount(inverse, weights=v) / counts, counts


def system_level(pred: np.ndarray, true: np.ndarray | None, systems: Sequence,
                 system_truth: Mapping[str, float] | None = None) -> dict:
    """Metrics over per-system mean predictions against per-system truth.

    Truth is ``system_truth[name]`` when given (``truth="given"``), else the mean of this split's utterance
    scores per system (``truth="split_mean"``). ``per_system`` lists each system's mean prediction and truth.
    """
    names, pred_mean, counts = system_means(pred, systems)
    if system_truth is not None:
        lookup = {str(k): float(v) for k, v in system_truth.items()}
        missing = [n for n in names if n not in lookup]
        if missing:
            raise ValueError(f"system_truth has no score for systems {missing}; add them or drop their utterances")
        true_mean, truth = np.array([lookup[n] for n in names]), "given"
    elif true is not None:
        true_mean, truth = system_means(true, systems)[1], "split_mean"
    else:
        raise ValueError("system_level needs utterance truth (true) or a system_truth mapping")
    out: dict = {name: fn(pred_mean, true_mean) for name, fn in METRICS.items()}
    out.update(n_systems=len(names), truth=truth, per_system={
        n: {"pred": float(p), "true": float(t), "n_utts": int(c)}
        for n, p, t, c in zip(names, pred_mean, true_mean, counts)})
    return out


def bootstrap_ci(fn: MetricFn, pred: np.ndarray, true: np.ndarray, n: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> dict:
    """Percentile bootstrap CI of ``fn(pred, true)``, resampling (pred, true) pairs with replacement.

    For a system-level CI pass per-system means, so that systems are resampled. Resamples where ``fn`` is NaN
    (e.g. a constant resample) are dropped; ``n_valid`` counts those kept.
    """
    p, t = _pair(pred, true)
    if n < 1 or not 0 < alpha < 1:
        raise ValueError(f"bootstrap_ci needs n >= 1 and 0 < alpha < 1, got n={n}, alpha={alpha}")
    rng = np.random.default_rng(seed)
    vals = np.empty(n, dtype=np.float64)
    for lo in range(0, n, _BOOT_CHUNK):  # same draws as one (n, N) array, without holding it all at once
        idx = rng.integers(0, p.size, size=(min(_BOOT_CHUNK, n - lo), p.size))
        vals[lo:lo + len(idx)] = [fn(p[i], t[i]) for i in idx]
    vals = vals[~np.isnan(vals)]
    if vals.size == 0:
        low = high = float("nan")
    else:
        low, high = (float(v) for v in np.percentile(vals, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
    return {"point": float(fn(p, t)), "low": low, "high": high, "n_valid": int(vals.size)}


def quality_report(pred: np.ndarray, true: np.ndarray, systems: Sequence, n_boot: int = 1000, seed: int = 0,
                   alpha: float = 0.05, system_truth: Mapping[str, float] | None = None) -> dict:
    """Utterance- and system-level MSE/LCC/SRCC/KTAU, each with a percentile bootstrap CI."""
    p, t = _pair(pred, true)
    utt = utterance_level(p, t)
    utt["ci"] = {name: _ci_bounds(bootstrap_ci(fn, p, t, n_boot, seed, alpha)) for name, fn in METRICS.items()}
    sys_ = system_level(p, t, systems, system_truth)
    sp = np.array([v["pred"] for v in sys_["per_system"].values()])
    st = np.array([v["true"] for v in sys_["per_system"].values()])
    sys_["ci"] = {name: _ci_bounds(bootstrap_ci(fn, sp, st, n_boot, seed, alpha)) for name, fn in METRICS.items()}
    return {"utterance": utt, "system": sys_,
            "bootstrap": {"n": int(n_boot), "seed": int(seed), "alpha": float(alpha), "method": "percentile"}}


def _ci_bounds(ci: dict) -> dict:
    return {"low": ci["low"], "high": ci["high"], "n_valid": ci["n_valid"]}
