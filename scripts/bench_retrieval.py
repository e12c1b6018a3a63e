"""Benchmark what the model learns: the `small` config trained for a fixed CPU time, evaluated on held-out clips.

Generates (or reuses) a corpus, trains `small` as shipped (InfoNCE + caption weighting, every caption of a
clip, the CNN plus its chroma/tempo fact branch), with MusCALL's SSL term added, without caption weighting, with
one caption per clip, without the fact branch, ..., each for the same wall-clock budget, then evaluates each on
the whole test split: text-to-audio and audio-to-text R@1/5/10, mAP@10, MedR, attribute-level mAP@10/nDCG@10,
zero-shot genre accuracy and instrument/mood ROC-AUC, beside chance.
Runs that already finished (RUN/done exists) are reused, so the table can be rebuilt without retraining.

    python scripts/bench_retrieval.py --corpus data/corpus --minutes 20 --markdown scripts/results/35_retrieval.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Callable

from index.fileio import atomic_write_text

SSL = ["loss.ssl=true"]
PLAIN = ["loss.caption_weighting=false"]
CNN_ONLY = ["audio.chroma_n_fft=0", "model.audio.rhythm=false"]  # `small` before the fact branch (to 2026-12-06)
VARIANTS = {  # name -> config overrides of `small` (each run folder: RUNS/variantN); the shipped one first
    "InfoNCE + caption weighting (`small` as shipped: CNN + chroma/tempo fact branch)": [],
    "InfoNCE only (no caption weighting, no SSL)": PLAIN,
    "InfoNCE + caption weighting + SSL (MusCALL's full objective)": SSL,
    "InfoNCE only, one caption per clip": PLAIN + ["data.all_captions=false"],
    "InfoNCE + caption weighting, lr 2e-3": ["train.lr=2e-3"],
    "`small` as shipped, without torch.compile": ["train.compile=false"],
    "CNN only, n_fft 1024 (15.6 Hz bins instead of 31.2)": CNN_ONLY + ["audio.n_fft=1024"],
    "CNN only, batches of 128 (more same-genre negatives per clip)": CNN_ONLY + ["train.batch_size=128"],
    "CNN only (no fact branch; `small` until 2026-12-06)": CNN_ONLY,
    "CNN + chroma statistics only (no tempo branch)": ["model.audio.rhythm=false"],
}


def muscall(*args: str) -> None:
    """Run one muscall command, failing loudly."""
    subprocess.run([sys.executable, "-m", "muscall.cli.main", *args], check=True)


def publish(fragment: Callable[[str], str], markdown: str | None) -> None:
    """Print the fragment made for this script's command line; also write it (atomically) to ``markdown``."""
    text = fragment(f"python scripts/{Path(sys.argv[0]).name} {shlex.join(sys.argv[1:])}")
    print(text)
    if markdown:
        atomic_write_text(markdown, text)


def train(run: Path, manifest: Path, minutes: float, overrides: list[str], config: str = "small") -> dict:
    """Train ``config`` unless RUN/done exists; return the last epoch record of its log."""
    if not (run / "done").exists():
        muscall("train", config, f"data.manifest={manifest}", f"train.max_minutes={minutes}", *overrides,
                "--out", str(run), "--resume", "--no-progress")
        (run / "done").write_text("")
    epochs = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if '"epoch"' in l and "val_r10" in l]
    steps = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if '"kind": "step"' in l]
    return {"epochs": len(epochs), "best_val_r10": max(e["val_r10"] for e in epochs),
            "clips_per_s": sum(s["clips_per_s"] for s in steps) / max(len(steps), 1),
            "minutes": epochs[-1]["elapsed_s"] / 60}


def evaluate(run: Path, manifest: Path) -> dict:
    """Retrieval and zero-shot results of RUN's best checkpoint on the test split."""
    out = run / "eval"
    if not (out / "zeroshot.json").exists():
        ckpt = str(run / "checkpoints" / "best")
        muscall("eval", "retrieval", "--checkpoint", ckpt, "--manifest", str(manifest), "--split", "test",
                "--out", str(out))
        muscall("eval", "zeroshot", "--checkpoint", ckpt, "--manifest", str(manifest), "--split", "test",
                "--out", str(out))
    return {"retrieval": json.loads((out / "retrieval.json").read_text()),
            "zeroshot": json.loads((out / "zeroshot.json").read_text())}


def table(results: dict, command: str) -> str:
    """The markdown fragment."""
    first = next(iter(results.values()))
    pool, chance = first["retrieval"]["pool"]["size"], first["retrieval"]["chance"]
    n_genres = first["zeroshot"]["genres"]["n_classes"]
    lines = ["## Retrieval and zero-shot quality (`small`, CPU time budget)", "", f"`{command}`", "",
             f"Test split: {pool} held-out clips (whole split, one caption each; chance R@10 = {chance['R@10']:.3f}, "
             f"MedR = {chance['MedR']:.0f}); zero-shot over {n_genres} genres (chance {1 / n_genres:.3f}). "
             "Attribute-level relevance: same genre and lead instrument. Ties: pessimistic.", "",
             "| model | train min | epochs | clips/s | best val R@10 | direction | R@1 | R@5 | R@10 | mAP@10 | MedR | attr mAP@10 | "
             "attr nDCG@10 | genre acc | instr ROC-AUC | mood ROC-AUC |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        t, zs = r["train"], r["zeroshot"]
        for d in ("text_to_audio", "audio_to_text"):
            m = r["retrieval"][d]
            lines.append(
                f"| {name} | {t['minutes']:.1f} | {t['epochs']} | {t['clips_per_s']:.1f} | {t['best_val_r10']:.3f} | "
                f"{d.replace('_to_', '→')} | "
                f"{m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} | {m['mAP@10']:.3f} | {m['MedR']:.0f} | "
                f"{m.get('attr_mAP@10', float('nan')):.3f} | {m.get('attr_nDCG@10', float('nan')):.3f} | "
                f"{zs['genres']['accuracy']:.3f} | {zs['instruments']['roc_auc_macro']:.3f} | "
                f"{zs['moods']['roc_auc_macro']:.3f} |")
    lines.append(f"| chance | | | | | | {chance['R@1']:.3f} | {chance['R@5']:.3f} | {chance['R@10']:.3f} | "
                 f"{chance['mAP@10']:.3f} | {chance['MedR']:.0f} | | | {1 / n_genres:.3f} | 0.500 | 0.500 |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="data/corpus")
    ap.add_argument("--n", type=int, default=4400, help="clips to generate when the corpus does not exist")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--runs", default="runs/bench")
    ap.add_argument("--only", type=int, nargs="*", help="variant numbers to run (default: all)")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not (corpus / "manifest.jsonl").exists():
        muscall("data", "synth", "--out", str(corpus), "--n", str(args.n), "--seconds", "10",
                "--splits", "0.8,0.06,0.14", "--no-progress")
    manifest = corpus / "manifest.jsonl"
    results = {}
    for i, (name, overrides) in enumerate(VARIANTS.items()):
        if args.only is not None and i not in args.only:
            continue
        run = Path(args.runs) / f"variant{i}"
        results[name] = {"train": train(run, manifest, args.minutes, overrides), **evaluate(run, manifest)}
    publish(lambda command: table(results, command), args.markdown)


if __name__ == "__main__":
    main()
