"""Benchmark training throughput: the whole pipeline beside the model's forward+backward alone.

For each config (default: small, small without torch.compile, and paper) it trains ``--steps`` batches over a
generated corpus with the real Trainer (feature cache, DataLoader, tokenizer, augmentation, loss, optimizer) and
times them in steady state (see ``bench``), then times forward+backward (+ optimizer step) of the same network on
one fixed batch of the same size. The ratio shows the data pipeline's overhead (1.0 = none). A config is a name
with optional ``+key=value`` overrides, e.g. ``small+train.compile=false``. The first batch (and with
``train.compile`` the compilation) is kept out of both timings. The machine may be shared: each row reports the
load average it ran under.

    python scripts/bench_train.py --markdown scripts/results/30_train.md
    python scripts/bench_train.py --configs paper --uncached paper --corpus /tmp/bench-corpus   # before / after
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from index.fileio import atomic_write_text
from muscall.config import load_config
from muscall.training.trainer import Trainer


def corpus(path: Path, n: int) -> Path:
    """A generated corpus of ``n`` 10 s clips (reused when already there)."""
    if not (path / "manifest.jsonl").exists():
        subprocess.run([sys.executable, "-m", "muscall.cli.main", "data", "synth", "--out", str(path), "--n", str(n),
                        "--seconds", "10", "--splits", "0.9,0.1,0.0", "--no-progress"], check=True)
    return path / "manifest.jsonl"


def bench(spec: str, manifest: Path, batch: int, steps: int, run_dir: Path, cache_captions: bool = True) -> dict:
    """Steady-state pipeline clips/s over ``steps`` batches, and the model-alone clips/s on one batch.

    An untimed pass over the same batches comes first (DataLoader worker start-up, the first encoding of each
    row's caption), and the pipeline is timed from the end of its first batch, so both rates describe a long
    epoch rather than its start. ``cache_captions=False`` encodes the weighting captions with MiniLM every step,
    as before the per-row cache (``RowEmbeddings``).
    """
    name, *overrides = spec.split("+")
    cfg = load_config(name, [f"data.manifest={manifest}", f"train.batch_size={batch}", "train.val_pool_size=4",
                             "train.epochs=1", "train.device=cpu", "train.max_minutes=null", *overrides])
    trainer = Trainer(cfg, run_dir, progress=False)  # builds the feature cache outside the timing
    if not cache_captions:
        trainer.objective.minilm = None
    warm = next(iter(torch.utils.data.DataLoader(trainer.dataset, batch_size=batch, collate_fn=trainer.collate)))
    trainer._step(trainer.net, warm)  # first batch of a new shape is slow: keep it out of both timings
    load = os.getloadavg()[0]
    trainer.train_epoch(0, time.monotonic(), max_batches=steps + 1)
    trainer.step_in_epoch, ends = 0, []
    step = trainer._step
    trainer._step = lambda net, b: (step(net, b), ends.append(time.perf_counter()))[0]
    trainer.train_epoch(0, time.monotonic(), max_batches=steps + 1)
    trainer._step = step
    pipeline = (len(ends) - 1) * batch / (ends[-1] - ends[0])
    tic = time.perf_counter()
    for _ in range(steps):
        trainer._step(trainer.net, warm)
    alone = steps * batch / (time.perf_counter() - tic)
    label = spec.replace("+", " ") + ("" if cache_captions else " (captions re-encoded every step)")
    return {"config": label, "compile": cfg.train.compile, "batch": batch, "steps": steps,
            "crop_s": cfg.audio.clip_seconds, "n_mels": cfg.audio.n_mels, "ssl": cfg.loss.ssl, "pipeline": pipeline,
            "alone": alone, "load": (load + os.getloadavg()[0]) / 2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="small,small+train.compile=false,paper",
                    help="comma-separated NAME[+key=value...] (default: small,small+train.compile=false,paper)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--corpus", default=None, help="corpus folder (default: generate 224 clips in a temp folder)")
    ap.add_argument("--uncached", default="", help="comma-separated configs also run with the weighting captions "
                                                  "re-encoded every step (the pipeline before the per-row cache)")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    with tempfile.TemporaryDirectory() as tmp:
        manifest = corpus(Path(args.corpus or Path(tmp) / "corpus"), (args.steps + 2) * args.batch + 32)
        runs = [(c, True) for c in args.configs.split(",")] + [(c, False) for c in args.uncached.split(",") if c]
        rows = [bench(c, manifest, args.batch, args.steps, Path(tmp) / f"run-{i}", cached)
                for i, (c, cached) in enumerate(runs)]
    lines = ["## Training throughput (CPU)", "",
             f"`python scripts/{Path(__file__).name} {shlex.join(sys.argv[1:])}` — {torch.get_num_threads()} torch "
             f"threads; {args.steps} batches of {args.batch} through the real Trainer (feature cache, DataLoader, "
             "tokenizer, augmentation, loss, AdamW), timed after an untimed pass over the same batches, beside "
             "forward+backward+step of the same network on one fixed batch; load: the machine's 1-minute load "
             "average during the row.",
             "", "| config | crop (s) | mels | SSL | torch.compile | pipeline clips/s | model alone clips/s | "
             "pipeline / model | load |",
             "|---|---:|---:|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['crop_s']:g} | {r['n_mels']} | {r['ssl']} | {r['compile']} | "
                     f"{r['pipeline']:.1f} | {r['alone']:.1f} | {r['pipeline'] / r['alone']:.2f} | {r['load']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)


if __name__ == "__main__":
    main()
