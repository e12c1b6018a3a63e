#!/usr/bin/env python
"""Load-test text search over HTTP: `muscall serve` on 127.0.0.1 driven by `wrk` at 1 and --connections keep-alive
connections, with cached query texts (cycled, embedded once) and with fresh ones (every text new: the text tower
runs for each), then an open-loop run at a fixed request rate; beside the in-process cost of the same work
(``embed_text`` + ``search`` called directly), so the HTTP and service overhead shows as a difference.

The catalog is ``--n`` clustered random vectors (one index per size, chosen by index/auto.py unless --factory,
built once per invocation and kept in the work folder) in the model's space; the model is a given checkpoint or a
random-init one of --config (`small`: the demo's architecture; nothing is downloaded). With --baseline the same
load runs against a server started from another checkout too (e.g. `git worktree add /tmp/base BASE`), side by
side. The load generator shares the machine's cores with the server, as in the issue's measurements.

Examples:
    python scripts/bench_load.py --n 1000 100000 1000000 --markdown scripts/results/55_load.md
    python scripts/bench_load.py --n 1000 --baseline /tmp/base --seconds 5        # before/after, side by side
    python scripts/bench_load.py --checkpoint runs/small/checkpoints/best --index idx/
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from bench_retrieval import publish  # noqa: E402
from load_tools import (LoadResult, build_openloop, cache_counts, have_wrk, httpx_load, openloop,  # noqa: E402
                        section, wrk)

from api.services.search import embed_text, make_filter, search  # noqa: E402
from api.services.state import configure_threads, load_state  # noqa: E402
from api.settings import Settings  # noqa: E402
from index import TrackMeta, catalog_from_arrays, save_catalog  # noqa: E402
from index.synthetic import Mixture  # noqa: E402
from muscall.checkpoint import load_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GENRES = ["jazz", "rock", "ambient"]
MOODS = ["calm", "bright", "dark", "happy", "sad", "energetic", "dreamy", "tense"]
INSTRUMENTS = ["piano", "guitar", "strings", "synth pads", "drums", "saxophone", "voice", "bass"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Examples:")[1].join(["Examples:", ""]))
    p.add_argument("--n", type=int, nargs="+", default=[1000], help="tracks in the generated index(es) (1000)")
    p.add_argument("--config", default="small", help="random-init model config when no --checkpoint (small)")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint (default: a random-init --config model)")
    p.add_argument("--index", type=Path, help="use this saved index instead of generating one")
    p.add_argument("--factory", default="auto", help="index factory for the generated index (auto)")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections of the loaded runs (32)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each load run (10)")
    p.add_argument("--rate", type=float, default=300.0, help="open-loop request rate, cached queries (300/s)")
    p.add_argument("--distinct", type=int, default=256, help="distinct cached query texts (256)")
    p.add_argument("--k", type=int, default=10, help="results per query (10)")
    p.add_argument("--filtered", type=float, default=0.25, help="share of cached queries with a genre filter")
    p.add_argument("--sequential", type=int, default=300, help="in-process queries timed (300)")
    p.add_argument("--workers", type=int, default=1, help="server worker processes (1)")
    p.add_argument("--baseline", type=Path, help="also serve from this checkout (the code before), same load")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="serve setting for this checkout's server, e.g. search_batch=1 (repeat)")
    p.add_argument("--work-dir", type=Path, help="keep the generated checkpoint and indexes here (reused)")
    p.add_argument("--markdown", help="also write the markdown fragment (with this command) here")
    args = p.parse_args(argv)
    if args.connections < 1 or min(args.n) < 10 or args.distinct < 1 or args.seconds <= 0:
        p.error("--connections and --distinct must be >= 1, --n >= 10 and --seconds > 0")
    return args


def random_checkpoint(path: Path, config: str, code: Path, overrides: tuple[str, ...] = ()) -> Path:
    """A randomly initialised model of ``config`` (seeded; ``overrides`` like ``model.embed_dim=256`` applied) with a
    tokenizer trained on a few captions, saved by the checkout ``code`` (the oldest one served: a config saved by
    newer code may hold keys it does not know)."""
    if not (path / "meta.json").exists():
        subprocess.run([sys.executable, "-c", _MAKE_CHECKPOINT, str(path), config, *overrides], cwd=code, check=True,
                       env={**os.environ, "PYTHONPATH": str(code)})
    return path


_MAKE_CHECKPOINT = """import sys, torch
from muscall.checkpoint import save_checkpoint
from muscall.config import load_config
from muscall.models import build_tokenizer, create_model
cfg = load_config(sys.argv[2], sys.argv[3:])
tokenizer = build_tokenizer(cfg, [f"{g} music with a {w} tone" for g in ("jazz", "rock", "ambient")
                                  for w in ("low", "high", "calm", "bright")])
torch.manual_seed(0)
save_checkpoint(sys.argv[1], create_model(cfg, vocab_size=tokenizer.vocab_size), cfg, tokenizer)
"""


def build_index(out: Path, checkpoint: Path, n: int, factory: str) -> tuple[Path, float]:
    """A saved index of ``n`` clustered vectors in the model's space, with titles, genres and tags; reused."""
    if (out / "manifest.json").exists():
        return out, 0.0
    dim = int(load_checkpoint(checkpoint).model.embed_dim)
    t0 = time.perf_counter()
    emb = Mixture(dim, n_clusters=max(10, min(2000, n // 50)), intrinsic_dim=min(48, dim), seed=0).sample(n, seed=1)
    rng = np.random.default_rng(2)
    genres, durations = rng.integers(0, len(GENRES), n), rng.uniform(30, 420, n).round(1)
    metas = [TrackMeta(f"track-{i:07d}", "", f"Track {i}", float(durations[i]),
                       [GENRES[genres[i]], MOODS[i % len(MOODS)]], {"genre": GENRES[genres[i]]}) for i in range(n)]
    with catalog_from_arrays(emb, metas, factory, model_hash=load_checkpoint(checkpoint).sha256,
                             attribute_fields=("genre",)) as catalog:
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
        body: dict = {"query": text, "k": k}
        if rng.random() < filtered:
            body["filters"] = {"genre": GENRES[int(rng.integers(0, len(GENRES)))]}
        out.append(body)
    return out


def start_server(code: Path, index: Path, checkpoint: Path, args: argparse.Namespace, log: Path,
                 extra: list[str]) -> tuple[subprocess.Popen, int]:
    """`muscall serve` from the checkout ``code`` on a free 127.0.0.1 port, once /readyz answers 200."""
    cmd = [sys.executable, "-m", "muscall.cli.main", "serve", "--catalog", str(index), "--checkpoint",
           str(checkpoint), "--host", "127.0.0.1", "--workers", str(args.workers), "--log-level", "warning",
           "--set", "max_k=1000", *[a for kv in extra for a in ("--set", kv)]]
    for _ in range(5):  # a port free when picked can be taken before uvicorn binds it
        port = free_port()
        with open(log, "wb") as fh:
            proc = subprocess.Popen(cmd + ["--port", str(port)], cwd=code, stdout=fh, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONPATH": str(code)})
        if wait_ready(proc, port, log):
            return proc, port
    raise SystemExit(f"server found its port taken 5 times:\n{log.read_text(errors='replace')}")


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (it can be taken again before a server binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(proc: subprocess.Popen, port: int, log: Path, timeout: float = 300.0) -> bool:
    """True once /readyz answers 200; False when the server exited because its port was taken."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if "address already in use" in log.read_text(errors="replace").lower():
                return False
            raise SystemExit(f"server exited ({proc.returncode}):\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"server not ready after {timeout:.0f} s:\n{log.read_text(errors='replace')}")


def drive(url: str, port: int, bodies: list[dict], args: argparse.Namespace, work: Path, label: str,
          exe: Path | None) -> list[tuple[str, LoadResult, float]]:
    """The load runs against one server: (what, result, query-cache hit rate during the run)."""
    with httpx.Client(base_url=url, timeout=60) as client:  # warm-up: every cached text embedded once
        for body in bodies:
            client.post("/search/text", json=body).raise_for_status()
    runs = []
    for fresh, conns in ((False, 1), (False, args.connections), (None, 64), (True, 1), (True, args.connections)):
        before = cache_counts(url)  # the open loop (fresh None) runs before fresh texts evict the cached ones
        tag = f"{label}{conns}{'f' if fresh else 'c'}{time.time_ns() % 10**6}"
        if fresh is None:
            if exe is None:
                continue
            result = openloop(exe, port, bodies, args.rate, args.seconds, conns, work)
        elif have_wrk():
            result = wrk(url, bodies, conns, args.seconds, work, fresh, tag, args.k)
        else:
            result = httpx_load(url, fresh_bodies(tag, 50_000, args.k) if fresh else bodies, conns, args.seconds)
        runs.append(("fresh texts" if fresh else "cached texts", result, hit_rate(before, cache_counts(url))))
    return runs


def fresh_bodies(tag: str, n: int, k: int) -> list[dict]:
    """``n`` query bodies that never repeat (for the httpx fallback; wrk makes its own)."""
    return [{"query": f"{MOODS[i % 8]} music with {MOODS[(i // 8) % 8]}, take {tag}-{i}", "k": k} for i in range(n)]


def hit_rate(before: tuple[float, float], after: tuple[float, float]) -> float:
    """Share of the run's text queries answered from the query cache."""
    hits, misses = after[0] - before[0], after[1] - before[1]
    return hits / (hits + misses) if hits + misses > 0 else float("nan")


def in_process(index: Path, checkpoint: Path, bodies: list[dict], n: int) -> dict[str, np.ndarray]:
    """Latencies (s) of the same work through the service functions, no HTTP: cached texts (after one warm-up
    pass) and fresh texts (the text tower runs for each)."""
    state = load_state(Settings(index_dir=index, checkpoint=checkpoint, persist=False))
    configure_threads(state.settings.serve.threads_per_request)  # as `muscall serve` does
    try:
        def run(texts: list[dict]) -> np.ndarray:
            out = []
            for body in texts:
                flt = make_filter(**body["filters"]) if "filters" in body else None
                start = time.perf_counter()
                vec, _ = embed_text(state, body["query"])
                search(state, vec, body["k"], 0, flt)
                out.append(time.perf_counter() - start)
            return np.array(out)

        run(bodies)
        cycle = [bodies[i % len(bodies)] for i in range(n)]
        return {"cached texts": run(cycle), "fresh texts": run(fresh_bodies("inproc", n, bodies[0]["k"]))}
    finally:
        state.close()


def main(argv: list[str] | None = None) -> None:
    """Build (or take) the model and indexes, drive each server, print and write the table."""
    args = parse_args(argv)
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        run(args, args.work_dir)
        return
    with tempfile.TemporaryDirectory(prefix="muscall-bench-load-") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, work: Path) -> None:
    """The benchmark with its files under ``work``."""
    base = args.baseline.resolve() if args.baseline else None
    checkpoint = args.checkpoint or random_checkpoint(work / f"{args.config}-ckpt-{'base' if base else 'head'}",
                                                      args.config, base or REPO)
    bodies = queries(args.distinct, args.filtered, args.k)
    exe = build_openloop(work)
    servers = ([("before", base, [])] if base else []) + [("after", REPO, args.set)]
    sections = []
    for n in ([0] if args.index else args.n):
        index, build_s = (args.index, 0.0) if args.index else build_index(
            work / f"index-{n}-{args.factory}-{args.config}", checkpoint, n, args.factory)
        rows, loads = [], []
        for label, code, extra in servers:
            server, port = start_server(code, index, checkpoint, args, work / f"server-{label}.log", extra)
            url = f"http://127.0.0.1:{port}"
            try:
                loads.append(os.getloadavg()[0])
                ready = httpx.get(url + "/readyz").json()
                rows += [(label, *r) for r in drive(url, port, bodies, args, work, label, exe)]
                loads.append(os.getloadavg()[0])
            finally:
                server.terminate()
                server.wait(timeout=30)
        local = in_process(index, checkpoint, bodies, args.sequential)
        sections.append((ready, build_s, rows, local, loads))
    publish(lambda command: fragment(args, command, sections), args.markdown)


def fragment(args: argparse.Namespace, command: str, sections: list) -> str:
    """The markdown: one table per index size, each with its overhead line."""
    model = args.checkpoint or f"random-init `{args.config}` model"
    head = (f"### Text search over HTTP under load ({model}, {os.cpu_count()} CPU cores shared by server and "
            f"load generator)\n\n`{command}`\n\n")
    return head + "\n".join(section(args.connections, *s) for s in sections)


if __name__ == "__main__":
    main()
