"""Recall against exact search, and tuning of nprobe / efSearch to reach a recall target."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

import faiss
import numpy as np

from index.faiss_index import as_float32, get_knob, knob_max, search_knob, search_params, set_knob

log = logging.getLogger(__name__)


@dataclass
class TuneResult:
    """The chosen search parameter and the recall@k it gave on the tuning queries."""

    param: str | None  # nprobe | efSearch | None (exact index)
    value: int | None
    recall: float
    target: float
    reached: bool
    k: int = 10
    n_queries: int = 0
    tried: dict[int, float] = field(default_factory=dict)  # value -> recall

    def to_dict(self) -> dict:
        """Plain dict for a manifest."""
        return {"param": self.param, "value": self.value, "recall": round(self.recall, 4), "target": self.target,
                "reached": self.reached, "k": self.k, "n_queries": self.n_queries}


def exact_knn(chunks: Iterable[tuple[np.ndarray, np.ndarray]], queries: np.ndarray,
              k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner products of ``queries`` over ``(ids, vectors)`` chunks; (scores, ids), -1 padded."""
    q = as_float32(queries)
    best_d = np.full((len(q), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(q), k), -1, dtype=np.int64)
    for ids, x in chunks:
        x = as_float32(x, q.shape[1], "vectors")
        if not len(x):
            continue
        d, local = faiss.knn(q, x, min(k, len(x)), metric=faiss.METRIC_INNER_PRODUCT)
        all_d = np.concatenate([best_d, d], axis=1)
        all_i = np.concatenate([best_i, np.asarray(ids, dtype=np.int64)[local]], axis=1)
        order = np.argsort(-all_d, axis=1, kind="stable")[:, :k]
        best_d, best_i = np.take_along_axis(all_d, order, 1), np.take_along_axis(all_i, order, 1)
    return best_d, best_i


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    """Mean fraction of the true top-``k`` ids that appear in the found top-``k`` (-1 entries ignored)."""
    hits, total = 0, 0
    for f, t in zip(np.asarray(found)[:, :k], np.asarray(truth)[:, :k]):
        t = t[t >= 0]
        hits += len(np.intersect1d(f[f >= 0], t))
        total += len(t)
    return hits / total if total else 1.0


def search_excluding(index: faiss.Index, queries: np.ndarray, k: int, knob: int | None = None,
                     exclude: np.ndarray | None = None) -> np.ndarray:
    """Top-``k`` ids with a parameter override, dropping ``exclude[i]`` from row i (leave-one-out queries)."""
    extra = 0 if exclude is None else 1
    params, _keep = search_params(index, None, knob, k + extra)
    _, ids = index.search(as_float32(queries, index.d), k + extra, params=params)
    return drop_self(ids, exclude, k)


def drop_self(ids: np.ndarray, exclude: np.ndarray | None, k: int) -> np.ndarray:
    """Remove ``exclude[i]`` from row i of ``ids`` and keep the first ``k`` columns (-1 padded)."""
    if exclude is None:
        return ids[:, :k]
    out = np.full((len(ids), k), -1, dtype=np.int64)
    for row, (r, e) in enumerate(zip(ids, exclude)):
        kept = r[r != e][:k]
        out[row, :len(kept)] = kept
    return out


def tune(index: faiss.Index, queries: np.ndarray, target_recall: float, true_ids: np.ndarray, k: int = 10,
         exclude: np.ndarray | None = None, plateau: float = 0.002) -> TuneResult:
    """Raise nprobe / efSearch until recall@k of ``queries`` against ``true_ids`` reaches ``target_recall``.

    Doubles the parameter until the target is met, then bisects down to the smallest passing value, and sets
    it on the index. If recall stops growing below the target (doubling gains < ``plateau``; PQ codes cap
    recall) or the largest value misses it, the value where growth stopped is kept and ``reached`` is False.

    Args:
        true_ids: exact top-``k`` ids per query (see ``exact_knn``), excluding ``exclude`` when given.
        exclude: per-query id to ignore (queries that are catalog rows: their own id).
    """
    knob = search_knob(index)
    tried: dict[int, float] = {}

    def measure(value: int | None) -> float:
        rec = recall_at_k(search_excluding(index, queries, k, value, exclude), true_ids, k)
        if value is not None:
            tried[value] = rec
        return rec

    if knob is None:
        rec = measure(None)
        return TuneResult(None, None, rec, target_recall, rec >= target_recall, k, len(queries), tried)
    hi = k if knob == "efSearch" else 1  # efSearch below k acts as k
    top, steps = max(hi, knob_max(index)), []
    while measure(hi) < target_recall and hi < top:
        steps.append(hi)
        if len(steps) >= 3 and tried[steps[-1]] - tried[steps[-3]] < plateau:  # two doublings gained nothing:
            best = max(tried.values())  # the codes cap recall (PQ); keep the cheapest value near the best
            hi = min(v for v in steps if tried[v] >= best - plateau)
            break
        hi = min(hi * 2, top)
    if tried[hi] >= target_recall:
        lo = max((v for v in tried if v < hi), default=hi - 1)
        while hi - lo > max(1, lo // 8):
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if measure(mid) >= target_recall else (mid, hi)
    set_knob(index, hi)
    result = TuneResult(knob, hi, tried[hi], target_recall, tried[hi] >= target_recall, k, len(queries), tried)
    if not result.reached:
        log.warning("recall@%d reached only %.3f (target %.3f) at %s=%d", k, result.recall, target_recall, knob, hi)
    log.info("tuned %s=%d: recall@%d %.3f", knob, get_knob(index), k, result.recall)
    return result
