"""``muscall score eval``: trained heads on rated rows: MSE/LCC/SRCC/KTAU at utterance and system level.

System level averages the predictions per system first; the truth is the split's mean rating per system
(``truth: split_mean``) or a given system-score file (``truth: given``, its path in ``truth_source``).
Bootstrap CIs come from :func:`muscall.eval.quality_metrics.quality_report`. The zero-training calibrated
alignment (cosine of the global embeddings) is reported against TA as a reference when both exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from index.fileio import atomic_write_text
from muscall.eval.quality_metrics import quality_report, utterance_level
from muscall.eval.report import markdown_table, plot_scatter, write_json
from muscall.scoring.calibration import apply_calibration
from muscall.scoring.data import ScoringFeatures
from muscall.scoring.store import ScoringHeads


def predict_features(heads: ScoringHeads, feats: ScoringFeatures, device: str = "cpu",
                     batch_size: int = 64) -> dict[str, np.ndarray]:
    """Ensemble predictions on the rating scale for every row: ``{axis: [N]}``."""
    out: dict[str, list[np.ndarray]] = {}
    for lo in range(0, len(feats), batch_size):
        batch = feats.batch(np.arange(lo, min(lo + batch_size, len(feats))), device)
        for axis, v in heads.predict(batch).items():
            out.setdefault(axis, []).append(v)
    return {a: np.concatenate(v) for a, v in out.items()}


def alignment_scores(feats: ScoringFeatures, calibration: Mapping[str, Any] | None) -> np.ndarray:
    """Calibrated zero-training alignment per row (the raw cosine when there is no calibration)."""
    cos = np.einsum("nd,nd->n", feats.audio_emb[feats.audio_index], feats.text_emb[feats.text_index])
    return np.asarray(apply_calibration(calibration, cos)) if calibration else cos.astype(np.float64)


def evaluate_heads(heads: ScoringHeads, feats: ScoringFeatures, system_scores: Mapping[str, Mapping[str, float]] |
                   None = None, truth_source: str | None = None, n_boot: int = 1000, seed: int = 0,
                   device: str = "cpu") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Per-axis quality reports (utterance + system level with CIs) and the predictions they came from."""
    preds = predict_features(heads, feats, device)
    axes: dict[str, Any] = {}
    for axis, pred in preds.items():
        truth = feats.ratings.get(axis)
        if truth is None:
            continue
        ok = np.isfinite(truth)
        if ok.sum() < 2:
            continue
        systems = np.asarray(feats.systems)[ok]
        sys_truth = {s: float(v[axis]) for s, v in system_scores.items() if axis in v} if system_scores else None
        report = quality_report(pred[ok], truth[ok], systems, n_boot=n_boot, seed=seed, system_truth=sys_truth)
        report["system"]["truth_source"] = truth_source if sys_truth else "mean rating of the evaluated rows"
        axes[axis] = report
    results: dict[str, Any] = {"axes": axes, "n_rows": len(feats)}
    if "TA" in feats.ratings and np.isfinite(feats.ratings["TA"]).sum() >= 2:
        ok = np.isfinite(feats.ratings["TA"])
        zero = utterance_level(alignment_scores(feats, heads.calibration)[ok], feats.ratings["TA"][ok])
        zero.pop("MSE")  # a probability against a 1..5 rating: only correlations are meaningful
        results["zero_training_alignment_vs_TA"] = zero
    return results, preds


def write_eval(results: dict[str, Any], preds: Mapping[str, np.ndarray], feats: ScoringFeatures,
               out: str | Path) -> list[Path]:
    """``score_eval.json``, ``score_eval.md`` and a scatter PNG per axis (utterance and system level)."""
    out = Path(out)
    written = [write_json(out / "score_eval.json", results)]
    for axis, report in results["axes"].items():
        truth = feats.ratings[axis]
        ok = np.isfinite(truth)
        written.append(plot_scatter(preds[axis][ok], truth[ok], out / f"scatter_{axis}_utterance.png",
                                    title=f"{axis}: utterance level"))
        per = report["system"]["per_system"]
        if len(per) >= 2:
            written.append(plot_scatter(np.array([v["pred"] for v in per.values()]),
                                        np.array([v["true"] for v in per.values()]),
                                        out / f"scatter_{axis}_system.png", title=f"{axis}: system level"))
    md = out / "score_eval.md"
    atomic_write_text(md, eval_markdown(results))
    return written + [md]


def eval_markdown(results: Mapping[str, Any]) -> str:
    """One quality table per axis, plus the zero-training alignment line."""
    parts = []
    for axis, report in results["axes"].items():
        parts.append(f"## {axis}\n\nSystem truth: {report['system'].get('truth_source')}\n\n{markdown_table(report)}")
    zero = results.get("zero_training_alignment_vs_TA")
    if zero:
        parts.append("## Zero-training alignment (calibrated cosine) vs TA\n\n"
                     + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in zero.items()))
    return "\n".join(parts) + "\n"
