#!/usr/bin/env python
"""Memory of `muscall serve` with 1 and N workers over one generated index: RSS and PSS per process and in total,
this checkout (workers map the index read-only and share its pages) against an older checkout (``--old-tree``:
each worker loads its own copy), plus the time of one add and one remove through the API.

PSS (``/proc/PID/smaps_rollup``) splits each shared page between the processes mapping it, so the PSS total is
what the service really occupies; RSS counts a shared page in every process. Before measuring, every worker
answers a narrow-filter search: its few matches are spread over every IVF list, so the search falls back to
scanning all lists (their ids, and the vectors of the matches). A mapped index is resident only where searches
touched it; its pages are shared, so however much is touched it counts once in the PSS total, never more than
the index file. The index is ``--n`` clustered vectors (``index.synthetic.Mixture``) in a tiny random-init model's space
of ``--dim`` dimensions, with the factory ``index.auto`` chooses; nothing is downloaded.

Examples:
    git archive $(git merge-base HEAD main) | tar -x -C /tmp/muscall-old    # the checkout before shared workers
    python scripts/bench_workers.py --n 1000000 --old-tree /tmp/muscall-old --work-dir bench-out/workers \
        --markdown scripts/results/57_workers.md
    python scripts/bench_workers.py --n 20000 --workers 1 2                # a quick check, this checkout only
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other benchmarks' helpers

from bench_load import build_index, free_port, random_checkpoint, wait_ready  # noqa: E402
from bench_retrieval import publish  # noqa: E402


REPO = Path(__file__).resolve().parents[1]
FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File")
NARROW = {"query": "calm music", "k": 10, "filters": {"duration_min": 100.0, "duration_max": 100.05}}  # ~0.03%
WORKER = "x-muscall-worker"  # the response header naming the worker (this checkout)
KEY = "bench-workers"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Examples:")[1].join(["Examples:", ""]))
    p.add_argument("--n", type=int, default=1_000_000, help="tracks in the generated index (1,000,000)")
    p.add_argument("--dim", type=int, default=256, help="embedding dimensions (256)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 4], help="worker counts to measure (1 4)")
    p.add_argument("--old-tree", type=Path, help="an older checkout (each worker its own copy) to measure too")
    p.add_argument("--writes", type=int, default=3, help="timed add + remove pairs; the median is shown (3)")
    p.add_argument("--work-dir", type=Path, help="keep the generated checkpoint and index here (reused)")
    p.add_argument("--markdown", help="write the markdown fragment (with this command) here")
    args = p.parse_args(argv)
    if args.n < 1000 or min(args.workers) < 1:
        p.error("--n must be >= 1000 and --workers >= 1")
    return args


def memory(pid: int) -> dict[str, int]:
    """The ``FIELDS`` of ``/proc/PID/smaps_rollup`` in bytes."""
    out = dict.fromkeys(FIELDS, 0)
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in out:
            out[key] = int(rest.split()[0]) * 1024
    return out


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes: the children of ``pid`` started by multiprocessing's spawn (not its helpers)."""
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return sorted(k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes())


def start(tree: Path, index: Path, checkpoint: Path, workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    """`muscall serve` from checkout ``tree`` on a free port; (process, base URL) once /readyz answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "muscall.cli.main", "serve", "--catalog", str(index), "--checkpoint",
           str(checkpoint), "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=tree, stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(tree), "MUSCALL_API_KEY": KEY})
    if not wait_ready(proc, port, log, timeout=1800):
        raise SystemExit(f"port {port} was taken; run again")
    return proc, f"http://127.0.0.1:{port}"


def touch_every_worker(url: str, workers: int) -> None:
    """Narrow-filter searches on new connections until every worker answered one (told apart by the worker
    header; an old checkout sends none, so there 10 per worker are sent: its workers hold private copies anyway)."""
    answered: set[str] = set()
    for i in range(200 * workers):
        r = httpx.post(url + "/search/text", json=NARROW, timeout=600)
        r.raise_for_status()
        answered.add(r.headers.get(WORKER, str(i)))
        if len(answered) >= (workers if WORKER in r.headers else 10 * workers):
            return
    print(f"warning: only {len(answered)} of {workers} workers answered a narrow search", file=sys.stderr)


def clip(seconds: float = 3.0, sr: int = 16000) -> bytes:
    """A WAV sine tone."""
    buf = io.BytesIO()
    sf.write(buf, 0.3 * np.sin(2 * np.pi * 330.0 * np.arange(int(seconds * sr)) / sr), sr, format="WAV")
    return buf.getvalue()


def timed_writes(url: str, repeats: int) -> tuple[float | None, float | None]:
    """Median seconds of ``repeats`` POST /tracks (a 3 s clip) and DELETEs of them; None where refused."""
    headers, adds, removes = {"X-API-Key": KEY}, [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        r = httpx.post(url + "/tracks", files={"file": ("bench.wav", clip(3.0), "audio/wav")},
                       data={"track_id": f"bench/added-{i}"}, headers=headers, timeout=600)
        if r.status_code != 201:
            return None, None
        adds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        httpx.delete(url + f"/tracks/bench%2Fadded-{i}", headers=headers, timeout=600).raise_for_status()
        removes.append(time.perf_counter() - t0)
    return float(np.median(adds)), float(np.median(removes))


def measure(tree: Path, index: Path, checkpoint: Path, workers: int, work: Path, repeats: int) -> dict:
    """Start, touch, measure memory, time writes, stop."""
    t0 = time.perf_counter()
    proc, url = start(tree, index, checkpoint, workers, work / f"serve-{tree.name}-{workers}.log")
    ready = time.perf_counter() - t0
    try:
        pids = workers_of(proc.pid) if workers > 1 else []
        touch_every_worker(url, workers)
        mem = {"supervisor": memory(proc.pid), "workers": [memory(p) for p in pids] or [memory(proc.pid)]}
        if workers == 1:
            mem["supervisor"] = dict.fromkeys(FIELDS, 0)  # the one process is the worker
        add, remove = timed_writes(url, repeats)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"workers": workers, "ready_s": ready, "mem": mem, "add_s": add, "remove_s": remove}


def table(rows: list[tuple[str, dict]], summary: str, command: str) -> str:
    """The markdown fragment."""
    gib = 2 ** 30
    lines = [f"### Service memory with several workers ({os.cpu_count()} CPU cores)", "", f"`{command}`", "",
             summary, "",
             "| checkout | workers | RSS per worker GiB | PSS per worker GiB (anon + file) | supervisor PSS GiB "
             "| total RSS GiB | total PSS GiB | ready s | add s | remove s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        ws, sup = r["mem"]["workers"], r["mem"]["supervisor"]
        mean = {k: sum(w[k] for w in ws) / len(ws) for k in FIELDS}
        total = {k: sum(w[k] for w in ws) + sup[k] for k in FIELDS}
        write = ("refused" if r["add_s"] is None else f"{r['add_s']:.1f}",
                 "-" if r["remove_s"] is None else f"{r['remove_s']:.1f}")
        lines.append(f"| {name} | {r['workers']} | {mean['Rss'] / gib:.2f} | {mean['Pss'] / gib:.2f} "
                     f"({mean['Pss_Anon'] / gib:.2f} + {mean['Pss_File'] / gib:.2f}) | {sup['Pss'] / gib:.2f} | "
                     f"{total['Rss'] / gib:.2f} | {total['Pss'] / gib:.2f} | {r['ready_s']:.0f} | {write[0]} | "
                     f"{write[1]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Build (or reuse) the index, measure each checkout at each worker count, print and publish the table."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="muscall-bench-workers-") as tmp:
        work = (args.work_dir or Path(tmp)).resolve()  # servers run from their checkout
        work.mkdir(parents=True, exist_ok=True)
        checkpoint = random_checkpoint(work / "tiny-ckpt", "tiny", args.old_tree or REPO,
                                       (f"model.embed_dim={args.dim}",))  # saved by the oldest checkout served
        index = work / f"index-{args.n}"
        if not (index / "manifest.json").exists():
            build_index(index, checkpoint, args.n, "auto")
        size = sum(p.stat().st_size for p in index.iterdir() if p.is_file()) / 2 ** 30
        factory = json.loads((index / "manifest.json").read_text())["factory"]
        trees = [("this (mapped, shared)", REPO)] + ([("old (own copy each)", args.old_tree)] if args.old_tree else [])
        rows = [(name, measure(tree, index, checkpoint, w, work, args.writes)) for name, tree in trees
                for w in args.workers]
    summary = (f"{args.n:,} tracks x {args.dim} dims, `{factory}` (index.auto's choice), index folder {size:.2f} GiB "
               f"(FAISS file plus SQLite metadata); tiny random-init model. Memory after every worker answered a "
               f"narrow-filter search that scans all IVF lists (ids, and vectors of matches only: a mapped index is "
               f"resident where it was touched, shared, so at most the index file counts once in total PSS); "
               f"add/remove: median of {args.writes} POST /tracks of a 3 s clip and its DELETE (each rewrites the "
               f"whole index).")
    publish(lambda command: table(rows, summary, command), args.markdown)


if __name__ == "__main__":
    main()
