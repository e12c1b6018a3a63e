"""Generate a corpus folder: parallel over fixed shards, resumable, assembled in order at the end.

Layout of ``out``::

    audio/<id>.flac          16-bit mono clips (lossless, about half the size of WAV; libsndfile reads it)
    parts/settings.json      the settings this folder was started with (a resume must match them)
    parts/shard-NNNNN.jsonl  manifest rows of one finished shard, written after its audio (the commit)
    manifest.jsonl           all rows in clip order (muscall.data.manifest.ClipRow)
    labels.json              label sets for zero-shot tagging: genres, instruments, moods
    corpus.json              format version, settings, counts, soundfonts (held-out one), last run's speed

A crash loses at most the shards in flight; rerunning the same command skips finished shards.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable, Iterable

from tqdm import tqdm

from index.fileio import atomic_write_json
from muscall.data.manifest import ClipRow, read_manifest, write_manifest
from muscall.data.synth.captions import mood_vocabulary
from muscall.data.synth.clips import (FORMATS, ShardResult, SynthSettings, init_worker, part_path, render_shard,
                                      worker_shard)
from muscall.data.synth.instruments import all_names
from muscall.data.synth.production import PRESETS
from muscall.data.synth.render import SoundfontBank
from muscall.data.synth.soundfonts import KNOWN, check_holdout, resolve_soundfonts, split_pairs
from muscall.data.synth.styles import STYLES, parse_genres
from muscall.data.synth.summary import CorpusSummary, count_rows
from muscall.errors import MuscallError
from muscall.utils.processes import pool_initializer
from muscall.utils.run_folder import claim_run_folder

FORMAT_VERSION = 1


def generate_corpus(out: str | Path, n: int = 2000, seconds: float = 10.0, seed: int = 0, workers: int = 2,
                    soundfont: str | Path | Iterable[str | Path] | None = None,
                    genres: Iterable[str] | None = None, sample_rate: int = 16000,
                    splits: tuple[float, float, float] = (0.8, 0.1, 0.1), shard_size: int = 16,
                    audio_format: str = "flac", captions: int = 5, holdout_soundfont: str = "",
                    production: str = "default", holdout_wording: bool = False,
                    progress: bool = True) -> CorpusSummary:
    """Generate (or resume) a synthetic (audio, caption) corpus in ``out`` and return its summary.

    ``soundfont``: None for the packaged default set, else files, packaged names or NAME=PATH pairs (see
    ``soundfonts.resolve_soundfonts``); ``holdout_soundfont`` names one that renders test-split clips only.
    ``holdout_wording``: test clips also get a held-out caption and a short query (``synth/heldout.py``).
    """
    chosen = tuple(parse_genres(",".join(genres) if genres else None))
    fonts = resolve_soundfonts(soundfont)
    settings = SynthSettings(n, float(seconds), seed, sample_rate, chosen, tuple(splits), shard_size, audio_format,
                             captions, fonts, holdout_soundfont or "", production, holdout_wording)
    _validate(settings, workers)
    out = Path(out)
    _claim(out, settings)
    done = {k for k in range(settings.n_shards) if part_path(out, k).is_file()}
    todo = [k for k in range(settings.n_shards) if k not in done]
    reused = sum(len(settings.shard_range(k)) for k in done)
    start = time.perf_counter()
    bar = tqdm(total=settings.n, initial=reused, unit="clip", desc="synth", disable=not progress, smoothing=0.1)
    try:
        run = _run_serial if workers == 1 or len(todo) <= 1 else _run_pool
        run(out, settings, todo, workers, lambda r: bar.update(r.clips))
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    rows = _assemble(out, settings)
    summary = CorpusSummary(str(out), len(rows), float(sum(r.duration or 0 for r in rows)), settings.sample_rate,
                            settings.audio_format, count_rows(rows), rendered=settings.n - reused, reused=reused,
                            workers=workers, elapsed_s=elapsed,
                            per_soundfont_split=count_rows(rows, "soundfont"),
                            holdout_soundfont=settings.holdout_soundfont or None)
    _write_metadata(out, settings, rows, summary)
    return summary


def _validate(s: SynthSettings, workers: int) -> None:
    problems = []
    if s.n < 1:
        problems.append(f"--n {s.n}: need at least one clip")
    if not 0.5 <= s.seconds <= 600:
        problems.append(f"--seconds {s.seconds}: use a clip length between 0.5 and 600 seconds")
    if not 8000 <= s.sample_rate <= 96000:
        problems.append(f"--sample-rate {s.sample_rate}: fluidsynth renders between 8000 and 96000 Hz")
    if len(s.splits) != 3 or min(s.splits) < 0 or abs(sum(s.splits) - 1) > 1e-6:
        problems.append(f"--splits {','.join(map(str, s.splits))}: give three non-negative fractions summing to 1")
    if workers < 1 or s.shard_size < 1:
        problems.append("--workers and --shard-size must be at least 1")
    if not 1 <= s.captions <= 50:
        problems.append(f"--captions {s.captions}: use between 1 and 50 captions per clip")
    if s.audio_format not in FORMATS:
        problems.append(f"--format {s.audio_format}: choose one of {', '.join(FORMATS)}")
    if s.production not in PRESETS:
        problems.append(f"--production {s.production}: choose one of {', '.join(PRESETS)}")
    try:
        check_holdout(list(split_pairs(s.soundfonts)), s.holdout_soundfont, s.splits[2] if len(s.splits) == 3 else 0)
    except MuscallError as err:
        problems.append(str(err))
    unknown = [g for g in s.genres if g not in STYLES]
    if unknown or not s.genres:
        problems.append(f"genres {unknown or '(none)'}: choose from {', '.join(STYLES)}")
    if problems:
        raise MuscallError("; ".join(problems))


def _settings_dict(s: SynthSettings) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(s)))  # tuples -> lists, as stored


def _claim(out: Path, settings) -> None:
    """Record the settings in a new folder, or check that a started folder used the same ones."""
    claim_run_folder(out, dataclasses.asdict(settings), "synth corpus", "")


def _run_serial(out: Path, settings: SynthSettings, todo: list[int], workers: int,
                done: Callable[[ShardResult], None]) -> None:
    if not todo:
        return
    bank = SoundfontBank(settings.soundfonts, settings.sample_rate)
    try:
        for shard in todo:
            done(render_shard(out, settings, shard, bank))
    finally:
        bank.close()


def _run_pool(out: Path, settings: SynthSettings, todo: list[int], workers: int,
              done: Callable[[ShardResult], None]) -> None:
    """Render shards in ``workers`` processes, each with its own soundfonts (loaded lazily) and synthesizers."""
    ctx = mp.get_context("spawn")  # no forked fluidsynth/torch state
    start, start_args = pool_initializer(init_worker, settings.soundfonts, settings.sample_rate)
    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx, initializer=start,
                               initargs=start_args)
    try:
        pending = {pool.submit(worker_shard, str(out), settings, k) for k in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                done(future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _assemble(out: Path, settings: SynthSettings) -> list[ClipRow]:
    """All shard parts in order; checks that every clip is there exactly once."""
    rows = [row for k in range(settings.n_shards) for row in read_manifest(part_path(out, k))]
    ids = [r.id for r in rows]
    if len(ids) != settings.n or len(set(ids)) != len(ids):
        raise MuscallError(f"'{out}/parts' holds {len(set(ids))} distinct clips for n={settings.n}; "
                           f"delete '{out}/parts/shard-*.jsonl' files that look wrong and rerun to redo them")
    write_manifest(out / "manifest.jsonl", rows)
    return rows


def _write_metadata(out: Path, settings: SynthSettings, rows: list[ClipRow], summary: CorpusSummary) -> None:
    used_instruments = sorted({t["name"] for r in rows for t in r.attributes["instruments"]})
    used_moods = sorted({m for r in rows for m in r.attributes["moods"]})
    atomic_write_json(out / "labels.json", {
        "format_version": FORMAT_VERSION,
        "genres": list(settings.genres),
        "instruments": used_instruments,
        "moods": used_moods,
        "genre_synonyms": {g: list(STYLES[g].synonyms) for g in settings.genres},
        "all_instruments": all_names(),
        "all_moods": mood_vocabulary(),
    })
    atomic_write_json(out / "corpus.json", {
        "format_version": FORMAT_VERSION,
        "generator": "muscall data synth",
        "seed": settings.seed,
        "settings": _settings_dict(settings),
        "counts": {"clips": len(rows), "per_genre": summary.per_genre, "per_split": summary.per_split,
                   "per_genre_split": summary.per_genre_split},
        "total_seconds": summary.total_seconds,
        "soundfonts": _soundfont_table(settings, rows),
        "holdout_soundfont": settings.holdout_soundfont or None,
        "production": settings.production,
        "holdout_wording": settings.holdout_wording,
        "last_run": {"rendered": summary.rendered, "reused": summary.reused, "workers": summary.workers,
                     "elapsed_s": round(summary.elapsed_s or 0.0, 2),
                     "clips_per_s": round(summary.clips_per_s, 2) if summary.clips_per_s else None},
    })


def _soundfont_table(settings: SynthSettings, rows: list[ClipRow]) -> list[dict]:
    """Each soundfont's name, file, package (when packaged) and clips per split."""
    table = []
    for name, path in split_pairs(settings.soundfonts).items():
        per_split: dict[str, int] = {}
        for row in rows:
            if row.attributes.get("soundfont") == name:
                per_split[row.split] = per_split.get(row.split, 0) + 1
        table.append({"name": name, "path": path, "bytes": Path(path).stat().st_size,
                      "package": _package_of(path),
                      "heldout": name == settings.holdout_soundfont, "clips": per_split})
    return table


def _package_of(path: str) -> str | None:
    """The Debian package that installs the soundfont file ``path``, if it is one of the known ones."""
    return next((k.package for k in KNOWN.values() if path in (str(k.path), str(k.path.resolve()))), None)
