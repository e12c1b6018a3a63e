"""Benchmark quality (MI) and text-alignment (TA) scorers on unseen clips AND unseen degradation levels.

Input: an encoder checkpoint and a ``muscall data degrade`` folder (made here from ``--corpus`` when it does
not exist yet). Heads train on ``split=train`` rows of seen levels, stop early on ``split=val`` rows of seen
levels, and are tested on ``split=test`` rows whose level is held out (``level_split != train``; clean rows
count as both). Encoder features are extracted once and shared by every variant.

One table: system-level SRCC for quality (MI; predictions averaged per system, truth = mean rating per
system) and utterance-level SRCC for alignment (TA), for DRASP vs mean vs attentive statistics pooling (with
the signal features, and DRASP without them), the TA co-attention head with and without the Sinkhorn OT
term, a shuffled-label control (repeated with several shuffles; mean, sd and range reported) and the
zero-training calibrated cosine. TA is reported separately on clean-audio rows (the clean audio with each
caption variant) and on degraded-audio rows (a caption variant on a degraded version: quality confounds
alignment there). A second table breaks TA down by which attribute a caption changes. Targets: MI system
SRCC >= 0.9, TA utterance SRCC >= 0.8 (on clean audio).

    python scripts/bench_scoring.py --checkpoint runs/small/checkpoints/best --degraded data/quality \\
        --markdown scripts/results/60_scoring.md
    python scripts/bench_scoring.py --checkpoint CKPT --corpus data/corpus --degraded data/q --clips 800
"""

from __future__ import annotations

import argparse
import copy
import math
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.fileio import atomic_write_json, atomic_write_text
from muscall.checkpoint import Checkpoint, load_checkpoint
from muscall.errors import MuscallError
from muscall.eval.quality_metrics import bootstrap_ci, srcc, system_means
from muscall.data.degrade.systems import CLEAN
from muscall.data.manifest import read_manifest
from muscall.scoring.analysis import by_change_count, pairwise_by_attribute
from muscall.config.scoring import ScoringConfig
from muscall.scoring.data import ScoringFeatures
from muscall.scoring.evaluate import alignment_scores, predict_features
from muscall.scoring.pipeline import features_for, rated_rows
from muscall.scoring.train import TrainSettings, apply_scoring_overrides, fit_alignment_calibration, train_heads

TARGET_MI_SYSTEM, TARGET_TA_UTT = 0.9, 0.8


@dataclass
class Variant:
    """One row of the table: which axes, which config changes, shuffled labels or not."""

    name: str
    axes: list[str]
    changes: dict[str, Any]
    shuffle: bool = False
    ensemble: dict[str, Any] | None = None  # TrainSettings changes (members, top_k, poolings) for an MMMOS row


def variants(ot_weight: float) -> list[Variant]:
    """The compared scorers (OT weight of the 'with OT' row: the config's, or 0.1 when it is 0)."""
    ot = ot_weight if ot_weight > 0 else 0.1
    return [Variant("MI: DRASP pooling + signal features", ["MI"], {"pooling": "drasp", "signal_features": True}),
            Variant("MI: mean pooling + signal features", ["MI"], {"pooling": "mean", "signal_features": True}),
            Variant("MI: attentive statistics pooling + signal features", ["MI"],
                    {"pooling": "asp", "signal_features": True}),
            Variant("MI: DRASP pooling, encoder frames only", ["MI"], {"pooling": "drasp", "signal_features": False}),
            Variant("MI: MMMOS ensemble, 6 heads (DRASP/ASP/mean x 2 seeds) + signal, top 3 by val SRCC", ["MI"],
                    {"signal_features": True},
                    ensemble={"members": 6, "top_k": 3, "poolings": ["drasp", "asp", "mean"]}),
            Variant(f"TA: co-attention + OT (weight {ot:g}) + key/mode/tempo fact check", ["TA"],
                    {"ot_weight": ot, "ta_signal_features": False, "ta_fact_check": True}),
            Variant("TA: MMMOS ensemble, 4 fact-check heads (seeds), top 3 by val SRCC", ["TA"],
                    {"ot_weight": ot, "ta_signal_features": False, "ta_fact_check": True},
                    ensemble={"members": 4, "top_k": 3}),
            Variant(f"TA: co-attention + OT (weight {ot:g}) over frames + signal features (chroma, tempo)", ["TA"],
                    {"ot_weight": ot, "ta_signal_features": True, "ta_fact_check": False}),
            Variant(f"TA: co-attention + OT (weight {ot:g}), encoder frames only", ["TA"],
                    {"ot_weight": ot, "ta_signal_features": False, "ta_fact_check": False}),
            Variant("TA: co-attention, no OT, encoder frames only", ["TA"],
                    {"ot_weight": 0.0, "ta_signal_features": False, "ta_fact_check": False})]


def control(ot_weight: float) -> Variant:
    """The shuffled-label control: DRASP + signal features, co-attention + OT + fact check."""
    ot = ot_weight if ot_weight > 0 else 0.1
    return Variant("control: shuffled labels (DRASP + signal features; co-attention + OT + fact check)", ["MI", "TA"],
                   {"pooling": "drasp", "signal_features": True, "ta_signal_features": False, "ta_fact_check": True,
                    "ot_weight": ot},
                   shuffle=True)


def load_splits(ckpt: Checkpoint, manifest: Path, seconds: float | None, cache: Path | None,
                device: str) -> dict[str, ScoringFeatures]:
    """Features of train (seen levels), val (seen levels) and test (unseen levels) rows."""
    plan = {"train": ("train", "seen"), "val": ("val", "seen"), "test": ("test", "unseen")}
    out = {}
    for name, (split, subset) in plan.items():
        rows = rated_rows(manifest, split, subset)
        if len(rows) < 4:
            raise MuscallError(f"{manifest}: only {len(rows)} rated {split}/{subset} rows; degrade more clips")
        out[name] = features_for(ckpt, rows, manifest, seconds, cache and cache / f"{name}.npz", device, True)
    return out


def metrics(pred: np.ndarray, truth: np.ndarray, systems: list[str], n_boot: int, seed: int) -> dict[str, Any]:
    """Utterance SRCC with CI and system SRCC (per-system means) with CI, over rows with a finite rating."""
    ok = np.isfinite(truth)
    pred, truth, systems = pred[ok], truth[ok], [s for s, k in zip(systems, ok) if k]
    names, p_sys, _ = system_means(pred, systems)
    t_sys = system_means(truth, systems)[1]
    return {"utt": bootstrap_ci(srcc, pred, truth, n_boot, seed), "sys": bootstrap_ci(srcc, p_sys, t_sys, n_boot, seed),
            "n_utts": int(pred.size), "n_systems": len(names)}


def clean_audio(feats: ScoringFeatures) -> np.ndarray:
    """Rows whose audio is a clean (undegraded) clip."""
    return np.array([s == CLEAN for s in feats.systems])


def axis_metrics(axis: str, pred: np.ndarray, test: ScoringFeatures, n_boot: int, seed: int) -> dict[str, Any]:
    """MI: all rated test rows. TA: the same on clean-audio rows, plus ``degraded`` on degraded-audio rows."""
    if axis != "TA":
        return metrics(pred, test.ratings[axis], test.systems, n_boot, seed)
    clean = clean_audio(test)
    out = metrics(pred[clean], test.ratings[axis][clean], [s for s, c in zip(test.systems, clean) if c], n_boot,
                  seed)
    deg = metrics(pred[~clean], test.ratings[axis][~clean], [s for s, c in zip(test.systems, clean) if not c],
                  n_boot, seed)
    out["degraded"] = deg["utt"]
    out["n_degraded"] = deg["n_utts"]
    out["pred_clean"] = pred[clean]
    return out


def run_variant(v: Variant, base: ScoringConfig, feats: dict[str, ScoringFeatures], settings: TrainSettings,
                n_boot: int) -> dict[str, Any]:
    """Train one variant, score the test rows, return its metrics per axis and its training time."""
    cfg = copy.deepcopy(base)
    cfg.axes, cfg.text_axes = list(v.axes), [a for a in ["TA"] if a in v.axes]
    cfg.axis_losses = [e for e in cfg.axis_losses if e.partition("=")[0].strip() in cfg.axes]
    for key, value in v.changes.items():
        setattr(cfg, key, value)
    run = copy.deepcopy(settings)
    run.shuffle_labels = v.shuffle
    for key, value in (v.ensemble or {}).items():
        setattr(run, key, value)
    start = time.perf_counter()
    heads, _ = train_heads(cfg, feats["train"], feats["val"], run, progress=False)
    seconds = time.perf_counter() - start
    test = feats["test"]
    preds = predict_features(heads, test, settings.device)
    out = {a: axis_metrics(a, preds[a], test, n_boot, settings.seed) for a in v.axes}
    return {"name": v.name, "axes": out, "train_s": seconds,
            "val_srcc": {m.name: m.val_srcc for m in heads.members}}


def zero_training(feats: dict[str, ScoringFeatures], n_boot: int, seed: int) -> dict[str, Any]:
    """The calibrated cosine (fit on train rows) as a TA predictor on the test rows."""
    calibration = fit_alignment_calibration(feats["train"], seed)
    test = feats["test"]
    pred = alignment_scores(test, calibration)
    return {"name": "TA: zero-training calibrated cosine", "train_s": 0.0, "calibration": calibration,
            "axes": {"TA": axis_metrics("TA", pred, test, n_boot, seed)}}


def _cell(block: dict[str, Any] | None, level: str) -> str:
    if block is None:
        return "-"
    if "repeats" in block:  # control: several shuffles
        vals = [b[level]["point"] for b in block["repeats"]]
        vals = [v for v in vals if v is not None and math.isfinite(v)]
        if not vals:
            return "n/a"
        return f"{np.mean(vals):.3f} ± {np.std(vals):.2f} ({min(vals):.2f}..{max(vals):.2f}, n={len(vals)})"
    ci = block[level]
    if ci["point"] is None or not math.isfinite(ci["point"]):
        return "n/a"
    return f"{ci['point']:.3f} [{ci['low']:.2f}, {ci['high']:.2f}]"


def repeat_control(v: Variant, base: ScoringConfig, feats: dict[str, ScoringFeatures], settings: TrainSettings,
                   n_boot: int, repeats: int) -> dict[str, Any]:
    """The control trained ``repeats`` times with different shuffles; per axis the list of metric blocks."""
    runs = []
    for r in range(repeats):
        run = copy.deepcopy(settings)
        run.seed = settings.seed + 1000 * (r + 1)
        runs.append(run_variant(v, base, feats, run, n_boot))
    axes = {a: {"repeats": [x["axes"][a] for x in runs]} for a in v.axes}
    return {"name": f"{v.name}, {repeats} shuffles: mean ± sd (range)", "axes": axes,
            "train_s": float(np.mean([x["train_s"] for x in runs]))}


def markdown(results: list[dict[str, Any]], info: dict[str, Any], breakdown: str) -> str:
    """The command, the data, the targets, one table of every variant and the TA breakdown."""
    lines = ["### Quality and alignment scoring (unseen clips and degradation levels)", "",
             f"Command: `{info['command']}`", "",
             f"Encoder: `{info['checkpoint']}` (frozen). Rows: train {info['n']['train']}, val {info['n']['val']}, "
             f"test {info['n']['test']} ({info['test_clips']} clips; MI: {info['test_mi']} rows of "
             f"{info['test_systems']} systems = held-out levels + clean; TA: {info['test_ta_clean']} clean-audio "
             f"rows, {info['test_ta_degraded']} degraded-audio rows). Heads: {info['settings']}. 95% percentile "
             f"bootstrap CIs ({info['n_boot']} resamples).", "",
             f"Targets: MI system-level SRCC >= {TARGET_MI_SYSTEM}, TA utterance-level SRCC >= {TARGET_TA_UTT}.", "",
             "| scorer | MI system SRCC | MI utterance SRCC | TA utt SRCC, clean audio | TA utt SRCC, degraded "
             "audio | train s |", "|---|---|---|---|---|---|"]
    for r in results:
        mi, ta = r["axes"].get("MI"), r["axes"].get("TA")
        lines.append(f"| {r['name']} | {_cell(mi, 'sys')} | {_cell(mi, 'utt')} | {_cell(ta, 'utt')} | "
                     f"{_cell(ta, 'degraded')} | {r['train_s']:.1f} |")
    return "\n".join(lines + ["", verdict(results), "", breakdown, ""])


def breakdown_table(results: list[dict[str, Any]], test: ScoringFeatures, changed: list[list[str]]) -> str:
    """TA on clean-audio test rows by number of changed facts and by which single fact changed."""
    clean = clean_audio(test)
    ch = [c for c, k in zip(changed, clean) if k]
    audio = [str(i) for i, k in zip(test.audio_index, clean) if k]
    rows = [r for r in results if "TA" in r["axes"] and "pred_clean" in r["axes"]["TA"]]
    per = {r["name"]: (by_change_count(r["axes"]["TA"]["pred_clean"], ch),
                       pairwise_by_attribute(r["axes"]["TA"]["pred_clean"], ch, audio)) for r in rows}
    counts = sorted({k for c, _ in per.values() for k in c})
    kinds = sorted({k for _, p in per.values() for k in p})
    if not per or not kinds:
        return ""
    first = next(iter(per.values()))
    head = ("| TA scorer (clean-audio test rows) | " + " | ".join(f"mean, {k} changed (n={first[0][k]['n']})"
                                                               for k in counts)
            + " | " + " | ".join(f"P(true > {k} changed) (pairs={first[1][k]['pairs']})" for k in kinds) + " |")
    lines = ["#### What the alignment scores can tell apart", "",
             "Mean score by number of changed facts, and per fact kind the fraction of clips where the true "
             "caption outscores the caption with only that fact changed (same clean audio; 0.5 = blind to it).",
             "", head, "|" + "---|" * (1 + len(counts) + len(kinds))]
    for name, (c, p) in per.items():
        lines.append(f"| {name} | " + " | ".join(f"{c[k]['mean']:.3f}" for k in counts) + " | "
                     + " | ".join(f"{p[k]['accuracy']:.2f}" if k in p else "-" for k in kinds) + " |")
    return "\n".join(lines)


def verdict(results: list[dict[str, Any]]) -> str:
    """Best non-control MI system SRCC and TA utterance SRCC (clean audio) against the targets."""
    real = [r for r in results if not r["name"].startswith("control")]
    mi = max((r["axes"]["MI"]["sys"]["point"] for r in real if "MI" in r["axes"]), default=float("nan"))
    ta = max((r["axes"]["TA"]["utt"]["point"] for r in real if "TA" in r["axes"]), default=float("nan"))
    return (f"Best MI system SRCC {mi:.3f} (target {TARGET_MI_SYSTEM}: {_met(mi, TARGET_MI_SYSTEM)}); "
            f"best TA utterance SRCC on clean audio {ta:.3f} (target {TARGET_TA_UTT}: {_met(ta, TARGET_TA_UTT)}).")


def _summary(result: dict[str, Any]) -> str:
    """One line of a variant's headline numbers (progress output)."""
    parts = []
    for axis, block in result["axes"].items():
        level = "sys" if axis == "MI" else "utt"
        parts.append(f"{axis} {level} SRCC {_cell(block, level)}")
    return "; ".join(parts)


def _met(value: float | None, target: float) -> str:
    return "met" if value is not None and math.isfinite(value) and value >= target else "NOT met"


def ensure_degraded(args: argparse.Namespace) -> Path:
    """The degraded manifest; made from ``--corpus`` first when the folder has none."""
    manifest = Path(args.degraded) / "manifest.jsonl"
    if manifest.is_file():
        return manifest
    if not args.corpus:
        raise MuscallError(f"no {manifest}; run 'muscall data degrade --corpus DIR --out {args.degraded}' "
                           "or pass --corpus")
    from muscall.data.degrade import degrade_corpus

    degrade_corpus(args.corpus, args.degraded, clips=args.clips, seed=args.seed, workers=args.workers)
    return manifest


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", help="scoring.key=value overrides of the heads' config")
    p.add_argument("--checkpoint", required=True, help="encoder checkpoint (frozen)")
    p.add_argument("--degraded", required=True, help="'muscall data degrade' output folder")
    p.add_argument("--corpus", default=None, help="corpus to degrade when --degraded does not exist yet")
    p.add_argument("--clips", type=int, default=200, help="clips to degrade (with --corpus)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=6)
    p.add_argument("--control-repeats", type=int, default=3, help="shuffles of the shuffled-label control")
    p.add_argument("--ensemble", type=int, default=1, help="members per variant (seeds)")
    p.add_argument("--top-k", type=int, default=1)
    p.add_argument("--seconds", type=float, default=None, help="audio per clip (default: the encoder's clip_seconds)")
    p.add_argument("--cache", default=None, help="folder for .npz feature caches")
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for head training (1: fastest for "
                                                         "small heads; feature extraction keeps torch's default)")
    p.add_argument("--only", nargs="*", default=None, help="run only the variants whose name contains one of "
                   "these strings (e.g. 'TA:'); the table then has only those rows")
    p.add_argument("--markdown", default=None, help="write the table here")
    p.add_argument("--json", default=None, help="write all numbers here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    manifest = ensure_degraded(args)
    ckpt = load_checkpoint(args.checkpoint, device=args.device)
    base = apply_scoring_overrides(ckpt.config.scoring, args.overrides)
    seconds = ckpt.config.audio.clip_seconds if args.seconds is None else (args.seconds or None)
    feats = load_splits(ckpt, manifest, seconds, Path(args.cache) if args.cache else None, args.device)
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                             seed=args.seed, members=args.ensemble, top_k=args.top_k, device=args.device,
                             threads=args.threads)
    results = []
    for v in [v for v in variants(base.ot_weight) if not args.only or any(o in v.name for o in args.only)]:
        results.append(run_variant(v, base, feats, settings, args.n_boot))
        print(f"{v.name}: done in {results[-1]['train_s']:.1f} s; {_summary(results[-1])}", file=sys.stderr, flush=True)
    results.append(zero_training(feats, args.n_boot, args.seed))
    if args.control_repeats > 0:
        results.append(repeat_control(control(base.ot_weight), base, feats, settings, args.n_boot,
                                      args.control_repeats))
    test = feats["test"]
    changed_of = {r.id: list(r.attributes.get("changed") or []) for r in read_manifest(manifest)}
    clean, ta = clean_audio(test), np.isfinite(test.ratings.get("TA", np.full(len(test), np.nan)))
    info = {"command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
            "checkpoint": args.checkpoint, "n": {k: len(v) for k, v in feats.items()}, "n_boot": args.n_boot,
            "test_systems": len(set(s for s, m in zip(test.systems, np.isfinite(test.ratings["MI"])) if m)),
            "test_mi": int(np.isfinite(test.ratings["MI"]).sum()), "test_clips": len(set(test.sources)),
            "test_ta_clean": int((clean & ta).sum()), "test_ta_degraded": int((~clean & ta).sum()),
            "settings": f"epochs<={args.epochs}, patience {args.patience}, batch {args.batch_size}, lr {args.lr:g}, "
                        f"{args.ensemble} member(s), top-{args.top_k}"}
    text = markdown(results, info, breakdown_table(results, test, [changed_of[i] for i in test.ids]))
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    if args.json:
        from muscall.eval.report import to_jsonable

        atomic_write_json(args.json, to_jsonable({"info": info, "results": results}))


if __name__ == "__main__":
    main()
