"""Benchmark the corpus generator: clips per second with 1 and 2 workers (wall clock, worker start-up included).

    python scripts/bench_synth.py --n 200 --seconds 10 --markdown bench/synth.md
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

from index.fileio import atomic_write_text
from muscall.data.synth import generate_corpus
from muscall.data.synth.render import find_soundfont


def bench(n: int, seconds: float, workers: int, soundfont: str, shard_size: int) -> dict[str, float]:
    """Generate ``n`` clips into a temporary folder; returns timing and size figures."""
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        out = Path(tmp) / "corpus"
        start = time.perf_counter()
        generate_corpus(out, n=n, seconds=seconds, seed=0, workers=workers, soundfont=soundfont,
                        shard_size=shard_size, progress=False)
        wall = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (out / "audio").iterdir())
    return {"workers": workers, "wall_s": wall, "clips_per_s": n / wall, "realtime_x": n * seconds / wall,
            "mb_per_clip": size / n / 1e6}


def table(results: list[dict[str, float]], n: int, seconds: float, command: str) -> str:
    """Markdown fragment: one row per worker count, plus the command and the machine."""
    lines = [f"### Corpus generation (`muscall data synth`), {n} clips of {seconds:g} s, 16 kHz mono FLAC", "",
             "| workers | wall (s) | clips/s | audio s per wall s | MB per clip |",
             "|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['workers']:.0f} | {r['wall_s']:.1f} | {r['clips_per_s']:.2f} | {r['realtime_x']:.0f}x "
                     f"| {r['mb_per_clip']:.3f} |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += ["", f"Command: `{command}`  ", f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
              f"Python {platform.python_version()}, load average {load} at the end; wall clock includes starting "
              "the workers and loading the soundfont in each.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="clips per run (200)")
    p.add_argument("--seconds", type=float, default=10.0, help="clip length (10)")
    p.add_argument("--workers", default="1,2", help="worker counts to compare (1,2)")
    p.add_argument("--shard-size", type=int, default=16)
    p.add_argument("--soundfont", help="GM .sf2 (default: the system one)")
    p.add_argument("--markdown", metavar="PATH", help="write the table fragment here")
    args = p.parse_args(argv)
    soundfont = str(find_soundfont(args.soundfont))
    results = []
    for w in (int(x) for x in args.workers.split(",")):
        r = bench(args.n, args.seconds, w, soundfont, args.shard_size)
        print(f"workers={w}: {r['clips_per_s']:.2f} clips/s ({r['wall_s']:.1f} s for {args.n} clips, "
              f"{r['realtime_x']:.0f}x real time)", flush=True)
        results.append(r)
    command = "python " + " ".join(shlex.quote(a) for a in ["scripts/bench_synth.py", *(argv or sys.argv[1:])])
    text = table(results, args.n, args.seconds, command)
    if args.markdown:
        atomic_write_text(args.markdown, text)
        print(f"wrote {args.markdown}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
