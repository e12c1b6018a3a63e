"""Benchmark the audio front end: decode, decode + downmix + resample, and decode + resample + log-mel.

Generates N 10-second 44.1 kHz stereo FLAC clips (tones + noise) in a temp folder, then times each stage
over all of them in one run and reports clips/s and times-realtime. Files are read from the OS page
cache (just written), so "decode" is CPU decode cost, not disk.

    python scripts/bench_frontend.py --n 200 --markdown bench/frontend.md
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
from typing import Callable

import numpy as np
import soundfile as sf
import torch

from index.fileio import atomic_write_text
from muscall.audio.decode import decode
from muscall.audio.features import LogMel
from muscall.config import AudioConfig, load_config

SOURCE_SR = 44100


def make_clips(folder: Path, n: int, seconds: float, seed: int = 0) -> list[Path]:
    """Write ``n`` stereo FLAC clips of a few random tones plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SOURCE_SR)) / SOURCE_SR
    paths = []
    for i in range(n):
        freqs = rng.uniform(60, 5000, size=(3, 1))
        tones = (0.15 * np.sin(2 * np.pi * freqs * t)).sum(axis=0)
        left = tones + 0.02 * rng.standard_normal(t.size)
        right = 0.8 * tones + 0.02 * rng.standard_normal(t.size)
        path = folder / f"clip{i:05d}.flac"
        sf.write(path, np.stack([left, right], axis=1).astype(np.float32), SOURCE_SR)
        paths.append(path)
    return paths


def timed(paths: list[Path], work: Callable[[list[Path]], None], batch: int) -> float:
    """Seconds to run ``work`` over all paths in batches (after one warm-up batch)."""
    work(paths[:1])
    start = time.perf_counter()
    for lo in range(0, len(paths), batch):
        work(paths[lo:lo + batch])
    return time.perf_counter() - start


def stages(paths: list[Path], batch: int) -> list[tuple[str, Callable[[list[Path]], None]]]:
    """(name, work) for every measured stage."""
    at_16k = AudioConfig(sample_rate=16000)

    def read(chunk: list[Path]) -> None:
        for p in chunk:
            sf.read(p, dtype="float32", always_2d=True)

    def resample(chunk: list[Path]) -> None:
        for p in chunk:
            decode(p, at_16k)

    out = [("decode only (soundfile)", read), ("decode + downmix + resample to 16 kHz", resample)]
    for name in ("small", "paper"):
        cfg = load_config(name).audio
        logmel = LogMel.from_config(cfg)

        def full(chunk: list[Path], cfg=cfg, logmel=logmel) -> None:
            waves = torch.from_numpy(np.stack([decode(p, cfg) for p in chunk]))
            with torch.inference_mode():
                logmel(waves)

        desc = f"n_fft {cfg.n_fft}, hop {cfg.hop_length}, {cfg.n_mels} mels"
        out.append((f"decode + resample + log-mel, `{name}` ({desc}, batch {batch})", full))
    return out


def markdown(rows: list[tuple[str, float, float]], args: argparse.Namespace, threads: int) -> str:
    """A markdown fragment: the command, the machine, and a table of the stages."""
    cmd = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    lines = [
        f"Command: `{cmd}`  ",
        f"{args.n} clips x {args.seconds:g} s, {SOURCE_SR} Hz stereo FLAC; {platform.processor() or platform.machine()}, "
        f"{threads} torch threads, torch {torch.__version__}, soundfile {sf.__version__} "
        f"(libsndfile {sf.__libsndfile_version__}).",
        "",
        "| stage | clips/s | x realtime |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {cps:.1f} | {rt:.0f} |" for name, cps, rt in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, generate clips, time every stage and print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="number of clips (default 200)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10)")
    parser.add_argument("--batch", type=int, default=16, help="clips per log-mel batch (default 16)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads")
    parser.add_argument("--markdown", type=Path, help="also write the table as a markdown fragment here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_frontend_") as tmp:
        t0 = time.perf_counter()
        paths = make_clips(Path(tmp), args.n, args.seconds)
        print(f"generated {args.n} clips in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        for name, work in stages(paths, args.batch):
            secs = timed(paths, work, args.batch)
            rows.append((name, args.n / secs, args.n * args.seconds / secs))
            print(f"{name:75s} {args.n / secs:8.1f} clips/s {args.n * args.seconds / secs:8.0f}x realtime")
    if args.markdown:
        atomic_write_text(args.markdown, markdown(rows, args, args.threads))
        print(f"wrote {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
