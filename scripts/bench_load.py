#!/usr/bin/env python
"""Load-test text search over HTTP: `muscall serve` on 127.0.0.1, N concurrent httpx clients, a fixed number of
requests under a time cap; throughput, p50/p99 latency and errors, beside the in-process latency of the same
queries (``api.services.search.embed_text`` + ``search`` called directly), so the HTTP overhead shows as a ratio.

The catalog is ``--n`` clustered random vectors (``index.Catalog`` with metadata, genre filterable) in the
model's embedding space; the model is a given checkpoint or a tiny random-init one (nothing is downloaded).
Queries cycle through ``--distinct`` texts, so after the first round they hit the query-embedding cache, as
repeated queries do in production; ``--distinct`` >= ``--requests`` measures uncached text embedding.

Examples:
    python scripts/bench_load.py --n 100000 --markdown scripts/results/60_load.md
    python scripts/bench_load.py --n 2000 --requests 200 --clients 8          # a quick check
    python scripts/bench_load.py --checkpoint runs/small/checkpoints/best --index idx/ --requests 5000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from api.services.search import embed_text, make_filter, search  # noqa: E402
from api.services.state import configure_threads, load_state  # noqa: E402
from api.settings import Settings  # noqa: E402
from index import TrackMeta, catalog_from_arrays, save_catalog  # noqa: E402
from index.fileio import atomic_write_bytes  # noqa: E402
from index.synthetic import Mixture  # noqa: E402
from muscall.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from muscall.config import load_config  # noqa: E402
from muscall.models import build_tokenizer, create_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]  # as browsers do: no Nagle delay on small bodies
GENRES = ["jazz", "rock", "ambient"]
MOODS = ["calm", "bright", "dark", "happy", "sad", "energetic", "dreamy", "tense"]
INSTRUMENTS = ["piano", "guitar", "strings", "synth pads", "drums", "saxophone", "voice", "bass"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Examples:")[1].join(["Examples:", ""]))
    p.add_argument("--n", type=int, default=100_000, help="tracks in the generated index (default 100,000)")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint (default: a tiny random-init model)")
    p.add_argument("--index", type=Path, help="use this saved index instead of generating one")
    p.add_argument("--factory", default="auto", help="index factory for the generated index (auto)")
    p.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients (32)")
    p.add_argument("--requests", type=int, default=3000, help="requests in the load test (3000)")
    p.add_argument("--time-cap", type=float, default=120.0, help="stop sending after this many seconds (120)")
    p.add_argument("--sequential", type=int, default=200, help="one-at-a-time requests for the overhead ratio")
    p.add_argument("--distinct", type=int, default=256, help="distinct query texts (256)")
    p.add_argument("--k", type=int, default=10, help="results per query (10)")
    p.add_argument("--filtered", type=float, default=0.25, help="share of queries with a genre filter (0.25)")
    p.add_argument("--workers", type=int, default=1, help="server worker processes (1)")
    p.add_argument("--work-dir", type=Path, help="keep the generated checkpoint and index here")
    p.add_argument("--markdown", type=Path, help="write a markdown table fragment (with this command) here")
    args = p.parse_args(argv)
    if args.clients < 1 or args.requests < 1 or args.n < 10 or args.distinct < 1:
        p.error("--clients, --requests and --distinct must be >= 1 and --n >= 10")
    return args


def tiny_checkpoint(path: Path, seed: int = 0, overrides: list[str] | None = None) -> Path:
    """A randomly initialised ``tiny`` model (seeded) with a tokenizer trained on a few captions; nothing downloaded.

    ``overrides`` change the config first, e.g. ``["model.embed_dim=256"]`` for a wider embedding space."""
    cfg = load_config("tiny", overrides)
    captions = [f"{g} music with a {w} tone" for g in GENRES for w in ("low", "high", "calm", "bright")]
    tokenizer = build_tokenizer(cfg, captions)
    torch.manual_seed(seed)
    return save_checkpoint(path, create_model(cfg, vocab_size=tokenizer.vocab_size), cfg, tokenizer)


def build_index(out: Path, checkpoint: Path, n: int, factory: str) -> tuple[Path, float]:
    """A saved index of ``n`` clustered vectors in the model's space, with titles, genres and tags."""
    ckpt = load_checkpoint(checkpoint)
    dim = int(ckpt.model.embed_dim)
    t0 = time.perf_counter()
    emb = Mixture(dim, n_clusters=max(10, min(2000, n // 50)), intrinsic_dim=min(48, dim), seed=0).sample(n, seed=1)
    rng = np.random.default_rng(2)
    genres, durations = rng.integers(0, len(GENRES), n), rng.uniform(30, 420, n).round(1)
    metas = [TrackMeta(f"track-{i:07d}", "", f"Track {i}", float(durations[i]),
                       [GENRES[genres[i]], MOODS[i % len(MOODS)]], {"genre": GENRES[genres[i]]}) for i in range(n)]
    with catalog_from_arrays(emb, metas, factory, model_hash=ckpt.sha256, attribute_fields=("genre",)) as catalog:
        save_catalog(catalog, out)
        print(f"built {catalog.factory} index of {n:,} x {dim} in {time.perf_counter() - t0:.1f} s", flush=True)
        return out, time.perf_counter() - t0


def queries(distinct: int, filtered: float, k: int) -> list[dict]:
    """Request bodies: varied descriptions, some with a genre filter."""
    rng = np.random.default_rng(3)
    out = []
    for i in range(distinct):
        text = f"{MOODS[i % len(MOODS)]} {GENRES[(i // 8) % len(GENRES)]} music with " \
               f"{INSTRUMENTS[(i // 24) % len(INSTRUMENTS)]} #{i // 192}"
        body = {"query": text, "k": k}
        if rng.random() < filtered:
            body["filters"] = {"genre": GENRES[int(rng.integers(0, len(GENRES)))]}
        out.append(body)
    return out


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index: Path, checkpoint: Path, workers: int, log: Path,
                 attempts: int = 5) -> tuple[subprocess.Popen, int]:
    """`muscall serve` on a free 127.0.0.1 port; returns (process, port) once /readyz answers 200.

    A port that was free when picked can be taken before uvicorn binds it: that start is retried on a new port.
    """
    cmd = [sys.executable, "-m", "muscall.cli.main", "serve", "--catalog", str(index), "--checkpoint",
           str(checkpoint), "--host", "127.0.0.1", "--workers", str(workers), "--log-level", "warning",
           "--set", "max_k=1000"]
    for _ in range(attempts):
        port = free_port()
        with open(log, "wb") as fh:  # the server keeps its own handle
            proc = subprocess.Popen(cmd + ["--port", str(port)], cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONPATH": str(REPO)})
        if wait_ready(proc, port, log):
            return proc, port
    raise SystemExit(f"server found its port taken {attempts} times:\n{log.read_text(errors='replace')}")


def wait_ready(proc: subprocess.Popen, port: int, log: Path, timeout: float = 300.0) -> bool:
    """True once /readyz answers 200; False when the server exited because its port was taken."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text(errors="replace")
            if "address already in use" in text.lower():
                return False
            raise SystemExit(f"server exited ({proc.returncode}):\n{text}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"server not ready after {timeout:.0f} s:\n{log.read_text(errors='replace')}")


async def load_test(url: str, bodies: list[dict], n: int, clients: int, cap: float) -> dict:
    """``n`` POST /search/text from ``clients`` concurrent connections, no new request after ``cap`` seconds."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    next_i = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=NODELAY)
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=60.0) as client:
        t0 = time.perf_counter()

        async def worker() -> None:
            nonlocal next_i
            while next_i < n and time.perf_counter() - t0 < cap:
                body = bodies[next_i % len(bodies)]
                next_i += 1
                start = time.perf_counter()
                try:
                    r = await client.post("/search/text", json=body)
                    key = None if r.status_code == 200 else str(r.status_code)
                except httpx.HTTPError as err:
                    key = type(err).__name__
                latencies.append(time.perf_counter() - start)
                if key:
                    errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    return {"sent": len(latencies), "wall_s": wall, "lat": np.array(latencies), "errors": errors}


def sequential_http(url: str, bodies: list[dict], n: int) -> np.ndarray:
    """Latencies of ``n`` one-at-a-time requests (the same cycle of queries)."""
    out = []
    with httpx.Client(base_url=url, transport=httpx.HTTPTransport(socket_options=NODELAY), timeout=60.0) as client:
        for i in range(n):
            start = time.perf_counter()
            client.post("/search/text", json=bodies[i % len(bodies)]).raise_for_status()
            out.append(time.perf_counter() - start)
    return np.array(out)


def in_process(index: Path, checkpoint: Path, bodies: list[dict], n: int, warm: int) -> np.ndarray:
    """Latencies of the same queries through the service functions, no HTTP (same cache behaviour).

    The first ``warm`` queries (the warm-up the server got) are run but not timed.
    """
    state = load_state(Settings(index_dir=index, checkpoint=checkpoint, persist=False))
    configure_threads(state.settings.serve.threads_per_request)  # as `muscall serve` does
    try:
        out = []
        for i in range(warm + n):
            body = bodies[i % len(bodies)] if i < warm else bodies[(i - warm) % len(bodies)]
            flt = make_filter(**body["filters"]) if "filters" in body else None
            start = time.perf_counter()
            vec, _ = embed_text(state, body["query"])
            search(state, vec, body["k"], 0, flt)
            out.append(time.perf_counter() - start)
        return np.array(out[warm:])
    finally:
        state.close()


def ms(values: np.ndarray, q: float) -> float:
    """Percentile in milliseconds."""
    return float(np.percentile(values, q) * 1000) if len(values) else float("nan")


def main(argv: list[str] | None = None) -> None:
    """Build (or take) the index and model, run the load test and the overhead comparison, print the table."""
    args = parse_args(argv)
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        run(args, argv, args.work_dir)
        return
    with tempfile.TemporaryDirectory(prefix="muscall-bench-load-") as tmp:
        run(args, argv, Path(tmp))


def run(args: argparse.Namespace, argv: list[str] | None, work: Path) -> None:
    """The benchmark with its files under ``work``."""
    checkpoint = args.checkpoint or tiny_checkpoint(work / "tiny-ckpt")
    index, build_s = (args.index, 0.0) if args.index else build_index(work / "index", checkpoint, args.n, args.factory)
    bodies = queries(args.distinct, args.filtered, args.k)
    server, port = start_server(index, checkpoint, args.workers, work / "server.log")
    url = f"http://127.0.0.1:{port}"
    try:
        warm = min(len(bodies), args.sequential)
        sequential_http(url, bodies, warm)  # warm up: the first distinct queries once
        seq = sequential_http(url, bodies, args.sequential)
        load = asyncio.run(load_test(url, bodies, args.requests, args.clients, args.time_cap))
        tracks = httpx.get(url + "/readyz").json()["tracks"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    local = in_process(index, checkpoint, bodies, args.sequential, warm)
    report(args, argv, tracks, build_s, load, seq, local)


def report(args: argparse.Namespace, argv: list[str] | None, tracks: int, build_s: float, load: dict,
           seq: np.ndarray, local: np.ndarray) -> None:
    """Print the table and write the markdown fragment."""
    lat, sent, wall = load["lat"], load["sent"], load["wall_s"]
    n_err = sum(load["errors"].values())
    rows = [
        ("HTTP, %d concurrent clients" % args.clients, f"{sent / wall:,.0f}", ms(lat, 50), ms(lat, 99),
         f"{sent:,}", f"{n_err}" + (f" {load['errors']}" if n_err else "")),
        ("HTTP, one client at a time", f"{len(seq) / seq.sum():,.0f}", ms(seq, 50), ms(seq, 99), f"{len(seq):,}", "0"),
        ("in-process (embed_text + search)", f"{len(local) / local.sum():,.0f}", ms(local, 50), ms(local, 99),
         f"{len(local):,}", "0"),
    ]
    ratio = ms(seq, 50) / ms(local, 50) if ms(local, 50) > 0 else float("nan")
    lines = ["| mode | req/s | p50 ms | p99 ms | requests | errors |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {m} | {r} | {p50:.2f} | {p99:.2f} | {n} | {e} |" for m, r, p50, p99, n, e in rows]
    table = "\n".join(lines)
    capped = " (stopped by the time cap)" if sent < args.requests else ""
    summary = (f"{tracks:,} tracks; {args.distinct} distinct queries ({args.filtered:.0%} with a genre filter), "
               f"k={args.k}, cached after their first use; load test: {sent:,} requests in {wall:.1f} s{capped}; "
               f"HTTP overhead at p50 (one client vs in-process): {ratio:.1f}x; server workers: {args.workers}"
               + (f"; index built in {build_s:.0f} s" if build_s else ""))
    print(table, summary, sep="\n\n")
    if args.markdown:
        cmd = "python scripts/bench_load.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        model = args.checkpoint or "tiny random-init model"
        text = f"### Search service under load ({model}, {os.cpu_count()} CPU cores)\n\n`{cmd}`\n\n{summary}.\n\n{table}\n"
        atomic_write_bytes(args.markdown, text.encode())
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
