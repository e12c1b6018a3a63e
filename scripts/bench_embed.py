"""Benchmark the embedding job against its CPU limit: the sum of its stages' measured costs.

Generates N stereo 44.1 kHz FLAC tracks in a temp folder and a randomly initialised model of a named config,
then measures, in one run:
(1) the decode stage alone (read, resample, log-mel, fingerprint; one process, one thread), in core-seconds
    per track;
(2) the model's forward pass alone over the very same windows (prepared in memory), at one thread and on
    every core; its cost is the cheaper of threads x wall-seconds;
(3) ``run_embed_job`` end to end (decode workers, windows batched through the model, shards written and merged),
    once with the cores split as the job chooses (``muscall.catalog.pacing``) and once per ``--compare W,T``
    setting (decode workers, torch threads; default: the old fixed 2 workers beside all-core torch threads).
On C cores the job cannot beat C / (decode + forward core-seconds per track): that is its CPU limit, and
job / limit is the efficiency (1.0 = every core busy with useful work). On a GPU the forward runs on the card,
so the limit is the slower of the decode stage on C cores and the forward alone. The older ratio, job / forward
alone, is printed beside it.

    python scripts/bench_embed.py --config small --n 160 --seconds 30 --markdown bench/embed.md
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
from muscall.catalog.pacing import CoreSplit, cores_per_process
from muscall.utils.accel import torch_threads
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


def time_pipeline(ckpt: Checkpoint, folder: Path, out: Path, args: argparse.Namespace, workers: int | None,
                  threads: int | None) -> tuple[float, CoreSplit]:
    """Seconds for the whole embedding job, and the split it ran with."""
    job = EmbedJob(source=str(folder), out=str(out), batch_size=args.batch_size, shard_size=args.shard_size,
                   workers=workers, threads=threads, progress=False)
    start = time.perf_counter()
    result = run_embed_job(ckpt, job)
    return time.perf_counter() - start, result.split


def time_decode(ckpt: Checkpoint, folder: Path) -> tuple[float, np.ndarray]:
    """(core-seconds, all windows) of the decode stage alone: one process, one thread, every track."""
    audio = ckpt.config.audio
    reader = TrackReader(scan_folder(folder), audio)
    with torch_threads(1):
        reader[0]  # warm-up (filterbank, first file open)
        start = time.perf_counter()
        mels = [reader[i].mel for i in range(len(reader))]
        seconds = time.perf_counter() - start
    windows = np.concatenate([track_windows(mel, crop_frames(audio), hop_frames(audio))[0] for mel in mels])
    return seconds, windows


def time_forward(ckpt: Checkpoint, windows: np.ndarray, batch_size: int, device: torch.device,
                 threads: int) -> float:
    """Wall-seconds for the model alone over ``windows`` (prepared beforehand) with ``threads`` torch threads."""
    batches = [torch.from_numpy(windows[lo:lo + batch_size]) for lo in range(0, len(windows), batch_size)]
    with torch_threads(threads), torch.no_grad():
        ckpt.model.encode_audio(batches[0].to(device)).cpu()  # warm-up
        start = time.perf_counter()
        for batch in batches:
            ckpt.model.encode_audio(batch.to(device), normalize=True).float().cpu()
        return time.perf_counter() - start


def markdown(rows: list[tuple[str, float, float]], ratios: list[tuple[str, float]], args: argparse.Namespace,
             device: str) -> str:
    """A markdown fragment: command, machine, table and the efficiency ratio."""
    cmd = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    lines = [f"Command: `{cmd}`  ",
             f"`{args.config}` model (random weights), {args.n} tracks x {args.seconds:g} s stereo 44.1 kHz FLAC, "
             f"batch {args.batch_size} windows, device {device}, {cores_per_process()} cores, "
             f"{platform.processor() or platform.machine()}.",
             "", "| stage | tracks/s | windows/s |", "|---|---:|---:|"]
    lines += [f"| {name} | {tps:.2f} | {wps:.1f} |" for name, tps, wps in rows]
    lines += [""] + [f"- {name}: **{value:.2f}**" for name, value in ratios]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Generate tracks, time the job and the forward pass, print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="small", help="named config of the model (default small)")
    parser.add_argument("--n", type=int, default=64, help="tracks (default 64)")
    parser.add_argument("--seconds", type=float, default=30.0, help="track length (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per forward pass (default 32)")
    parser.add_argument("--shard-size", type=int, default=1000, help="tracks per shard (default 1000)")
    parser.add_argument("--compare", action="append", default=None, metavar="W,T",
                        help="also run the job with W decode workers and T torch threads (repeatable; default 2,CORES)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--markdown", type=Path, help="also write the table as a markdown fragment here")
    args = parser.parse_args(argv)
    cores = cores_per_process()
    compare = [tuple(int(x) for x in spec.split(",")) for spec in (args.compare or [f"2,{cores}"])]
    device = resolve_device(args.device)
    ckpt = random_checkpoint(args.config, device)
    with tempfile.TemporaryDirectory(prefix="bench_embed_") as tmp:
        folder = Path(tmp) / "tracks"
        folder.mkdir()
        make_tracks(folder, args.n, args.seconds)
        decode_s, windows = time_decode(ckpt, folder)
        forward_1 = time_forward(ckpt, windows, args.batch_size, device, 1)
        forward_n = time_forward(ckpt, windows, args.batch_size, device, cores)
        jobs = [time_pipeline(ckpt, folder, Path(tmp) / "catalog-auto", args, None, None)]
        jobs += [time_pipeline(ckpt, folder, Path(tmp) / f"catalog-{w}-{t}", args, w, t) for w, t in compare]
    n_windows = len(windows)
    rows = [("decode alone (1 process, 1 thread)", args.n / decode_s, n_windows / decode_s),
            ("model forward alone, 1 thread", args.n / forward_1, n_windows / forward_1),
            (f"model forward alone, {cores} threads", args.n / forward_n, n_windows / forward_n)]
    if device.type == "cuda":  # the forward runs on the card: the cores only decode
        limit_s = max(decode_s / cores, forward_n)
        limit_name = f"limit: slower of decode on {cores} cores and the forward on the GPU"
    else:
        limit_s = (decode_s + min(forward_1, cores * forward_n)) / cores
        limit_name = f"CPU limit: {cores} cores / (decode + forward core-seconds per track)"
    rows.append((limit_name, args.n / limit_s, n_windows / limit_s))
    ratios = []
    for i, (job_s, split) in enumerate(jobs):
        how = "as the job chooses" if i == 0 else "fixed"
        name = f"whole job, {split.workers} decode workers + {split.threads} torch threads ({how})"
        rows.append((name, args.n / job_s, n_windows / job_s))
        ratios.append((f"{name}: job / CPU limit", limit_s / job_s))
    ratios.append(("the chosen split's job / model forward alone (the older ratio)", forward_n / jobs[0][0]))
    for name, tps, wps in rows:
        print(f"{name:75s} {tps:8.2f} tracks/s {wps:9.1f} windows/s")
    for name, value in ratios:
        print(f"{name}: {value:.2f}")
    if args.markdown:
        atomic_write_text(args.markdown, markdown(rows, ratios, args, str(device)))
        print(f"wrote {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
