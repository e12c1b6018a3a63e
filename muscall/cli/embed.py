"""``muscall embed``: embed a folder or manifest of audio into a resumable catalog of index shards."""

from __future__ import annotations

import argparse
import json
import logging

EPILOG = """examples:
  muscall embed --checkpoint runs/small/checkpoints/best --source songs/ --out catalogs/songs
  muscall embed --checkpoint CKPT --source data/corpus/manifest.jsonl --split test --out cat/ --dtype float32
  muscall embed --checkpoint CKPT --source songs/ --out cat/ --no-windows --batch-size 64 --workers 4
  torchrun --nproc_per_node=4 -m muscall.cli.main embed --checkpoint CKPT --source songs/ --out cat/

Rerun the same command after an interruption to resume: finished parts are skipped. Files that cannot be
decoded are listed in OUT/failures.jsonl (path and reason) and never stop the job.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="embed audio into a catalog of index shards", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="a checkpoint folder written by 'muscall train'")
    p.add_argument("--source", required=True, help="a folder of audio files (ids = relative paths) or a JSONL manifest")
    p.add_argument("--out", required=True, help="catalog folder (shards, catalog.json, failures.jsonl)")
    p.add_argument("--split", default=None, help="manifest source: embed only this split (default: every row)")
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass (default 32)")
    p.add_argument("--shard-size", type=int, default=10_000, help="tracks per shard (default 10000)")
    p.add_argument("--dtype", choices=["float16", "float32"], default=None,
                   help="shard dtype (default: the checkpoint config's index.embedding_dtype)")
    p.add_argument("--no-windows", action="store_true", help="do not keep per-window embeddings")
    p.add_argument("--workers", type=int, default=None,
                   help="decoding processes (0: inline; default: sized to the machine from the measured costs of "
                        "decoding and of the model)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads of the forward pass (default: the cores the decoding processes leave)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # its INFO lines are noise here
    import torch

    from index import CatalogError
    from muscall.catalog.job import EmbedJob, run_embed_job
    from muscall.checkpoint import load_checkpoint
    from muscall.errors import MuscallError
    from muscall.utils.distributed import cleanup, init_distributed, resolve_device

    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist = init_distributed(device)
    job = EmbedJob(source=args.source, out=args.out, batch_size=args.batch_size, shard_size=args.shard_size,
                   dtype=args.dtype, keep_windows=False if args.no_windows else None, workers=args.workers,
                   threads=args.threads, split=args.split, progress=not args.no_progress)
    try:
        ckpt = load_checkpoint(args.checkpoint, device=device)
        result = run_embed_job(ckpt, job, dist)
    except CatalogError as err:
        raise MuscallError(str(err)) from err
    finally:
        cleanup(dist)
    if result.catalog is not None:
        print(json.dumps({"catalog": str(result.out), "tracks": result.catalog.n_rows, "failed": result.n_failed,
                          "shards": len(result.catalog.shards), "dim": result.catalog.dim,
                          "dtype": result.catalog.dtype, "model_hash": result.catalog.model_hash[:12],
                          "embedded_this_run": result.n_embedded,
                          "tracks_per_s": round(result.tracks_per_second, 2),
                          "decode_workers": result.split.workers if result.split else None,
                          "model_threads": result.split.threads if result.split else None}, indent=2))
    return 0
