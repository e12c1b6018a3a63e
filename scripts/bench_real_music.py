"""Benchmark real music end to end: import a folder, embed, index, and find its re-encoded copies as duplicates.

Imports SRC (``--format tags``: embedded tags; ``folder``: sidecar .txt captions), writes three copies of every
kept track with PyAV (MP3 128 kb/s, Opus 64 kb/s, -6 dB gain FLAC), embeds originals and copies together,
builds an index and runs the duplicate finder. Reports import failures, embedding tracks/s and real-time
factor (audio seconds per wall second), peak memory, and duplicate recall/precision at ``--threshold`` with
the margin between the lowest true-pair score and the highest other-pair score among the k nearest: for the
vectors alone, and for vector candidates confirmed by the recording fingerprints (``--fingerprint-threshold``).

    python scripts/bench_real_music.py --src /usr/share/games/warzone2100/music --format tags \\
        --checkpoint runs/small/checkpoints/best --markdown scripts/results/70_real_music.md
"""

from __future__ import annotations

import argparse
import itertools
import platform
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from index import open_catalog
from index.duplicates import Confirm, DuplicatePair, catalog_duplicates, of_kind, shard_windows
from index.fileio import atomic_write_text
from index.fingerprint import DEFAULT_THRESHOLD as FINGERPRINT_THRESHOLD
from index.fingerprint import COPY_MAX_SPREAD_DB, shard_fingerprints, shard_levels
from muscall.audio.decode import decode, resample
from muscall.audio.ffmpeg import encode
from muscall.catalog.indexing import build_index
from muscall.catalog.job import EmbedJob, run_embed_job
from muscall.checkpoint import Checkpoint, load_checkpoint
from muscall.config import AudioConfig, load_config
from muscall.data.formats import FormatOptions
from muscall.data.importer import import_source
from muscall.data.manifest import ClipRow, resolve_audio_path, write_manifest
from muscall.models import create_model
from muscall.models.tokenizer import train_tokenizer

RATE = 44100
COPIES = {"mp3": ("mp3", "libmp3lame", 128_000, RATE, 1.0), "opus": ("ogg", "libopus", 64_000, 48000, 1.0),
          "gain": ("flac", "flac", None, RATE, 0.5)}  # name -> (suffix, codec, bit rate, rate, gain: -6 dB)


def model(args: argparse.Namespace) -> Checkpoint:
    """The checkpoint to embed with, or a randomly initialised model of ``--config``."""
    if args.checkpoint:
        return load_checkpoint(args.checkpoint)
    cfg = load_config(args.config)
    tokenizer = train_tokenizer(["a calm piano piece", "loud rock guitar", "fast techno beat"], 64)
    torch.manual_seed(0)
    net = create_model(cfg, vocab_size=tokenizer.vocab_size).eval()
    return Checkpoint(model=net, config=cfg, tokenizer=tokenizer, path=Path("."), sha256=f"bench-{args.config}")


def with_copies(rows: list[ClipRow], manifest: Path, work: Path) -> tuple[list[ClipRow], dict[str, str]]:
    """Originals plus three PyAV re-encodings of each; track id -> its original's id."""
    out, origin = [], {}
    audio = AudioConfig(sample_rate=RATE, min_seconds=None, max_seconds=None)
    for row in rows:
        path = resolve_audio_path(row, manifest).resolve()
        out.append(ClipRow(id=row.id, audio_path=str(path), caption=row.caption))
        origin[row.id] = row.id
        wave = decode(path, audio)
        for name, (suffix, codec, bit_rate, rate, gain) in COPIES.items():
            copy = work / "copies" / f"{row.id}.{name}.{suffix}"
            copy.parent.mkdir(parents=True, exist_ok=True)
            encode(copy, resample(wave, RATE, rate) * gain, rate, codec, bit_rate)
            out.append(ClipRow(id=f"{row.id}.{name}", audio_path=str(copy), caption=row.caption))
            origin[f"{row.id}.{name}"] = row.id
    return out, origin


def duplicate_scores(index_dir: Path, catalog_dir: Path, origin: dict[str, str], threshold: float,
                     k: int, fingerprint_threshold: float = FINGERPRINT_THRESHOLD
                     ) -> tuple[dict[str, float], list[DuplicatePair]]:
    """Recall, precision and threshold margin of the duplicate finder against the known copies: vectors alone
    (keys as named), vector candidates confirmed by fingerprints (keys prefixed ``fp_``) and those of them judged
    copies by their level profiles (``copy_``); and the confirmed pairs that are not known copies."""
    windows, prints, levels = shard_windows(catalog_dir), shard_fingerprints(catalog_dir), shard_levels(catalog_dir)
    with open_catalog(index_dir) as catalog:  # fingerprint threshold 0: every candidate scored, judged below
        scored = catalog_duplicates(catalog, -1.0, windows, k, Confirm(prints, 0.0, levels) if prints else None)
    truth = {tuple(sorted(p)) for group in _groups(origin).values() for p in itertools.combinations(group, 2)}
    candidates = [p for p in scored if p.score >= threshold]
    confirmed = [p for p in candidates if p.fingerprint is None or p.fingerprint >= fingerprint_threshold]
    stats = _precision_recall(candidates, scored, truth, lambda p: p.score)
    printed = [p for p in scored if p.fingerprint is not None]
    stats.update({f"fp_{k}": v for k, v in _precision_recall(confirmed, printed, truth,
                                                             lambda p: p.fingerprint or 0.0).items()})
    copies = of_kind(confirmed, "copy")
    spread = [p for p in confirmed if p.level_spread_db is not None]  # lower spread = more of a copy: negate
    stats.update({f"copy_{k}": v for k, v in _precision_recall(copies, spread, truth,
                                                               lambda p: -(p.level_spread_db or 0.0)).items()})
    others = [p for p in confirmed if (p.track_a, p.track_b) not in truth]
    return stats, others


def _precision_recall(found_pairs: list[DuplicatePair], scored: list[DuplicatePair], truth: set[tuple[str, ...]],
                      score: Callable[[DuplicatePair], float]) -> dict[str, float]:
    """Recall and precision of ``found_pairs``; the lowest true and highest other ``score`` among ``scored``."""
    found = {(p.track_a, p.track_b) for p in found_pairs}
    true_scores = [score(p) for p in scored if (p.track_a, p.track_b) in truth]
    other = [score(p) for p in scored if (p.track_a, p.track_b) not in truth]
    return {"recall": len(found & truth) / max(1, len(truth)), "precision": len(found & truth) / max(1, len(found)),
            "true_pairs": len(truth), "found": len(found),
            "lowest_true": min(true_scores) if true_scores else float("nan"),
            "highest_other": max(other) if other else float("nan")}


def _groups(origin: dict[str, str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for track, source in origin.items():
        groups.setdefault(source, []).append(track)
    return groups


def peak_mib() -> float:
    """Peak resident memory of this process and its finished children (MiB, Linux ru_maxrss is KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def markdown(stats: dict[str, float], others: list[DuplicatePair], args: argparse.Namespace) -> str:
    """A markdown fragment: command, machine, one table of the numbers and one of the confirmed pairs that are not
    known copies."""
    cmd = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    rows = [("tracks imported / failed", f"{stats['kept']:.0f} / {stats['failed']:.0f}"),
            ("tracks embedded (with 3 copies each)", f"{stats['embedded']:.0f}"),
            ("embedding tracks/s", f"{stats['tracks_per_s']:.2f}"),
            ("real-time factor (audio s per wall s)", f"{stats['rtf']:.1f}"),
            ("peak memory (MiB)", f"{stats['peak_mib']:.0f}"),
            (f"duplicate recall @ {args.threshold:g}", f"{stats['recall']:.3f}"),
            (f"duplicate precision @ {args.threshold:g}", f"{stats['precision']:.3f}"),
            ("lowest true-pair score / highest other", f"{stats['lowest_true']:.4f} / {stats['highest_other']:.4f}"),
            (f"vector + fingerprint recall @ {args.threshold:g}, {args.fingerprint_threshold:g}", f"{stats['fp_recall']:.3f}"),
            (f"vector + fingerprint precision @ {args.threshold:g}, {args.fingerprint_threshold:g}",
             f"{stats['fp_precision']:.3f}"),
            ("lowest true-pair fingerprint / highest other",
             f"{stats['fp_lowest_true']:.4f} / {stats['fp_highest_other']:.4f}"),
            (f"copies (level spread <= {COPY_MAX_SPREAD_DB:g} dB): recall", f"{stats['copy_recall']:.3f}"),
            (f"copies (level spread <= {COPY_MAX_SPREAD_DB:g} dB): precision", f"{stats['copy_precision']:.3f}"),
            ("highest true-pair level spread / lowest other (dB)",
             f"{-stats['copy_lowest_true']:.3f} / {-stats['copy_highest_other']:.3f}")]
    lines = [f"Command: `{cmd}`  ", f"{args.format} import of `{args.src}`, copies: MP3 128k, Opus 64k, -6 dB; "
             f"{torch.get_num_threads()} torch threads, {platform.processor() or platform.machine()}.", "",
             "| measure | value |", "|---|---:|", *[f"| {name} | {value} |" for name, value in rows]]
    if others:
        lines += ["", "Confirmed pairs that are not copies made by this benchmark:", "",
                  "| track a | track b | fingerprint | offset s | overlap s | level spread dB | kind |",
                  "|---|---|---:|---:|---:|---:|---|"]
        lines += [f"| {p.track_a} | {p.track_b} | {p.fingerprint:.4f} | {p.offset_s:+.1f} | {p.overlap_s:.0f} | "
                  f"{p.level_spread_db if p.level_spread_db is not None else float('nan'):.2f} | {p.kind} |"
                  for p in others]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Import, copy, embed, index, find duplicates; print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, required=True, help="folder of music")
    parser.add_argument("--format", choices=["tags", "folder"], default="tags")
    parser.add_argument("--checkpoint", help="checkpoint to embed with (default: random weights of --config)")
    parser.add_argument("--config", default="small", help="named config for random weights (default small)")
    parser.add_argument("--threshold", type=float, default=0.95, help="duplicate threshold (0.95)")
    parser.add_argument("--fingerprint-threshold", type=float, default=FINGERPRINT_THRESHOLD,
                        help=f"fingerprint match that confirms a pair ({FINGERPRINT_THRESHOLD})")
    parser.add_argument("--k", type=int, default=10, help="nearest tracks checked per track (10)")
    parser.add_argument("--workers", type=int, default=None, help="decode workers (default: sized to the machine)")
    parser.add_argument("--markdown", type=Path, help="also write the table as a markdown fragment here")
    args = parser.parse_args(argv)
    ckpt = model(args)
    with tempfile.TemporaryDirectory(prefix="bench_real_") as tmp:
        work = Path(tmp)
        audio = ckpt.config.audio
        report = import_source(args.src, work / "imported.jsonl", sample_rate=audio.sample_rate,
                               min_seconds=audio.min_seconds, max_seconds=None, fmt=args.format,
                               options=FormatOptions(allow_untagged=True), workers=args.workers or 2, progress=False)
        rows, origin = with_copies(report.kept, work / "imported.jsonl", work)
        write_manifest(work / "all.jsonl", rows)
        start = time.perf_counter()
        run_embed_job(ckpt, EmbedJob(source=str(work / "all.jsonl"), out=str(work / "catalog"), keep_windows=True,
                                     workers=args.workers, progress=False))
        seconds = time.perf_counter() - start
        build_index(work / "catalog", work / "index", "Flat", target_recall=0, progress=False)
        stats, others = duplicate_scores(work / "index", work / "catalog", origin, args.threshold, args.k,
                                         args.fingerprint_threshold)
    audio_seconds = sum(r.duration or 0.0 for r in report.kept) * (1 + len(COPIES))
    stats.update(kept=len(report.kept), failed=len(report.rejects), embedded=len(rows),
                 tracks_per_s=len(rows) / seconds, rtf=audio_seconds / seconds, peak_mib=peak_mib())
    for name, value in stats.items():
        print(f"{name:22s} {value}")
    for p in others:
        print(f"not a made copy: {p.track_a} == {p.track_b} fingerprint {p.fingerprint} spread {p.level_spread_db} "
              f"kind {p.kind}")
    if args.markdown:
        atomic_write_text(args.markdown, markdown(stats, others, args))
        print(f"wrote {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
