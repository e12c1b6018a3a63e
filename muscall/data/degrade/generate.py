"""Degrade a corpus into a quality-rating set: seeded clip choice, parallel fixed shards, resumable, assembled in order.

Layout of ``out``::

    audio/<source id>__<system>.flac  16-bit mono, the source's sample rate
    parts/settings.json               the settings this folder was started with (a resume must match them)
    parts/shard-NNNNN.jsonl           rows of one finished shard, written after its audio (the commit)
    manifest.jsonl                    all rows in clip order, then system order (ClipRow with system, ratings)
    systems.json                      system id -> type, level, severity, quality, params, level_split
    degrade.json                      format version, settings, label rules, counts, last run's speed

A crash loses at most the shards in flight; rerunning the same command skips finished shards.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from tqdm import tqdm

from index.fileio import atomic_write_json, sha256_file
from muscall.data.degrade.captions import TA_ALL_CHANGED, TA_BY_CHANGES
from muscall.data.degrade.clips import SELECT, ClipTask, DegradeSettings, degrade_shard, part_path
from muscall.data.degrade.facts import Vocabulary
from muscall.data.degrade.systems import JITTER, check_types, default_types, level_split
from muscall.data.manifest import SPLITS, ClipRow, read_manifest, write_manifest
from muscall.errors import MuscallError
from muscall.utils.processes import pool_initializer
from muscall.utils.run_folder import claim_run_folder

FORMAT_VERSION = 1
LEVEL_SPLIT_RULE = ("train a scorer on split=train rows whose level_split is not 'test'; evaluate on unseen "
                    "clips and levels with split=test rows whose level_split is not 'train' (clean rows are 'both')")


@dataclass
class DegradeSummary:
    """What a run produced."""

    out: str
    clips: int
    rows: int
    systems: int
    per_split: dict[str, int]
    done: int  # clips degraded by this run
    reused: int  # clips found in finished shards
    elapsed_s: float


def degrade_corpus(corpus: str | Path, out: str | Path, clips: int = 100, seed: int = 0, workers: int = 1,
                   types: Iterable[str] | None = None, holdout_levels: Iterable[int] = (2, 4),
                   holdout_types: Iterable[str] = (), systems_per_clip: int = 0, shard_size: int = 8,
                   audio_format: str = "flac", seconds: float = 0.0, clean_variants: bool = True,
                   progress: bool = True) -> DegradeSummary:
    """Make (or resume) graded versions of ``clips`` corpus clips in ``out``; returns a summary."""
    manifest = corpus_manifest(corpus)
    chosen_types = tuple(check_types(types) if types is not None else default_types())
    settings = DegradeSettings(str(manifest.resolve()), sha256_file(manifest), clips, seed, chosen_types,
                               tuple(sorted(set(holdout_levels))), tuple(sorted(set(holdout_types))),
                               systems_per_clip, shard_size, audio_format, float(seconds), bool(clean_variants))
    _validate(settings, workers)
    rows = read_manifest(manifest)
    if not rows:
        raise MuscallError(f"corpus manifest '{manifest}' has no rows; generate one with 'muscall data synth'")
    tasks = make_tasks(select_clips(rows, clips, seed))
    vocab = Vocabulary.from_rows(rows)
    out = Path(out)
    _claim(out, settings)
    shards = [tasks[k:k + shard_size] for k in range(0, len(tasks), shard_size)]
    todo = [k for k in range(len(shards)) if not part_path(out, k).is_file()]
    reused = len(tasks) - sum(len(shards[k]) for k in todo)
    start = time.perf_counter()
    bar = tqdm(total=len(tasks), initial=reused, unit="clip", desc="degrade", disable=not progress)
    try:
        run = _run_serial if workers == 1 or len(todo) <= 1 else _run_pool
        run(out, settings, shards, todo, vocab, workers, bar.update)
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    result = _assemble(out, settings, len(shards), len(tasks))
    summary = DegradeSummary(str(out), len(tasks), len(result), len(settings.systems()),
                             {s: sum(r.split == s for r in result) for s in SPLITS}, len(tasks) - reused, reused,
                             elapsed)
    _write_metadata(out, settings, summary)
    return summary


def corpus_manifest(corpus: str | Path) -> Path:
    """``corpus/manifest.jsonl`` for a folder, or the path itself for a manifest file."""
    path = Path(corpus)
    manifest = path / "manifest.jsonl" if path.is_dir() else path
    if not manifest.is_file():
        raise MuscallError(f"no corpus manifest at '{manifest}'; pass a folder made by 'muscall data synth' "
                           "(with manifest.jsonl) or a manifest file")
    return manifest


def select_clips(rows: list[ClipRow], clips: int, seed: int) -> list[ClipRow]:
    """A seeded choice of ``clips`` rows, split shares as in the corpus (each split at least one), corpus order."""
    if clips >= len(rows):
        return list(rows)
    groups = {s: [i for i, r in enumerate(rows) if r.split == s] for s in SPLITS}
    groups = {s: g for s, g in groups.items() if g}
    quota = {s: clips * len(g) / len(rows) for s, g in groups.items()}
    counts = {s: max(1 if clips >= len(groups) else 0, int(q)) for s, q in quota.items()}
    for s in sorted(groups, key=lambda s: quota[s] - int(quota[s]), reverse=True):
        if sum(counts.values()) >= clips:
            break
        counts[s] += 1
    while sum(counts.values()) > clips:  # the minimum of one per split overshot: take from the largest
        counts[max(counts, key=counts.get)] -= 1
    rng = np.random.default_rng(np.random.SeedSequence([seed, SELECT]))
    picked = [i for s in groups for i in np.asarray(groups[s])[rng.permutation(len(groups[s]))[:counts[s]]]]
    return [rows[i] for i in sorted(int(i) for i in picked)]


def make_tasks(chosen: list[ClipRow]) -> list[ClipTask]:
    """One task per chosen clip; the fallback mismatched caption is the next chosen clip's."""
    return [ClipTask(row, chosen[(i + 1) % len(chosen)].caption) for i, row in enumerate(chosen)]


def _validate(s: DegradeSettings, workers: int) -> None:
    problems = []
    if s.clips < 1:
        problems.append(f"--clips {s.clips}: need at least one clip")
    if workers < 1 or s.shard_size < 1:
        problems.append("--workers and --shard-size must be at least 1")
    if s.seconds < 0:
        problems.append(f"--seconds {s.seconds:g}: give 0 (whole clips) or a positive length")
    if s.audio_format not in ("flac", "wav"):
        problems.append(f"--format {s.audio_format}: choose flac or wav")
    if s.systems_per_clip < 0 or s.systems_per_clip == 1:
        problems.append(f"--systems-per-clip {s.systems_per_clip}: use 0 (all) or at least 2 (clean + others)")
    bad_levels = [lv for lv in s.holdout_levels if lv not in (1, 2, 3, 4)]
    if bad_levels:
        problems.append(f"--holdout-levels {bad_levels[0]}: levels are 1..4")
    unknown = [t for t in s.holdout_types if t not in s.types]
    if unknown:
        problems.append(f"--holdout-types '{unknown[0]}' is not among the degradation types {', '.join(s.types)}")
    if problems:
        raise MuscallError("; ".join(problems))


def _settings_dict(s: DegradeSettings) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(s)))


def _claim(out: Path, settings) -> None:
    """Record the settings in a new folder, or check that a started folder used the same ones."""
    claim_run_folder(out, dataclasses.asdict(settings), "degrade run", " (and unchanged corpus)")


def _run_serial(out: Path, settings: DegradeSettings, shards: list[list[ClipTask]], todo: list[int],
                vocab: Vocabulary, workers: int, done: Callable[[int], object]) -> None:
    for k in todo:
        done(degrade_shard(out, settings, k, shards[k], vocab))


def _run_pool(out: Path, settings: DegradeSettings, shards: list[list[ClipTask]], todo: list[int],
              vocab: Vocabulary, workers: int, done: Callable[[int], object]) -> None:
    ctx = mp.get_context("spawn")  # no inherited torch / thread state
    start, start_args = pool_initializer()
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx, initializer=start,
                             initargs=start_args) as pool:
        pending = {pool.submit(degrade_shard, str(out), settings, k, shards[k], vocab) for k in todo}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    done(future.result())
        finally:
            for future in pending:
                future.cancel()


def _assemble(out: Path, settings: DegradeSettings, n_shards: int, n_clips: int) -> list[ClipRow]:
    """All shard parts in order; checks that every clip is there once with the expected systems."""
    rows = [row for k in range(n_shards) for row in read_manifest(part_path(out, k))]
    per_clip = len(settings.systems()) if settings.systems_per_clip <= 0 else \
        min(settings.systems_per_clip, len(settings.systems()))
    ids = [r.id for r in rows]
    audio_rows = sum(not r.attributes.get("ta_only") for r in rows)
    if audio_rows != n_clips * per_clip or len(set(ids)) != len(ids):
        raise MuscallError(f"'{out}/parts' holds {audio_rows} audio rows ({len(set(ids))} distinct ids of "
                           f"{len(ids)}), expected {n_clips * per_clip}; "
                           f"delete '{out}/parts/shard-*.jsonl' files that look wrong and rerun to redo them")
    write_manifest(out / "manifest.jsonl", rows)
    return rows


def _write_metadata(out: Path, settings: DegradeSettings, summary: DegradeSummary) -> None:
    systems = settings.systems()
    atomic_write_json(out / "systems.json", {
        s.id: s.to_json(level_split(s, settings.holdout_levels, settings.holdout_types)) for s in systems})
    atomic_write_json(out / "degrade.json", {
        "format_version": FORMAT_VERSION,
        "generator": "muscall data degrade",
        "settings": _settings_dict(settings),
        "labels": {
            "MI": f"pseudo-quality 5 - 4 * severity per system (systems.json) plus uniform per-clip jitter "
                  f"of at most {JITTER}",
            "TA": {"changes": {str(k): v for k, v in TA_BY_CHANGES.items()}, "all_changed": TA_ALL_CHANGED,
                   "rows": "every (clip, system) row rates its caption variant on its (possibly degraded) audio; "
                           + ("rows with attributes.ta_only pair the clean audio with each other variant "
                              "(TA only, no MI)" if settings.clean_variants else "no clean-audio variant rows")},
            "level_split": LEVEL_SPLIT_RULE,
        },
        "counts": {"clips": summary.clips, "rows": summary.rows, "systems": summary.systems,
                   "per_split": summary.per_split},
        "last_run": {"degraded": summary.done, "reused": summary.reused, "elapsed_s": round(summary.elapsed_s, 2)},
    })


def format_summary(summary: DegradeSummary) -> str:
    """A few lines for the CLI."""
    speed = f", {summary.done / summary.elapsed_s:.2f} clips/s" if summary.done and summary.elapsed_s else ""
    splits = ", ".join(f"{k} {v}" for k, v in summary.per_split.items() if v)
    return (f"wrote {summary.rows} rows ({summary.clips} clips x up to {summary.systems} systems; {splits}) to "
            f"{summary.out}/manifest.jsonl\n"
            f"degraded {summary.done} clips, reused {summary.reused} from finished shards in "
            f"{summary.elapsed_s:.1f} s{speed}")
