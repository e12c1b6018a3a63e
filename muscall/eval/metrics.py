"""Retrieval and zero-shot metrics over score matrices (numpy only; scikit-learn for per-class AUCs).

Conventions shared by every function here:

- ``sim[Q, N]`` holds one row per query and one column per item; larger means more similar.
- Ranks are 1-based. :func:`rank_of_targets` breaks ties PESSIMISTICALLY: every item whose score equals the
  target's counts as ranked ahead of it, so a model that gives every item the same score gets the worst rank
  (N), never the best. R@k, MedR, the one-target mAP@k and zero-shot accuracy all use that rank.
- :func:`map_at_k` and :func:`ndcg_at_k` need a full ordering. By default (``ties="index"``) items are sorted
  stably by (-score, item index): among equal scores the lower item index comes first. ``ties="pessimistic"``
  puts less relevant items first within a tie instead.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

DIRECTIONS = ("text_to_audio", "audio_to_text")


def _scores(x: np.ndarray, name: str = "sim") -> np.ndarray:
    s = np.asarray(x)
    if not np.issubdtype(s.dtype, np.floating):
        s = s.astype(np.float64)  # float32 stays float32: a large eval matrix is not doubled in memory
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D [queries, items] array, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"{name} contains NaN or inf; check the embeddings for NaNs before scoring")
    return s


def _targets(targets: np.ndarray | None, q: int, n: int) -> np.ndarray:
    if targets is None:
        if q > n:
            raise ValueError(f"diagonal targets need queries <= items, got {q} queries and {n} items; pass targets")
        return np.arange(q)
    t = np.asarray(targets)
    if t.shape != (q,) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"targets must be {q} integer item indices, got shape {t.shape} dtype {t.dtype}")
    if t.min() < 0 or t.max() >= n:
        raise ValueError(f"targets must lie in [0, {n}), got range [{t.min()}, {t.max()}]")
    return t


def _gains(gains: np.ndarray, shape: tuple[int, int], name: str = "relevance") -> np.ndarray:
    g = np.asarray(gains, dtype=np.float64)
    if g.shape != shape:
        raise ValueError(f"{name} must have the shape of sim {shape}, got {g.shape}")
    if not np.isfinite(g).all() or (g < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    return g


def rank_of_targets(sim: np.ndarray, targets: np.ndarray | None = None) -> np.ndarray:
    """1-based rank of each query's target item; ties pessimistic (equal scores rank ahead of the target).

    ``targets=None`` means the diagonal (query i's target is item i). The rank is the number of items whose
    score is >= the target's, so constant scores give rank N for every query.
    """
    s = _scores(sim)
    t = _targets(targets, *s.shape)
    target_scores = s[np.arange(s.shape[0]), t]
    return (s >= target_scores[:, None]).sum(axis=1).astype(np.int64)


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """Fraction of queries whose target rank is <= k."""
    r = np.asarray(ranks)
    if r.size == 0 or k < 1:
        raise ValueError(f"recall_at_k needs at least one rank and k >= 1, got {r.size} ranks and k={k}")
    return float(np.mean(r <= k))


def mean_reciprocal_rank(ranks: np.ndarray) -> float:
    """Mean of 1 / rank over the queries (1.0 when every target ranks first)."""
    r = np.asarray(ranks)
    if r.size == 0 or np.any(r < 1):
        raise ValueError(f"mean_reciprocal_rank needs 1-based ranks, got {r.size} ranks")
    return float(np.mean(1.0 / r))


def median_rank(ranks: np.ndarray) -> float:
    """Median of the 1-based ranks (the mean of the two middle ranks for an even count)."""
    r = np.asarray(ranks)
    if r.size == 0:
        raise ValueError("median_rank needs at least one rank")
    return float(np.median(r))


def _ranked(sim: np.ndarray, gains: np.ndarray, ties: str) -> np.ndarray:
    """Gains reordered per row by the documented tie rule."""
    idx = np.broadcast_to(np.arange(sim.shape[1]), sim.shape)
    if ties == "index":
        order = np.lexsort((idx, -sim), axis=-1)
    elif ties == "pessimistic":
        order = np.lexsort((idx, gains, -sim), axis=-1)
    else:
        raise ValueError(f"ties must be 'index' or 'pessimistic', got {ties!r}")
    return np.take_along_axis(gains, order, axis=1)


def average_precision_at_k(sim: np.ndarray, relevance: np.ndarray, k: int = 10, ties: str = "index") -> np.ndarray:
    """Per-query AP@k = sum_{i<=k} P@i * rel_i / min(k, number relevant); NaN for queries with nothing relevant."""
    s = _scores(sim)
    rel = _gains(relevance, s.shape) > 0
    k = min(int(k), s.shape[1])
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    hits = _ranked(s, rel.astype(np.float64), ties)[:, :k]
    precision = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    n_rel = rel.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (precision * hits).sum(axis=1) / np.minimum(k, n_rel)
    return np.where(n_rel > 0, ap, np.nan)


def map_at_k(sim: np.ndarray, relevance: np.ndarray, k: int = 10, ties: str = "index") -> float:
    """Mean AP@k over queries with at least one relevant item (normalised by min(k, number relevant))."""
    ap = average_precision_at_k(sim, relevance, k, ties)
    if np.isnan(ap).all():
        raise ValueError("map_at_k: no query has a relevant item; check the relevance matrix")
    return float(np.nanmean(ap))


def ndcg_at_k(sim: np.ndarray, gains: np.ndarray, k: int = 10, ties: str = "index") -> float:
    """Mean nDCG@k with linear gains and 1/log2(rank+1) discounts, over queries with some positive gain.

    ``gains`` is a boolean relevance matrix or graded non-negative gains of sim's shape.
    """
    s = _scores(sim)
    g = _gains(gains, s.shape, "gains")
    k = min(int(k), s.shape[1])
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (_ranked(s, g, ties)[:, :k] * discount).sum(axis=1)
    idcg = (-np.sort(-g, axis=1)[:, :k] * discount).sum(axis=1)
    keep = idcg > 0
    if not keep.any():
        raise ValueError("ndcg_at_k: no query has a positive gain; check the relevance matrix")
    return float(np.mean(dcg[keep] / idcg[keep]))


def retrieval_metrics(sim: np.ndarray, targets: np.ndarray | None = None, relevance: np.ndarray | None = None,
                      ks: Sequence[int] = (1, 5, 10), map_k: int = 10, use_targets: bool = True) -> dict:
    """R@k, mAP@map_k, MedR (one target per query) and, given ``relevance``, attribute-level mAP/nDCG.

    ``targets=None`` is the MusCALL protocol: query i's target is item i. The one-target mAP@k is the mean of
    1/rank over queries ranked within k (pessimistic ties, like R@k). ``use_targets=False`` gives only the
    attribute-level metrics (for queries with no single paired item).
    """
    s = _scores(sim)
    out: dict = {"n_queries": int(s.shape[0]), "n_items": int(s.shape[1])}
    if not use_targets and relevance is None:
        raise ValueError("retrieval_metrics: use_targets=False needs a relevance matrix")
    if use_targets:
        ranks = rank_of_targets(s, targets)
        for k in ks:
            out[f"R@{k}"] = recall_at_k(ranks, k)
        out[f"mAP@{map_k}"] = float(np.mean(np.where(ranks <= map_k, 1.0 / ranks, 0.0)))
        out["MedR"] = median_rank(ranks)
        out["MeanR"] = float(np.mean(ranks))
    if relevance is not None:
        rel = _gains(relevance, s.shape)
        ap = average_precision_at_k(s, rel, map_k)
        out[f"attr_mAP@{map_k}"] = map_at_k(s, rel, map_k)
        out[f"attr_nDCG@{map_k}"] = ndcg_at_k(s, rel, map_k)
        out["attr_n_queries"] = int((~np.isnan(ap)).sum())
    return out


def pool_sample(n_total: int, pool_size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a seeded random evaluation pool of ``pool_size`` distinct items out of ``n_total``."""
    if not 1 <= pool_size <= n_total:
        raise ValueError(f"pool_size must be in [1, {n_total}] (the number of pairs), got {pool_size}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=pool_size, replace=False))


def chance_level(pool_size: int, ks: Sequence[int] = (1, 5, 10), map_k: int = 10) -> dict:
    """R@k, mAP@k and mean rank expected of a random ranking with one target among ``pool_size`` items.

    The rank is uniform on 1..n, so MedR here is the median of that distribution, (n + 1) / 2.
    """
    n = int(pool_size)
    if n < 1:
        raise ValueError(f"pool_size must be >= 1, got {pool_size}")
    out = {f"R@{k}": min(k, n) / n for k in ks}
    out[f"mAP@{map_k}"] = float(sum(1.0 / r for r in range(1, min(map_k, n) + 1)) / n)
    out["MedR"] = out["MeanR"] = (n + 1) / 2
    return out


def _bonus(bonus: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A search bonus (:func:`muscall.keys.key_bonus`) checked against the ``[texts, tracks]`` scores it is added to."""
    b = np.asarray(bonus, dtype=np.float64)
    if b.shape != shape or not np.isfinite(b).all():
        raise ValueError(f"bonus must be finite with the shape {shape} of the text x track scores, got {b.shape}")
    return b


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    if (norm == 0).any():
        raise ValueError("an embedding row is all zeros; it has no direction to compare")
    return x / norm


def retrieval_both_directions(audio_emb: np.ndarray, text_emb: np.ndarray, relevance: np.ndarray | None = None,
                              ks: Sequence[int] = (1, 5, 10), pool_size: int | None = None, seed: int = 0,
                              normalize: bool = True, bonus: np.ndarray | None = None) -> dict:
    """Text->audio and audio->text metrics for paired embeddings (row i of each is a pair), cosine scores
    (text->audio plus ``bonus[i, j]`` where given: what text search adds to text i's score of audio j,
    :func:`muscall.keys.key_bonus`; audio->text ranks by the cosines alone).

    ``relevance[i, j]`` (optional) says text i is relevant to audio j; its transpose is used for audio->text.
    ``pool_size`` draws a seeded pool of pairs (:func:`pool_sample`); ``None`` uses every pair. The result has
    one dict per direction plus ``pool`` ({n_total, size, seed}) and ``chance`` (:func:`chance_level`).
    """
    a = _scores(audio_emb, "audio_emb")
    t = _scores(text_emb, "text_emb")
    if a.shape != t.shape:
        raise ValueError(f"audio_emb {a.shape} and text_emb {t.shape} must be paired row by row with one width")
    n_total = a.shape[0]
    idx = pool_sample(n_total, pool_size, seed) if pool_size is not None else np.arange(n_total)
    a, t = a[idx], t[idx]
    if normalize:
        a, t = _l2_normalize(a), _l2_normalize(t)
    rel = None if relevance is None else _gains(relevance, (n_total, n_total))[np.ix_(idx, idx)]
    sim = t @ a.T
    searched = sim if bonus is None else sim + _bonus(bonus, (n_total, n_total))[np.ix_(idx, idx)]
    return {
        "text_to_audio": retrieval_metrics(searched, relevance=rel, ks=ks),
        "audio_to_text": retrieval_metrics(sim.T, relevance=None if rel is None else rel.T, ks=ks),
        "pool": {"n_total": int(n_total), "size": int(len(idx)),
                 "seed": int(seed) if pool_size is not None else None},
        "chance": chance_level(len(idx), ks),
    }


def zero_shot_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Top-k accuracy of class scores [N, C] against integer labels [N]; ties pessimistic (as rank_of_targets)."""
    s = _scores(scores, "scores")
    return recall_at_k(rank_of_targets(s, np.asarray(labels)), k)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Counts [C, C]: row = true class, column = predicted class; 2-D ``predictions`` are scores (argmax)."""
    y = np.asarray(labels)
    p = np.asarray(predictions)
    if p.ndim == 2:
        p = _scores(p, "predictions").argmax(axis=1)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"labels {y.shape} and predictions {p.shape} must be 1-D and the same length")
    c = int(n_classes if n_classes is not None else max(y.max(initial=-1), p.max(initial=-1)) + 1)
    if y.size and (min(y.min(), p.min()) < 0 or max(y.max(), p.max()) >= c):
        raise ValueError(f"class indices must lie in [0, {c})")
    cm = np.zeros((c, c), dtype=np.int64)
    np.add.at(cm, (y, p), 1)
    return cm


def multilabel_auc(scores: np.ndarray, targets: np.ndarray, class_names: Sequence[str] | None = None) -> dict:
    """Macro ROC-AUC and PR-AUC (average precision) over classes, with per-class values.

    Classes with no positive or no negative example have no AUC; they are left out of the macro means and
    listed under ``skipped``.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    s = _scores(scores, "scores")
    y = np.asarray(targets)
    if y.shape != s.shape or not np.isin(y, (0, 1)).all():
        raise ValueError(f"targets must be a 0/1 matrix of shape {s.shape}, got shape {y.shape}")
    names = list(class_names) if class_names is not None else [str(c) for c in range(s.shape[1])]
    if len(names) != s.shape[1]:
        raise ValueError(f"{len(names)} class names for {s.shape[1]} classes")
    per_class, skipped = {}, []
    for c, name in enumerate(names):
        n_pos = int(y[:, c].sum())
        if n_pos == 0 or n_pos == len(y):
            skipped.append(name)
            continue
        per_class[name] = {"roc_auc": float(roc_auc_score(y[:, c], s[:, c])),
                           "pr_auc": float(average_precision_score(y[:, c], s[:, c])), "n_pos": n_pos}
    if not per_class:
        raise ValueError("multilabel_auc: every class lacks positives or negatives; no AUC can be computed")
    return {
        "roc_auc_macro": float(np.mean([v["roc_auc"] for v in per_class.values()])),
        "pr_auc_macro": float(np.mean([v["pr_auc"] for v in per_class.values()])),
        "per_class": per_class,
        "skipped": skipped,
        "n_classes_used": len(per_class),
    }
