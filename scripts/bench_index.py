#!/usr/bin/env python
"""Benchmark catalog indexes on structured embeddings, in one run: exact Flat vs the auto-chosen index (and
optionally HNSW32 / IVF-PQ). Per index: build time, tuning, bytes per vector, recall@10 vs exact search,
single-query latency p50/p99 and batch-256 throughput, all through ``index.Catalog``.

The catalog is a clustered mixture with low intrinsic dimension (``index.synthetic.Mixture``; uniformly random
vectors have no neighbour structure and make ANN recall meaningless), or real model embeddings expanded to
``--n`` rows (``--from-embeddings``). Queries are never catalog rows: held-out draws from the same distribution,
or real text-query embeddings (``--queries``), split into disjoint tuning and evaluation sets.

Examples:
    python scripts/bench_index.py --n 100000 --d 256
    python scripts/bench_index.py --n 1000000 --d 512 --markdown bench/index.md
    python scripts/bench_index.py --from-embeddings emb.npy --queries text_q.npy --n 1000000
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from index import (Catalog, TrackMeta, catalog_from_arrays, choose_index, configure_faiss, exact_knn,  # noqa: E402
                   recall_at_k)
from index.auto import nlist_for  # noqa: E402
from index.faiss_index import BLAS_THRESHOLD, get_knob  # noqa: E402
from index.fileio import atomic_write_bytes  # noqa: E402
from index.synthetic import Mixture, expand_embeddings  # noqa: E402


@dataclass
class Row:
    """One benchmarked index."""

    label: str
    factory: str
    build_s: float
    tune: str
    bytes_per_vec: float
    recall: float
    p50_ms: float
    p99_ms: float
    timed: int  # single queries timed
    qps: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Examples:")[1].join(["Examples:", ""]))
    p.add_argument("--n", type=int, default=1_000_000, help="catalog size (default 1,000,000)")
    p.add_argument("--d", type=int, default=512, choices=(256, 512), help="embedding dimension (synthetic data)")
    p.add_argument("--from-embeddings", type=Path, help="real embeddings (.npy, rows x d) to expand to --n rows")
    p.add_argument("--queries", type=Path, help="query embeddings (.npy), e.g. real text queries")
    p.add_argument("--n-queries", type=int, default=1000, help="held-out evaluation queries (synthetic)")
    p.add_argument("--n-tune", type=int, default=300, help="held-out tuning queries (disjoint from evaluation)")
    p.add_argument("--indexes", default=None,
                   help="comma list from flat,auto,hnsw32,ivf,ivfpq (default: all up to n=300k, else flat,auto)")
    p.add_argument("--memory-mb", type=float, default=4096.0, help="memory budget for the auto choice")
    p.add_argument("--target-recall", type=float, default=0.95, help="recall@10 the tuning aims for")
    p.add_argument("--latency-queries", type=int, default=200,
                   help="queries timed one at a time (fewer if an index needs over a minute for them)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--markdown", type=Path, help="write a markdown table fragment (with this command) here")
    return p.parse_args(argv)


def make_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(catalog rows, tuning queries, evaluation queries, description) -- queries are never catalog rows."""
    if args.from_embeddings:
        real = np.load(args.from_embeddings).astype(np.float32)
        x = expand_embeddings(real, args.n, seed=args.seed)
        held_out = expand_embeddings(real, args.n_tune + args.n_queries, seed=args.seed + 1)
        desc = f"{len(real)} real embeddings from {args.from_embeddings.name} expanded to {args.n}"
    else:
        mix = Mixture(args.d, seed=args.seed)
        x = mix.sample(args.n, seed=args.seed + 1)
        held_out = mix.sample(args.n_tune + args.n_queries, seed=args.seed + 2)
        desc = "clustered mixture: 2000 centres on a 48-d subspace, anisotropic noise, in a cone, normalised"
    if args.queries:
        q = np.load(args.queries).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        if q.shape[1] != x.shape[1] or len(q) < 30:
            sys.exit(f"--queries: need >= 30 rows of dimension {x.shape[1]}, got {q.shape}")
        n_tune = min(args.n_tune, len(q) // 3)
        return x, q[:n_tune], q[n_tune:], desc + f"; {len(q)} queries from {args.queries.name}"
    return x, held_out[:args.n_tune], held_out[args.n_tune:], desc + "; held-out queries from the same mixture"


def plan(args: argparse.Namespace, n: int, d: int) -> list[tuple[str, str]]:
    """(label, factory) of the indexes to run; auto is resolved with the same rules as build_catalog."""
    names = args.indexes.split(",") if args.indexes else (
        ["flat", "auto", "hnsw32", "ivf", "ivfpq"] if n <= 300_000 else ["flat", "auto"])
    auto = choose_index(n, d, args.memory_mb).factory
    m = next(m for m in (64, 32, 16, 8) if d % m == 0 and m <= d // 4)
    known = {"flat": "Flat", "auto": auto, "hnsw32": "HNSW32", "ivf": f"IVF{nlist_for(n)},Flat",
             "ivfpq": f"IVF{nlist_for(n)},PQ{m}x8np"}
    out, seen = [], set()
    for name in names:
        factory = known[name.strip()]
        if factory not in seen:
            seen.add(factory)
            out.append((f"auto ({factory})" if name == "auto" else name, factory))
    return out


def serialized_bytes(index: faiss.Index) -> int:
    """Size of the index file, counted without writing it."""
    total = 0

    def count(chunk: bytes) -> int:
        nonlocal total
        total += len(chunk)
        return len(chunk)

    faiss.write_index(index, faiss.PyCallbackIOWriter(count))
    return total


def latency_ms(cat: Catalog, q: np.ndarray, k: int, max_s: float = 60.0) -> tuple[float, float, int]:
    """p50 / p99 of one-query searches in ms with one OpenMP thread, as a service runs them; and how many were
    timed (stops after ``max_s``)."""
    times: list[float] = []
    threads = faiss.omp_get_max_threads()
    configure_faiss(omp_threads=1)  # per thread (OpenMP): holds for the searches below, made in this thread
    start = time.perf_counter()
    for row in q:
        t = time.perf_counter()
        cat.search(row[None, :], k)
        times.append((time.perf_counter() - t) * 1e3)
        if time.perf_counter() - start > max_s and len(times) >= 20:
            break
    configure_faiss(omp_threads=threads)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99)), len(times)


def throughput(cat: Catalog, q: np.ndarray, k: int, batch: int = 256, min_s: float = 2.0) -> float:
    """Queries per second searching ``batch`` queries per call (at least one batch, about ``min_s`` seconds)."""
    done, start, i = 0, time.perf_counter(), 0
    while done == 0 or time.perf_counter() - start < min_s:
        rows = np.take(q, np.arange(i, i + batch) % len(q), axis=0)
        cat.search(rows, k)
        done, i = done + batch, i + batch
    return done / (time.perf_counter() - start)


def bench_one(label: str, factory: str, x: np.ndarray, metas: list[TrackMeta], tune_q: np.ndarray,
              tune_truth: np.ndarray, eval_q: np.ndarray, eval_truth: np.ndarray, args: argparse.Namespace) -> Row:
    """Build, tune and measure one index."""
    t = time.perf_counter()
    cat = catalog_from_arrays(x, metas, factory, target_recall=0)
    build_s = time.perf_counter() - t
    tune_txt = "-"
    if get_knob(cat.index) is not None:
        t = time.perf_counter()
        res = cat.tune(tune_q, args.target_recall, k=10, true_ids=tune_truth)
        tune_txt = f"{res.param}={res.value} ({time.perf_counter() - t:.0f} s{'' if res.reached else ', target missed'})"
    n_eval = 100 if cat.family == "flat" else len(eval_q)  # exact: a sanity check is enough (~5 q/s at 1M x 512)
    _, ids = cat.search(eval_q[:n_eval], 10)
    recall = recall_at_k(ids, eval_truth[:n_eval])
    p50, p99, timed = latency_ms(cat, eval_q[:args.latency_queries], 10)
    row = Row(label, factory, build_s, tune_txt, serialized_bytes(cat.index) / len(x), recall,
              p50, p99, timed, throughput(cat, eval_q, 10))
    cat.close()
    return row


def table(rows: list[Row]) -> str:
    """Markdown table of the results."""
    lines = ["| index | factory | build s | tuned (time) | bytes/vec | recall@10 | p50 ms | p99 ms (n) "
             "| batch-256 q/s |", "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.label} | `{r.factory}` | {r.build_s:.1f} | {r.tune} | {r.bytes_per_vec:.0f} | {r.recall:.3f} | "
              f"{r.p50_ms:.2f} | {r.p99_ms:.2f} ({r.timed}) | {r.qps:.0f} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print (and optionally write) the table."""
    args = parse_args(argv)
    t0 = time.perf_counter()
    x, tune_q, eval_q, desc = make_data(args)
    n, d = x.shape
    metas = [TrackMeta(f"t{i}") for i in range(n)]
    print(f"data: {n} x {d} ({desc}) in {time.perf_counter() - t0:.0f} s", flush=True)
    t = time.perf_counter()
    chunks = ((np.arange(s, min(s + 65536, n)) + 1, x[s:s + 65536]) for s in range(0, n, 65536))
    _, truth = exact_knn(chunks, np.concatenate([tune_q, eval_q]), 10)  # ids are rows + 1, as the catalog assigns
    tune_truth, eval_truth = truth[:len(tune_q)], truth[len(tune_q):]
    print(f"exact ground truth for {len(truth)} queries in {time.perf_counter() - t:.0f} s", flush=True)
    rows = []
    for label, factory in plan(args, n, d):
        rows.append(bench_one(label, factory, x, metas, tune_q, tune_truth, eval_q, eval_truth, args))
        print(table(rows[-1:]).splitlines()[-1], f"[{time.perf_counter() - t0:.0f} s elapsed]", flush=True)
    total = time.perf_counter() - t0
    out = table(rows)
    print(out)
    print(f"total {total:.0f} s")
    if args.markdown:
        cmd = "python scripts/bench_index.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        text = (f"### Catalog index: n={n:,}, d={d}\n\n`{cmd}`\n\n{desc}. {len(tune_q)} tuning and {len(eval_q)} "
                f"evaluation queries (disjoint, never catalog rows; Flat's recall is checked on 100); target recall@10 "
                f"{args.target_recall}; "
                f"{os.cpu_count()} CPU cores, FAISS {faiss.__version__}, BLAS threshold {BLAS_THRESHOLD}; single queries "
                f"timed with 1 OpenMP thread (as a service runs them), batches with all cores; "
                f"total run {total / 60:.1f} min.\n\n{out}\n")
        atomic_write_bytes(args.markdown, text.encode())
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
