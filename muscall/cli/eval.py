"""``muscall eval retrieval|zeroshot|shift``: evaluate a checkpoint on a manifest split."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """examples:
  muscall eval retrieval --checkpoint runs/small/checkpoints/best --manifest data/corpus/manifest.jsonl
  muscall eval retrieval --checkpoint CKPT --manifest M --split test --pool-size 500 --seed 1 --out eval/
  muscall eval retrieval --checkpoint CKPT --manifest sd.jsonl --protocol multi   # Song Describer: every caption
  muscall eval zeroshot --checkpoint CKPT --manifest M --labels data/corpus/labels.json --no-ensemble
  muscall eval zeroshot --checkpoint CKPT --manifest M --split val --fit-temperature
  muscall eval shift --checkpoint CKPT --manifest data/gen/manifest.jsonl   # corpus made with --holdout-* options

zeroshot reports the genre set's expected calibration error (ECE, equal-width bins) and reliability table with
the model's temperature and with the fitted one. --fit-temperature fits the softmax temperature that minimises
the NLL on --split (use val) and stores it in CKPT/zeroshot_calibration.json, where 'muscall tag' and the
service read it. shift evaluates the test split of a corpus made with 'muscall data synth --holdout-soundfont NAME
--holdout-wording' in five settings: in domain, held-out soundfont, held-out wording, short queries, both shifts.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="retrieval and zero-shot evaluation", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task", choices=["retrieval", "zeroshot", "shift"])
    p.add_argument("--checkpoint", required=True, help="a checkpoint folder written by 'muscall train'")
    p.add_argument("--manifest", required=True, help="JSONL manifest with the clips to evaluate")
    p.add_argument("--split", default="test", help="manifest split to evaluate (default: test)")
    p.add_argument("--pool-size", type=int, default=None, help="retrieval: a seeded pool of this many pairs (default all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the pool")
    p.add_argument("--protocol", choices=["single", "multi"], default="single",
                   help="retrieval: single = each track's first caption (MusCALL); multi = every caption a query, any "
                        "caption of a track relevant to it (Song Describer)")
    p.add_argument("--labels", default=None, help="zeroshot: label sets (JSON); default labels.json beside the manifest")
    p.add_argument("--no-ensemble", action="store_true", help="zeroshot: one prompt template instead of the ensemble")
    p.add_argument("--fit-temperature", action="store_true",
                   help="zeroshot: fit the genre softmax temperature on --split and store it in the checkpoint")
    p.add_argument("--bins", type=int, default=15, help="zeroshot: equal-width bins of the ECE (default 15)")
    p.add_argument("--key-weight", type=float, default=None,
                   help="retrieval, shift: weight of the key agreement text search adds (muscall/keys.py; default the "
                        "checkpoint's serve.key_weight, 0: rank by the embeddings alone)")
    p.add_argument("--out", default=None, help="folder for JSON, markdown and PNG plots")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from muscall.checkpoint import load_checkpoint
    from muscall.eval.report import markdown_table
    from muscall.eval.runner import evaluate_retrieval, evaluate_zeroshot, zeroshot_markdown
    from muscall.zeroshot import load_label_sets

    ckpt = load_checkpoint(args.checkpoint, device=args.device)
    if args.task == "shift":
        from muscall.eval.report import write_json
        from muscall.eval.shift import evaluate_shift, shift_markdown

        labels = load_label_sets(args.labels or Path(args.manifest).parent / "labels.json")
        results = evaluate_shift(ckpt, args.manifest, labels, args.seed, args.device, args.key_weight)
        if args.out:
            write_json(Path(args.out) / "shift.json", results)
        print(shift_markdown(results))
    elif args.task == "retrieval":
        results = evaluate_retrieval(ckpt, args.manifest, args.split, args.pool_size, args.seed, args.out, args.device,
                                     args.protocol, args.key_weight)
        print(markdown_table(results))
    else:
        labels = load_label_sets(args.labels or Path(args.manifest).parent / "labels.json")
        results = evaluate_zeroshot(ckpt, args.manifest, labels, args.split, not args.no_ensemble, args.out, args.device,
                                    fit=args.fit_temperature, n_bins=args.bins)
        print(zeroshot_markdown(results))
    return 0
