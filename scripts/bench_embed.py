"""Benchmark the embedding job: whole-pipeline tracks/s beside the model's forward pass alone on the same windows.

Generates N stereo 44.1 kHz FLAC tracks in a temp folder and a randomly initialised model of a named config,
then times (1) ``run_embed_job`` end to end (decode workers, log-mel, windows batched through the model,
shards written and merged) and (2) ``model.encode_audio`` alone over the very same windows, precomputed in
memory. Their ratio is the pipeline efficiency (1.0 = the job is bound by the model only).

    python scripts/bench_embed.py --config small --n 64 --seconds 30 --markdown bench/embed.md
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
import soundfile as sf
import torch

from muscall.audio.windows import crop_frames, hop_frames, track_windows
from muscall.catalog.job import EmbedJob, run_embed_job
from muscall.catalog.reader import TrackReader, scan_folder
from muscall.checkpoint import Checkpoint
from muscall.config import load_config
from muscall.models import create_model
from muscall.models.tokenizer import train_tokenizer
from index.fileio import atomic_write_text
from muscall.utils.distributed import resolve_device

SOURCE_SR = 44100


def make_tracks(folder: Path, n: int, seconds: float, seed: int = 0) -> None:
    """Write ``n`` stereo FLAC tracks of a few random tones plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SOURCE_SR)) / SOURCE_SR
    for i in range(n):
        tones = (0.15 * np.sin(2 * np.pi * rng.uniform(60, 5000, size=(3, 1)) * t)).sum(axis=0)
        wave = np.stack([tones, 0.8 * tones], axis=1) + 0.02 * rng.standard_normal((t.size, 2))
        sf.write(folder / f"track{i:05d}.flac", wave.astype(np.float32), SOURCE_SR)


def random_checkpoint(config: str, device: torch.device) -> Checkpoint:
    """A randomly initialised model of a named config, as a Checkpoint (nothing written)."""
    cfg = load_config(config)
    tokenizer = train_tokenizer(["a calm piano piece", "loud rock guitar", "fast techno beat"], 64)
    torch.manual_seed(0)
    model = create_model(cfg, vocab_size=tokenizer.vocab_size).to(device).eval()
    return Checkpoint(model=model, config=cfg, tokenizer=tokenizer, path=Path("."), sha256=f"bench-{config}")


def time_pipeline(ckpt: Checkpoint, folder: Path, out: Path, args: argparse.Namespace) -> float:
    """Seconds for the whole embedding job."""
    job = EmbedJob(source=str(folder), out=str(out), batch_size=args.batch_size, shard_size=args.shard_size,
                   workers=args.workers, progress=False)
    start = time.perf_counter()
    run_embed_job(ckpt, job)
    return time.perf_counter() - start


def time_forward(ckpt: Checkpoint, folder: Path, batch_size: int, device: torch.device) -> tuple[float, int]:
    """(seconds, windows) for the model alone over every window of every track (prepared beforehand)."""
    audio = ckpt.config.audio
    reader = TrackReader(scan_folder(folder), audio)
    windows = np.concatenate([track_windows(reader[i].mel, crop_frames(audio), hop_frames(audio))[0]
                              for i in range(len(reader))])
    batches = [torch.from_numpy(windows[lo:lo + batch_size]) for lo in range(0, len(windows), batch_size)]
    with torch.no_grad():
        ckpt.model.encode_audio(batches[0].to(device)).cpu()  # warm-up
        start = time.perf_counter()
        for batch in batches:
            ckpt.model.encode_audio(batch.to(device), normalize=True).float().cpu()
    return time.perf_counter() - start, len(windows)


def markdown(rows: list[tuple[str, float, float]], ratio: float, args: argparse.Namespace, device: str) -> str:
    """A markdown fragment: command, machine, table and the efficiency ratio."""
    cmd = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    lines = [f"Command: `{cmd}`  ",
             f"`{args.config}` model (random weights), {args.n} tracks x {args.seconds:g} s stereo 44.1 kHz FLAC, "
             f"batch {args.batch_size} windows, {args.workers} decode workers, device {device}, "
             f"{torch.get_num_threads()} torch threads, {platform.processor() or platform.machine()}.",
             "", "| stage | tracks/s | windows/s |", "|---|---:|---:|"]
    lines += [f"| {name} | {tps:.2f} | {wps:.1f} |" for name, tps, wps in rows]
    lines += ["", f"Pipeline efficiency (job / forward alone): **{ratio:.2f}**"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Generate tracks, time the job and the forward pass, print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", help="named config of the model (default small)")
    parser.add_argument("--n", type=int, default=64, help="tracks (default 64)")
    parser.add_argument("--seconds", type=float, default=30.0, help="track length (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per forward pass (default 32)")
    parser.add_argument("--shard-size", type=int, default=1000, help="tracks per shard (default 1000)")
    parser.add_argument("--workers", type=int, default=2, help="decode worker processes (default 2)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads")
    parser.add_argument("--markdown", type=Path, help="also write the table as a markdown fragment here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    ckpt = random_checkpoint(args.config, device)
    with tempfile.TemporaryDirectory(prefix="bench_embed_") as tmp:
        folder = Path(tmp) / "tracks"
        folder.mkdir()
        make_tracks(folder, args.n, args.seconds)
        forward_s, n_windows = time_forward(ckpt, folder, args.batch_size, device)
        job_s = time_pipeline(ckpt, folder, Path(tmp) / "catalog", args)
    rows = [("whole job (decode, log-mel, model, shards)", args.n / job_s, n_windows / job_s),
            ("model forward alone (same windows)", args.n / forward_s, n_windows / forward_s)]
    ratio = forward_s / job_s
    for name, tps, wps in rows:
        print(f"{name:45s} {tps:8.2f} tracks/s {wps:9.1f} windows/s")
    print(f"pipeline efficiency {ratio:.2f}")
    if args.markdown:
        atomic_write_text(args.markdown, markdown(rows, ratio, args, str(device)))
        print(f"wrote {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
