"""The tagging job: score every catalog track's stored embedding against a zero-shot classifier.

No audio is decoded: the classifier (labels x prompt templates, ensembled as in evaluation) is one matrix
product with the stored track vectors (see ``scoring`` for the single/multi-label rules). Work is split in
parts (the catalog's shards, or chunks of an index's tracks); each part's scores are committed to
``OUT.parts/`` as it finishes, so a killed job resumes, and under ``torchrun`` rank ``r`` takes parts
``r, r + world, ...``. Rank 0 merges the parts into ``OUT`` (Parquet or CSV) and, with ``write_db``, stores
the tags in an index. ``OUT.job.json`` keeps the settings (and the calibration statistics). Single mode uses
the checkpoint's fitted temperature for the label set when there is one (see ``label_scores``), and with
``abstain_below`` a track whose top probability is below it gets no label and ``abstained`` true.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from muscall.catalog.plan import check_or_write_plan, mark_complete, read_plan, same_settings, wait_for
from muscall.catalog.label_scores import LabelStats, Scorer, abstain_thresholds, check_mode, parse_thresholds
from muscall.catalog.sources import EmbeddingSource, open_source
from muscall.catalog.tag_db import DbUpdate, check_same_model, write_tags
from muscall.catalog.tag_output import done_parts, output_format, read_parts, write_part, write_table
from muscall.checkpoint import Checkpoint
from muscall.errors import MuscallError
from muscall.utils.distributed import DistInfo, barrier
from muscall.zeroshot import build_classifier, fitted_temperature, templates_for

log = logging.getLogger(__name__)
PLAN_FORMAT = "muscall-tag-job"
PartHook = Callable[[int], None]


@dataclass
class TagJob:
    """Settings of one ``muscall tag`` run."""

    source: str  # an embedding catalog folder or a saved index folder
    labels: list[str]
    label_set: str = "labels"
    templates: list[str] | None = None  # None: the label set's shipped templates
    mode: str = "single"  # single | multi
    temperature: float | None = None  # None: single -> fitted, else the model's 1/exp(logit_scale); multi -> 1
    threshold: str | float | None = None  # see label_scores.parse_thresholds
    calibration: str | None = None  # None: the mode's default; multi: catalog | none; single: fitted | none
    abstain_below: float | None = None  # single: no label when the top probability is below this
    out: str | None = None  # default: SOURCE/tags-<label_set>.parquet
    part_size: int = 10_000  # tracks per part for an index source
    write_db: str | None = None  # a saved index to store the tags in
    progress: bool = True


@dataclass
class TagResult:
    """What a run did (``db`` is set on rank 0 when ``write_db`` was given)."""

    out: Path
    n_tracks: int
    n_scored: int  # tracks scored by this rank in this run
    seconds: float
    db: DbUpdate | None = None

    @property
    def tracks_per_second(self) -> float:
        """This rank's scoring throughput in this run."""
        return self.n_scored / self.seconds if self.seconds > 0 else 0.0


def output_path(job: TagJob) -> Path:
    """Where the table goes."""
    return Path(job.out) if job.out else Path(job.source) / f"tags-{job.label_set}.parquet"


def run_tag_job(ckpt: Checkpoint, job: TagJob, dist: DistInfo | None = None,
                on_part_done: PartHook | None = None) -> TagResult:
    """Tag every track of ``job.source`` (see the module docstring)."""
    dist, t0 = dist or DistInfo(), time.perf_counter()
    calibration = check_mode(job.mode, job.calibration, job.temperature)
    threshold = abstain_thresholds(job.mode, job.threshold, job.abstain_below)
    if job.part_size < 1:
        raise MuscallError(f"--part-size must be >= 1, got {job.part_size}")
    out = output_path(job)
    output_format(out)
    source = open_source(job.source, job.part_size)
    check_same_model(int(ckpt.model.embed_dim), ckpt.sha256, source.dim, source.model_hash, "the checkpoint")
    plan_path, parts_dir = out.with_name(out.name + ".job.json"), out.with_name(out.name + ".parts")
    scorer, settings = _scorer(ckpt, job, source, calibration, threshold)
    if dist.is_main:
        _start(plan_path, parts_dir, settings, scorer, source)
    barrier(dist)
    plan = read_plan(plan_path, PLAN_FORMAT, settings)
    if settings["calibration"] == "catalog":
        scorer.mean, scorer.std = (np.array(plan["stats"][k], dtype=np.float32) for k in ("mean", "std"))
    scored = 0
    if not plan.get("complete"):
        mine = [p for p in range(dist.rank, source.n_parts, dist.world_size) if p not in done_parts(parts_dir)]
        scored = score_parts(source, scorer, mine, parts_dir, job.progress, dist.rank, on_part_done)
        if not dist.is_main:
            (parts_dir / f"rank-{dist.rank}.done").touch()
            return TagResult(out, source.n_tracks, scored, time.perf_counter() - t0)
        wait_for([parts_dir / f"rank-{r}.done" for r in range(1, dist.world_size)])
        write_table(out, read_parts(parts_dir, source.n_parts), scorer, {**settings, "stats": plan.get("stats")})
        mark_complete(plan_path)
        shutil.rmtree(parts_dir, ignore_errors=True)
    result = TagResult(out, source.n_tracks, scored, time.perf_counter() - t0)
    if dist.is_main and job.write_db:
        with tqdm(total=source.n_tracks, unit="track", desc="write tags", disable=not job.progress) as bar:
            result.db = write_tags(job.write_db, source, scorer, job.label_set, bar.update)
    return result


def score_parts(source: EmbeddingSource, scorer: Scorer, parts: list[int], parts_dir: Path, progress: bool = True,
                rank: int = 0, on_part_done: PartHook | None = None) -> int:
    """Score and commit ``parts``; return the number of tracks scored."""
    parts_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    desc = "tag" if rank == 0 else f"tag rank {rank}"
    total = sum(source.rows(p) for p in parts)
    with tqdm(total=total, unit="track", desc=desc, position=rank, disable=not progress) as bar:
        for part in parts:
            ids, titles, emb = source.part(part)
            write_part(parts_dir, part, ids, titles, scorer.score(emb))
            n += len(ids)
            bar.update(len(ids))
            if on_part_done is not None:
                on_part_done(part)
    return n


def _scorer(ckpt: Checkpoint, job: TagJob, source: EmbeddingSource, calibration: str,
            threshold: str | float | None) -> tuple[Scorer, dict[str, Any]]:
    """The classifier and the settings a resumed run must share."""
    templates = templates_for(job.label_set, True, job.templates)
    weights = build_classifier(ckpt.model, ckpt.tokenizer, job.labels, templates,
                               ckpt.config.model.text.max_tokens, device=_device_of(ckpt.model))
    temperature, calibration = _temperature(ckpt, job, calibration, templates)
    thresholds = parse_thresholds(threshold, job.labels, job.mode)
    scorer = Scorer(list(job.labels), weights, job.mode, temperature, thresholds)
    settings = {"model_hash": ckpt.sha256, "source_model_hash": source.model_hash, "n_tracks": source.n_tracks,
                "n_parts": source.n_parts, "label_set": job.label_set, "labels": list(job.labels),
                "templates": templates, "mode": job.mode, "temperature": temperature, "calibration": calibration,
                "thresholds": [None if math.isnan(t) else t for t in thresholds]}
    return scorer, settings


def _temperature(ckpt: Checkpoint, job: TagJob, calibration: str, templates: list[str]) -> tuple[float, str]:
    """(temperature, calibration in effect): explicit, else fitted (single), else the model's (single) or 1."""
    if job.temperature is not None:
        return job.temperature, calibration if job.mode == "multi" else "none"
    if job.mode == "multi":
        return 1.0, calibration
    if calibration == "fitted":
        fitted = fitted_temperature(ckpt.path, ckpt.sha256, job.label_set, job.labels, templates)
        if fitted is not None:
            return fitted, "fitted"
        if job.calibration == "fitted":
            raise MuscallError(f"--calibration fitted: checkpoint '{ckpt.path}' has no temperature fitted for label "
                               f"set '{job.label_set}' with these labels and templates; fit one with 'muscall eval "
                               "zeroshot --split val --fit-temperature', or use --calibration none")
    return 1.0 / float(ckpt.model.scale().detach()), "none"


def _start(plan_path: Path, parts_dir: Path, settings: dict[str, Any], scorer: Scorer,
           source: EmbeddingSource) -> None:
    """Write the plan (with calibration statistics when needed), or keep a matching one; clear rank markers.

    Tagging is cheap, so a plan with other settings (new labels, mode, ...) is not an error: its parts and
    plan are dropped and the job starts over.
    """
    if plan_path.exists() and not same_settings(plan_path, PLAN_FORMAT, settings):
        log.info("%s: settings changed since the last run; tagging again from the start", plan_path)
        shutil.rmtree(parts_dir, ignore_errors=True)
        plan_path.unlink()
    extra = None
    if not plan_path.exists() and settings["calibration"] == "catalog":
        stats = LabelStats(scorer.weights)
        for i in range(source.n_parts):
            stats.update(source.part(i)[2])
        mean, std = stats.result()
        extra = {"stats": {"mean": mean, "std": std}}

    def clear() -> None:
        for marker in parts_dir.glob("rank-*.done"):
            marker.unlink()

    check_or_write_plan(plan_path, PLAN_FORMAT, settings, clear, extra=extra)


def _device_of(model: Any) -> Any:
    return next(model.parameters()).device
