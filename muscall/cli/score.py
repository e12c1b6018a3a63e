"""``muscall score train|eval|predict``: quality (MI ...) and text-alignment (TA) scoring over the frozen encoder."""

from __future__ import annotations

import argparse
import json

EPILOG = """examples:
  muscall score train --checkpoint runs/small/checkpoints/best --manifest data/quality/manifest.jsonl --out heads/
  muscall score train --checkpoint CKPT --manifest M --out heads/ scoring.pooling=mean scoring.ot_weight=0
  muscall score train --checkpoint CKPT --manifest M --out heads/ --ensemble 6 --top-k 3 --poolings drasp,asp
  muscall score train --checkpoint CKPT --manifest M --out heads/ --into-checkpoint   # calibration into CKPT too
  muscall score eval --heads heads/ --manifest M --split test --subset unseen --out eval/
  muscall score eval --heads heads/ --manifest M --system-scores sys_mos.csv --out eval/
  muscall score predict --heads heads/ --input clips.jsonl --output scores.jsonl
  muscall score predict --checkpoint CKPT --input clips.jsonl --output scores.jsonl   # calibrated similarity only

Input lines for predict: {"path": "a.wav", "prompt": "calm piano ballad"}; one output line per input line,
in the same order; a bad line or file gets {"error": "..."} and the job goes on. Only the frozen encoder is
supported: the heads train on cached encoder features; fine-tuning the encoder is not implemented.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="train, evaluate and run quality / text-alignment scorers", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    _train_parser(verbs.add_parser("train", help="train scoring heads on a rated manifest", epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter))
    _eval_parser(verbs.add_parser("eval", help="evaluate heads: utterance and system level metrics"))
    _predict_parser(verbs.add_parser("predict", help="score a JSONL of {path, prompt} lines"))


def _train_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("overrides", nargs="*", help="scoring.key=value overrides of the checkpoint's scoring section")
    p.add_argument("--checkpoint", required=True, help="encoder checkpoint folder (kept frozen)")
    p.add_argument("--manifest", required=True, help="rated JSONL manifest (rows with system and ratings)")
    p.add_argument("--out", required=True, help="heads folder to write")
    p.add_argument("--ensemble", type=int, default=1, metavar="N", help="members to train (1)")
    p.add_argument("--top-k", type=int, default=1, metavar="K", help="members averaged per axis (1)")
    p.add_argument("--poolings", default="", help="comma list cycled over members, e.g. drasp,asp,mean")
    p.add_argument("--losses", default="", help="comma list cycled over members, e.g. utmos,dcq")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=15, help="early stopping on validation SRCC (15 epochs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seconds", type=float, default=None,
                   help="audio used per clip: the first N seconds (default: the encoder's audio.clip_seconds; 0: all)")
    p.add_argument("--train-split", default="train")
    p.add_argument("--val-split", default="val", help="early-stopping rows (default val; none: 15%% of train clips)")
    p.add_argument("--cache", default=None, metavar="DIR", help="keep extracted features here as .npz")
    p.add_argument("--into-checkpoint", action="store_true",
                   help="also write the alignment calibration into the checkpoint's extra.json")
    p.add_argument("--shuffle-labels", action="store_true", help="control: train on permuted ratings")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads while training heads (default: as is)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_train)


def _eval_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--heads", required=True, help="folder written by 'muscall score train'")
    p.add_argument("--manifest", required=True)
    p.add_argument("--checkpoint", default=None, help="encoder checkpoint (default: the one the heads name)")
    p.add_argument("--split", default="test")
    p.add_argument("--subset", default="all", choices=("seen", "unseen", "all"), help="degradation levels (all)")
    p.add_argument("--system-scores", default=None, metavar="CSV", help="system,MI,TA truth for system level")
    p.add_argument("--out", default=None, help="folder for score_eval.json / .md and scatter PNGs")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_eval)


def _predict_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--heads", default=None, help="trained heads folder")
    p.add_argument("--checkpoint", default=None, help="encoder checkpoint (alone: calibrated similarity only)")
    p.add_argument("--input", required=True, help='JSONL lines {"path": ..., "prompt": ...}')
    p.add_argument("--output", required=True, help="JSONL of scores, one line per input line")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run_predict)


def run_train(args: argparse.Namespace) -> int:
    from muscall.checkpoint import load_checkpoint
    from muscall.scoring.pipeline import train_from_manifest
    from muscall.scoring.train import TrainSettings, apply_scoring_overrides

    ckpt = load_checkpoint(args.checkpoint, device=args.device)
    scoring = apply_scoring_overrides(ckpt.config.scoring, args.overrides)
    settings = TrainSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                             seed=args.seed, members=args.ensemble, top_k=args.top_k,
                             poolings=_csv(args.poolings), losses=_csv(args.losses),
                             shuffle_labels=args.shuffle_labels, device=args.device,
                             threads=args.threads)
    seconds = ckpt.config.audio.clip_seconds if args.seconds is None else (args.seconds or None)
    outcome = train_from_manifest(ckpt, args.manifest, args.out, scoring, settings, seconds, args.train_split,
                                  args.val_split, args.cache, args.into_checkpoint, not args.no_progress)
    heads = outcome.heads
    print(json.dumps({"heads": str(outcome.path), "ensemble": heads.ensemble,
                      "val_srcc": {m.name: {a: round(v, 4) for a, v in m.val_srcc.items()} for m in heads.members},
                      "alignment_calibration_auc": round(heads.calibration["auc"], 4),
                      "shuffled_labels": args.shuffle_labels}, indent=2))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from muscall.scoring.evaluate import eval_markdown
    from muscall.scoring.pipeline import eval_from_manifest
    from muscall.scoring.predict import load_scorer_bundle

    bundle = load_scorer_bundle(args.heads, args.checkpoint, args.device)
    results = eval_from_manifest(bundle, args.manifest, args.split, args.subset, args.system_scores, args.out,
                                 args.n_boot, args.seed, progress=not args.no_progress)
    print(eval_markdown(results))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from muscall.scoring.predict import load_scorer_bundle, predict_jsonl

    bundle = load_scorer_bundle(args.heads, args.checkpoint, args.device)
    counts = predict_jsonl(bundle, args.input, args.output, progress=not args.no_progress)
    print(json.dumps({"output": args.output, **counts}))
    return 0


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]
