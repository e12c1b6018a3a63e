"""Report writers: atomic JSON, Markdown tables and PNG plots (matplotlib Agg, no pyplot global state)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from index.fileio import atomic_path, atomic_write_json
from muscall.eval.metrics import DIRECTIONS
from muscall.eval.quality_metrics import lcc, srcc

_COUNT_KEYS = {"n_queries", "n_items", "attr_n_queries"}
_QUALITY_METRICS = ("MSE", "LCC", "SRCC", "KTAU")


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types: numpy scalars/arrays become Python ones, NaN/inf become None, paths become strings."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [to_jsonable(v) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | Path, results: Mapping[str, Any]) -> Path:
    """Write ``results`` as strict JSON (NaN written as null), atomically."""
    atomic_write_json(path, to_jsonable(results))
    return Path(path)


def _fmt(value: Any, key: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{value:.1f}" if key in ("MedR", "MeanR") else f"{value:.4f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _pool_line(results: Mapping[str, Any], directions: Sequence[str]) -> str:
    pool = results.get("pool")
    if pool:
        seed = "n/a (whole set)" if pool.get("seed") is None else pool["seed"]
        return f"Pool size: {pool['size']} of {pool['n_total']} pairs, seed: {seed}"
    return f"Pool size: {results[directions[0]].get('n_items', 'n/a')} items, seed: n/a"


def _retrieval_markdown(results: Mapping[str, Any], directions: Sequence[str]) -> str:
    keys: list[str] = []
    for d in directions:
        keys += [k for k in results[d] if k not in _COUNT_KEYS and k not in keys]
    chance = results.get("chance") or {}
    header = ["metric"] + [d.replace("_to_", " -> ") for d in directions] + (["chance"] if chance else [])
    rows = [[k] + [_fmt(results[d].get(k), k) for d in directions] + ([_fmt(chance.get(k), k)] if chance else [])
            for k in keys]
    return "\n".join([_pool_line(results, directions), ""] + _table(header, rows)) + "\n"


def _quality_markdown(results: Mapping[str, Any]) -> str:
    utt, sys_ = results["utterance"], results["system"]
    boot = results.get("bootstrap", {})
    level = int(round(100 * (1 - boot.get("alpha", 0.05))))
    header = ["metric", f"utterance (n={utt.get('n')})", f"{level}% CI",
              f"system (n={sys_.get('n_systems')}, truth={sys_.get('truth')})", f"{level}% CI"]

    def ci(block: Mapping[str, Any], m: str) -> str:
        c = block.get("ci", {}).get(m)
        return f"[{_fmt(c['low'])}, {_fmt(c['high'])}]" if c else "n/a"

    rows = [[m, _fmt(utt.get(m)), ci(utt, m), _fmt(sys_.get(m)), ci(sys_, m)] for m in _QUALITY_METRICS]
    line = f"Bootstrap: {boot.get('method', 'percentile')}, n={boot.get('n', 'n/a')}, seed: {boot.get('seed', 'n/a')}"
    return "\n".join([line, ""] + _table(header, rows)) + "\n"


def markdown_table(results: Mapping[str, Any]) -> str:
    """Markdown for a retrieval result (one column per direction, pool size and seed first) or a quality report."""
    if "utterance" in results and "system" in results:
        return _quality_markdown(results)
    directions = [d for d in DIRECTIONS if d in results]
    if not directions:
        raise ValueError("markdown_table expects retrieval_both_directions() output (keys text_to_audio / "
                         "audio_to_text) or quality_report() output (keys utterance / system)")
    return _retrieval_markdown(results, directions)


def _save(fig: Figure, path: str | Path) -> Path:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return Path(path)


def plot_recall_curve(ranks_by_name: Mapping[str, np.ndarray], path: str | Path, max_k: int | None = None,
                      title: str = "Recall@k") -> Path:
    """PNG of R@k for k = 1..K, one line per name; K defaults to the largest rank seen, capped at 100."""
    if not ranks_by_name:
        raise ValueError("plot_recall_curve needs at least one named array of ranks")
    arrays = {name: np.asarray(r) for name, r in ranks_by_name.items()}
    k_max = int(max_k or min(100, max(int(r.max()) for r in arrays.values())))
    ks = np.arange(1, k_max + 1)
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for name, r in arrays.items():
        ax.plot(ks, (r[None, :] <= ks[:, None]).mean(axis=1), label=name, drawstyle="steps-post")
    ax.set(xlabel="k", ylabel="R@k", title=title, ylim=(0, 1.02), xlim=(1, k_max))
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_confusion(cm: np.ndarray, labels: Sequence[str], path: str | Path, normalize: bool = True,
                   title: str = "Confusion matrix") -> Path:
    """PNG of a confusion matrix (rows true, columns predicted), row-normalised by default."""
    m = np.asarray(cm, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or len(labels) != m.shape[0]:
        raise ValueError(f"cm must be square with one label per class, got shape {m.shape} and {len(labels)} labels")
    if normalize:
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.4 * len(labels) + 2)
    fig = Figure(figsize=(size, size))
    ax = fig.add_subplot()
    image = ax.imshow(m, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xticks(range(len(labels)), labels, rotation=90)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    if len(labels) <= 20:
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center", fontsize=7)
    return _save(fig, path)


def plot_scatter(pred: np.ndarray, true: np.ndarray, path: str | Path, title: str = "Predicted vs true") -> Path:
    """PNG scatter of predictions against truth with the y = x line and LCC/SRCC in the legend."""
    p, t = np.asarray(pred, dtype=np.float64).ravel(), np.asarray(true, dtype=np.float64).ravel()
    if p.shape != t.shape or p.size == 0:
        raise ValueError(f"pred ({p.size}) and true ({t.size}) must be non-empty and the same length")
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.scatter(t, p, s=10, alpha=0.6, label=f"LCC={_fmt(lcc(p, t))}, SRCC={_fmt(srcc(p, t))}")
    lo, hi = float(min(p.min(), t.min())), float(max(p.max(), t.max()))
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="true", ylabel="predicted", title=title)
    ax.legend(loc="upper left")
    return _save(fig, path)
