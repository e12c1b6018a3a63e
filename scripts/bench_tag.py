"""Benchmark zero-shot tagging throughput over a synthetic catalog (default 100k tracks).

Writes a catalog of random unit vectors with ``index.ShardWriter`` (float16 shards of 10k) in a temp folder,
builds the classifier from a real (randomly initialised) model of a named config, then times ``run_tag_job``
end to end (read shards, score, write part files, merge into Parquet) in single- and multi-label mode.
The multi-label run includes its calibration pass over the catalog.

    python scripts/bench_tag.py --n 100000 --labels 20 --markdown bench/tag.md
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from index import ShardWriter, TrackMeta
from index.fileio import atomic_write_text
from muscall.catalog.tagging import TagJob, run_tag_job
from muscall.checkpoint import Checkpoint
from muscall.config import load_config
from muscall.models import create_model
from muscall.models.tokenizer import train_tokenizer

GENRES = ["rock", "jazz", "ambient", "techno", "classical", "hip hop", "folk", "metal", "reggae", "blues", "pop",
          "funk", "soul", "country", "house", "drum and bass", "latin", "punk", "disco", "trance"]


def random_checkpoint(config: str) -> Checkpoint:
    """A randomly initialised model of a named config (CPU), as a Checkpoint."""
    cfg = load_config(config)
    tokenizer = train_tokenizer([f"{g} music" for g in GENRES] + ["a song", "a piece of music", "this is a track"],
                                cfg.model.text.vocab_size)
    torch.manual_seed(0)
    model = create_model(cfg, vocab_size=tokenizer.vocab_size).eval()
    return Checkpoint(model=model, config=cfg, tokenizer=tokenizer, path=Path("."), sha256=f"bench-{config}")


def synth_catalog(out: Path, n: int, dim: int, model_hash: str, shard_size: int = 10_000, seed: int = 0) -> None:
    """``n`` random unit vectors with minimal metadata, as a finished float16 catalog."""
    rng = np.random.default_rng(seed)
    writer = ShardWriter(out, shard_size=shard_size, dtype="float16", model_hash=model_hash)
    for shard, start, stop in writer.pending(n):
        x = rng.standard_normal((stop - start, dim)).astype(np.float32)
        writer.write_shard(shard, x, [TrackMeta(f"t{i:08d}", title=f"Track {i}") for i in range(start, stop)])
    writer.finalize()


def time_tag(ckpt: Checkpoint, catalog: Path, out: Path, labels: list[str], mode: str) -> float:
    """Seconds for one tagging job."""
    job = TagJob(source=str(catalog), labels=labels, label_set="genres", mode=mode, out=str(out), progress=False)
    start = time.perf_counter()
    run_tag_job(ckpt, job)
    return time.perf_counter() - start


def markdown(rows: list[tuple[str, float]], args: argparse.Namespace, dim: int) -> str:
    """A markdown fragment: the command, the setup and a table of tracks/s per mode."""
    cmd = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    lines = [f"Command: `{cmd}`  ",
             f"{args.n} tracks x {dim}-d float16 shards of 10k, {args.labels} labels x 6 prompts (`{args.config}` "
             f"text encoder, random weights), Parquet output, {torch.get_num_threads()} threads, "
             f"{platform.processor() or platform.machine()}.",
             "", "| mode | seconds | tracks/s |", "|---|---:|---:|"]
    lines += [f"| {mode} | {secs:.2f} | {args.n / secs:,.0f} |" for mode, secs in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Synthesize the catalog, time tagging in each mode, print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="catalog tracks (default 100000)")
    parser.add_argument("--labels", type=int, default=20, help=f"labels, up to {len(GENRES)} (default 20)")
    parser.add_argument("--config", default="tiny", help="named config of the model (default tiny)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads")
    parser.add_argument("--markdown", type=Path, help="also write the table as a markdown fragment here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    ckpt = random_checkpoint(args.config)
    labels = GENRES[:args.labels]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_tag_") as tmp:
        t0 = time.perf_counter()
        synth_catalog(Path(tmp) / "catalog", args.n, ckpt.model.embed_dim, ckpt.sha256)
        print(f"synthesized {args.n} tracks in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        for mode in ("single", "multi"):
            secs = time_tag(ckpt, Path(tmp) / "catalog", Path(tmp) / f"tags-{mode}.parquet", labels, mode)
            rows.append((mode, secs))
            print(f"{mode:8s} {secs:8.2f} s {args.n / secs:12,.0f} tracks/s")
    if args.markdown:
        atomic_write_text(args.markdown, markdown(rows, args, ckpt.model.embed_dim))
        print(f"wrote {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
