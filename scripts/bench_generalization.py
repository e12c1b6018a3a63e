"""Benchmark the open world: does `small` hold up under words and sound it never trained on?

Trains on a corpus made with held-out parts (``muscall data synth --holdout-soundfont NAME --holdout-wording``:
train/val clips never use that soundfont nor the held-out templates and synonyms) and evaluates on five test
settings (muscall/eval/shift.py): (a) in domain, (b) held-out soundfont, (c) held-out wording, (d) short queries in
held-out words, (e) soundfont + wording; R@10 and MedR both directions, attribute mAP@10, genre accuracy,
instrument and mood ROC-AUC, and each setting's R@10 over (a)'s. Each variant is `NAME=CONFIG[:k=v,k=v][@CORPUS]`
(default: `small` as shipped), so one run can ablate each lever: a config override turns a training lever off, a
corpus made without several soundfonts or without the production chain ablates the data levers. Finished runs
(RUN/done) are reused.

    python scripts/bench_generalization.py --corpus data/gen --minutes 20 \\
        --variant all=small --variant no-text-aug=small:text_augment.enabled=false \\
        --markdown scripts/results/37_generalization.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench_retrieval import muscall, publish, train
from index.fileio import atomic_write_text
from muscall.checkpoint import load_checkpoint
from muscall.eval.report import to_jsonable
from muscall.eval.shift import evaluate_shift, shift_markdown
from muscall.models.bridge import BRIDGE_FILE
from muscall.zeroshot import load_label_sets



def parse_variant(spec: str, default_corpus: Path) -> tuple[str, str, list[str], Path]:
    """``NAME=CONFIG[:k=v,k=v][@CORPUS]`` -> (name, config, overrides, corpus)."""
    name, sep, rest = spec.partition("=")
    if not sep or not name:
        raise SystemExit(f"--variant {spec!r}: write NAME=CONFIG[:key=value,...][@CORPUS]")
    rest, _, corpus = rest.partition("@")
    config, _, overrides = rest.partition(":")
    return name, config or "small", [o for o in overrides.split(",") if o], Path(corpus) if corpus else default_corpus


def make_corpus(corpus: Path, n: int, holdout: str) -> None:
    """Generate the benchmark corpus with the held-out soundfont and wording, unless it exists."""
    if not (corpus / "manifest.jsonl").exists():
        muscall("data", "synth", "--out", str(corpus), "--n", str(n), "--seconds", "10", "--splits", "0.8,0.06,0.14",
                "--holdout-soundfont", holdout, "--holdout-wording", "--no-progress")


TITLE = "Generalisation: held-out soundfont, held-out wording, short queries"


def table(results: dict, command: str, title: str = TITLE) -> str:
    """The markdown fragment: one table of the five settings per variant."""
    lines = [f"## {title}", "", f"`{command}`", "",
             "Each setting's test pool has the same size (seeded), so R@10 and MedR compare across rows; "
             "ratio_to_a = text→audio R@10 over setting (a)'s of the same model; genre_ece = expected calibration "
             "error (15 bins) of zero-shot genre probabilities at the model's temperature, genre_ece_fitted = at the "
             "temperature fitted on the validation split (in-domain soundfonts).", ""]
    for name, r in results.items():
        t = r["train"]
        lines += [f"**{name}** ({t['epochs']} epochs in {t['minutes']:.1f} min, best val R@10 "
                  f"{t['best_val_r10']:.3f})", "", shift_markdown(r["shift"])]
    return "\n".join(lines)


# mode -> (results file, bridge, key agreement); files of runs evaluated before the key agreement (shift.json, ...)
# are not read
MODES = {"full": ("shift-key.json", "full", True), "words": ("shift-key-noneighbours.json", "words", True),
         "off": ("shift-key-nobridge.json", "off", True), "nokey": ("shift-nokey.json", "full", False)}


def shift_of(run: Path, corpus: Path, mode: str = "full") -> dict:
    """The run's shift results with its vocabulary bridge as trained (``full``), without its caption neighbours
    (``words``), off (``off``), or as trained but without the key agreement in ranking (``nokey``), computed once
    into RUN/shift*.json; the genre temperature is fitted on the validation split first (genre_ece_fitted)."""
    name, bridge, keyed = MODES[mode]
    out = run / name
    if not out.exists():
        best, manifest = run / "checkpoints" / "best", corpus / "manifest.jsonl"
        muscall("eval", "zeroshot", "--checkpoint", str(best), "--manifest", str(manifest), "--split", "val",
                "--fit-temperature")
        ckpt = load_checkpoint(best)
        if bridge == "off":
            ckpt.tokenizer.bridge = None
        elif bridge == "words" and ckpt.tokenizer.bridge is not None:
            ckpt.tokenizer.bridge.neighbours = 0
        labels = load_label_sets(corpus / "labels.json")
        result = evaluate_shift(ckpt, manifest, labels, key_weight=None if keyed else 0.0)
        atomic_write_text(out, json.dumps(to_jsonable(result), indent=1))
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("data/gen"))
    ap.add_argument("--n", type=int, default=4400, help="clips to generate when the corpus does not exist")
    ap.add_argument("--holdout-soundfont", default="musescore-general")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--runs", type=Path, default=Path("runs/gen"))
    ap.add_argument("--variant", action="append", default=[], help="NAME=CONFIG[:k=v,...][@CORPUS] (repeat)")
    ap.add_argument("--without-bridge", action="store_true",
                    help="also evaluate each variant with its vocabulary bridge off (a row '<name>, no bridge')")
    ap.add_argument("--without-neighbours", action="store_true",
                    help="also evaluate each variant with its bridge's word map alone, without caption neighbours "
                         "(a row '<name>, no neighbours')")
    ap.add_argument("--without-key", action="store_true",
                    help="also evaluate each variant ranked by its embeddings alone, without the key agreement of "
                         "muscall.keys (a row '<name>, no key')")
    ap.add_argument("--title", default=TITLE, help="the fragment's heading (the ablation names itself)")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    results = {}
    for spec in args.variant or ["small=small"]:
        name, config, overrides, corpus = parse_variant(spec, args.corpus)
        make_corpus(corpus, args.n, args.holdout_soundfont)
        manifest, run = corpus / "manifest.jsonl", args.runs / name
        stats = train(run, manifest, args.minutes, overrides, config)
        results[name] = {"train": stats, "shift": shift_of(run, corpus)}
        bridged = (run / "checkpoints" / "best" / "tokenizer" / BRIDGE_FILE).exists()
        if args.without_neighbours and bridged:
            results[f"{name}, no neighbours"] = {"train": stats, "shift": shift_of(run, corpus, "words")}
        if args.without_bridge and bridged:
            results[f"{name}, no bridge"] = {"train": stats, "shift": shift_of(run, corpus, "off")}
        if args.without_key:
            results[f"{name}, no key"] = {"train": stats, "shift": shift_of(run, corpus, "nokey")}
    publish(lambda command: table(results, command, args.title), args.markdown)


if __name__ == "__main__":
    main()
