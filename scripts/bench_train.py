"""Benchmark training throughput: the whole pipeline beside the model's forward+backward alone.

For each config (default: small, small without torch.compile, and paper) it trains one epoch over a
generated corpus with the real Trainer (feature cache, DataLoader, tokenizer, loss, optimizer) and times
it, then times forward+backward (+ optimizer step) of the same network on one fixed batch of the same
size. The ratio shows the data pipeline's overhead (1.0 = none). A config is a name with optional ``+key=value`` overrides, e.g.
``small+train.compile=false``. The first batch (and with ``train.compile`` the compilation) is kept out of
both timings.

    python scripts/bench_train.py --markdown scripts/results/30_train.md
"""

from __future__ import annotations

import argparse
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


def bench(spec: str, manifest: Path, batch: int, steps: int, run_dir: Path) -> dict:
    """Pipeline clips/s over ``steps`` batches, and the model-alone clips/s on one batch."""
    name, *overrides = spec.split("+")
    cfg = load_config(name, [f"data.manifest={manifest}", f"train.batch_size={batch}", "train.val_pool_size=4",
                             "train.epochs=1", "train.device=cpu", "train.max_minutes=null", *overrides])
    trainer = Trainer(cfg, run_dir, progress=False)  # builds the feature cache outside the timing
    warm = next(iter(torch.utils.data.DataLoader(trainer.dataset, batch_size=batch, collate_fn=trainer.collate)))
    trainer._step(trainer.net, warm)  # first batch of a new shape is slow: keep it out of both timings
    tic = time.perf_counter()
    clips, _ = trainer.train_epoch(0, time.monotonic(), max_batches=steps)
    pipeline = clips / (time.perf_counter() - tic)
    tic = time.perf_counter()
    for _ in range(steps):
        trainer._step(trainer.net, warm)
    alone = steps * batch / (time.perf_counter() - tic)
    return {"config": spec.replace("+", " "), "compile": cfg.train.compile, "batch": batch, "steps": steps,
            "crop_s": cfg.audio.clip_seconds, "n_mels": cfg.audio.n_mels, "ssl": cfg.loss.ssl, "pipeline": pipeline,
            "alone": alone}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="small,small+train.compile=false,paper",
                    help="comma-separated NAME[+key=value...] (default: small,small+train.compile=false,paper)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--corpus", default=None, help="corpus folder (default: generate 224 clips in a temp folder)")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    with tempfile.TemporaryDirectory() as tmp:
        manifest = corpus(Path(args.corpus or Path(tmp) / "corpus"), args.steps * args.batch + 32)
        rows = [bench(c, manifest, args.batch, args.steps, Path(tmp) / f"run-{i}")
                for i, c in enumerate(args.configs.split(","))]
    lines = ["## Training throughput (CPU)", "",
             f"`python scripts/{Path(__file__).name} {shlex.join(sys.argv[1:])}` — {torch.get_num_threads()} torch "
             f"threads; one epoch of {args.steps} batches of {args.batch} through the real Trainer (feature cache, "
             "DataLoader, tokenizer, loss, AdamW) beside forward+backward+step of the same network on one fixed batch.",
             "", "| config | crop (s) | mels | SSL | torch.compile | pipeline clips/s | model alone clips/s | "
             "pipeline / model |",
             "|---|---:|---:|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['crop_s']:g} | {r['n_mels']} | {r['ssl']} | {r['compile']} | "
                     f"{r['pipeline']:.1f} | {r['alone']:.1f} | {r['pipeline'] / r['alone']:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)


if __name__ == "__main__":
    main()
