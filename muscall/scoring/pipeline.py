"""Manifest-level scoring workflows behind ``muscall score train|eval`` and ``scripts/bench_scoring.py``.

Rows come from a rated JSONL manifest (``muscall data degrade`` output, or any ClipRow manifest with
``system`` and ``ratings``). Rows that carry ``attributes.level_split`` are selected with
:func:`muscall.data.degrade.select_rows`: training and validation use seen levels only; evaluation picks
``seen``, ``unseen`` or ``all``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from index.fileio import atomic_write_text
from muscall.checkpoint import Checkpoint
from muscall.data.degrade.systems import select_rows
from muscall.data.manifest import ClipRow, read_manifest
from muscall.data.quality_readers import read_system_scores
from muscall.errors import MuscallError
from muscall.eval.report import to_jsonable
from muscall.config.scoring import ScoringConfig
from muscall.scoring.data import (FeatureExtractor, ScoringFeatures, cache_key, extract_features,
                                  load_feature_cache, save_feature_cache)
from muscall.scoring.evaluate import evaluate_heads, write_eval
from muscall.scoring.predict import ScorerBundle
from muscall.scoring.store import ScoringHeads, save_heads, store_calibration_in_checkpoint
from muscall.scoring.train import TrainSettings, fit_alignment_calibration, split_validation, train_heads

log = logging.getLogger(__name__)
SUBSETS = ("seen", "unseen", "all")


@dataclass
class TrainOutcome:
    """What ``muscall score train`` produced."""

    heads: ScoringHeads
    history: list[dict[str, Any]]
    path: Path


def rated_rows(manifest: str | Path, split: str, subset: str = "all") -> list[ClipRow]:
    """Rows of ``split`` with at least one rating; ``subset`` picks seen / unseen / all degradation levels."""
    if subset not in SUBSETS:
        raise MuscallError(f"subset '{subset}': use one of {', '.join(SUBSETS)}")
    rows = [r for r in select_rows(read_manifest(manifest), split, subset) if r.ratings]
    return rows


def features_for(ckpt: Checkpoint, rows: Sequence[ClipRow], manifest: str | Path, seconds: float | None,
                 cache: str | Path | None = None, device: str = "cpu", progress: bool = False) -> ScoringFeatures:
    """Features of ``rows`` from ``ckpt``'s frozen encoder, read from / written to ``cache`` (.npz) when given."""
    extractor = FeatureExtractor(ckpt.model, ckpt.tokenizer, ckpt.config.audio, ckpt.config.model.text.max_tokens,
                                 seconds, device)
    key = cache_key(ckpt.sha256, extractor.settings(), rows)
    if cache is not None:
        cached = load_feature_cache(cache, key)
        if cached is not None:
            log.info("features of %d rows read from %s", len(cached), cache)
            return cached
    feats = extract_features(extractor, rows, manifest, progress=progress)
    if cache is not None:
        save_feature_cache(cache, feats, key)
    return feats


def train_from_manifest(ckpt: Checkpoint, manifest: str | Path, out: str | Path, scoring: ScoringConfig,
                        settings: TrainSettings, seconds: float | None, train_split: str = "train",
                        val_split: str = "val", cache_dir: str | Path | None = None, into_checkpoint: bool = False,
                        progress: bool = False) -> TrainOutcome:
    """Extract features, train the heads, fit the alignment calibration, save everything to ``out``."""
    train_rows = rated_rows(manifest, train_split, "seen")
    if len(train_rows) < 4:
        raise MuscallError(f"manifest '{manifest}' has {len(train_rows)} rated '{train_split}' rows; the heads need "
                           "at least 4 (rows need 'ratings'; make some with 'muscall data degrade')")
    cache = Path(cache_dir) if cache_dir is not None else None
    train = features_for(ckpt, train_rows, manifest, seconds, cache and cache / f"{train_split}.npz",
                         settings.device, progress)
    val_rows = rated_rows(manifest, val_split, "seen")
    if val_rows:
        val = features_for(ckpt, val_rows, manifest, seconds, cache and cache / f"{val_split}.npz",
                           settings.device, progress)
    else:
        log.info("no rated '%s' rows; holding out 15%% of the training clips for early stopping", val_split)
        tr, va = split_validation(train, seed=settings.seed)
        train, val = train.subset(tr), train.subset(va)
    heads, history = train_heads(scoring, train, val, settings, progress)
    heads.features = {"seconds": seconds, "max_tokens": ckpt.config.model.text.max_tokens}
    heads.calibration = fit_alignment_calibration(train, settings.seed)
    sha = ckpt.sha256
    if into_checkpoint:
        sha = store_calibration_in_checkpoint(ckpt.path, heads.calibration)
    heads.checkpoint = {"path": str(Path(ckpt.path).resolve()), "sha256": sha}
    heads.training.update(manifest=str(manifest), train_split=train_split, val_split=val_split if val_rows else
                          f"{train_split} (held-out clips)")
    path = save_heads(out, heads)
    atomic_write_text(Path(out) / "history.jsonl", "".join(_json_line(r) for r in history))
    return TrainOutcome(heads, history, path)


def _json_line(row: dict[str, Any]) -> str:
    return json.dumps(to_jsonable({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()})) + "\n"


def eval_from_manifest(bundle: ScorerBundle, manifest: str | Path, split: str = "test", subset: str = "all",
                       system_scores: str | Path | None = None, out: str | Path | None = None, n_boot: int = 1000,
                       seed: int = 0, cache: str | Path | None = None, progress: bool = False) -> dict[str, Any]:
    """Evaluate ``bundle.heads`` on the rated rows of ``split`` / ``subset``; writes reports to ``out`` if given."""
    if bundle.heads is None:
        raise MuscallError("evaluation needs trained heads (--heads); train them with 'muscall score train'")
    rows = rated_rows(manifest, split, subset)
    if len(rows) < 2:
        raise MuscallError(f"manifest '{manifest}' has {len(rows)} rated '{split}' rows in subset '{subset}'; "
                           "pick another --split / --subset")
    device = str(bundle.extractor.device)
    feats = features_for(bundle.checkpoint, rows, manifest, bundle.extractor.seconds, cache, device, progress)
    truth = read_system_scores(system_scores) if system_scores is not None else None
    results, preds = evaluate_heads(bundle.heads, feats, truth, str(system_scores) if truth else None,
                                    n_boot=n_boot, seed=seed, device=device)
    results.update(manifest=str(manifest), split=split, subset=subset, skipped_rows=len(feats.skipped),
                   checkpoint=str(bundle.checkpoint.path))
    if out is not None:
        write_eval(results, preds, feats, out)
    return results
