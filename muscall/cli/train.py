"""``muscall train CONFIG [overrides]``: train the dual encoder (one CPU, one GPU, or many through torchrun)."""

from __future__ import annotations

import argparse
import json

from muscall.config import list_configs, load_config

EPILOG = """examples:
  muscall train small data.manifest=data/corpus/manifest.jsonl --out runs/small
  muscall train small --out runs/small --resume            # continue a killed run exactly
  muscall train tiny train.epochs=1 loss.ssl=false --out runs/tiny
  torchrun --nproc_per_node=4 -m muscall.cli.main train paper --out runs/paper   # many GPUs / processes
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the dual encoder", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help=f"a shipped name ({', '.join(list_configs())}) or a .yaml path")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides")
    p.add_argument("--out", required=True, help="run folder: checkpoints/best, checkpoints/last, log.jsonl")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last when it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from muscall.training.trainer import Trainer

    cfg = load_config(args.config, args.overrides)
    trainer = Trainer(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    result = trainer.fit()
    if trainer.dist.is_main:
        metric = {"r10": "R@10", "mrr": "MRR"}[trainer.val_metric]  # the checkpoint-selection metric
        print(json.dumps({f"best_val_text_to_audio_{metric}": round(result.best_r10, 4), "best_epoch": result.best_epoch,
                          "epochs": result.epochs_run, "steps": result.steps,
                          "train_clips_per_s": round(result.clips_per_second, 1),
                          "checkpoint": str(result.checkpoint)}, indent=2))
    from muscall.utils.distributed import cleanup

    cleanup(trainer.dist)
    return 0
