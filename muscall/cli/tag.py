"""``muscall tag``: zero-shot tags for every track of a catalog or index, from the stored embeddings."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

EPILOG = """examples:
  muscall tag --catalog cat/ --checkpoint CKPT --labels data/corpus/labels.json --set genres
  muscall tag --catalog cat/ --checkpoint CKPT --labels labels.json --set moods --mode multi --threshold 0.9 \\
      --out moods.csv
  muscall tag --catalog idx/ --checkpoint CKPT --labels genres.txt --prompts my_templates.txt --write-db idx/
  muscall tag --catalog cat/ --checkpoint CKPT --labels labels.json --set genres --abstain-below 0.5
  torchrun --nproc_per_node=4 -m muscall.cli.main tag --catalog cat/ --checkpoint CKPT --labels labels.json

single: softmax over the labels with the temperature fitted on validation data when the checkpoint has one for
these labels ('muscall eval zeroshot --split val --fit-temperature'; --calibration none ignores it), else the
model's learned one, or --temperature; the top label is the tag, kept only if its probability >= --abstain-below
(or --threshold) when given; otherwise the row says abstained: none of these. multi: each label alone, its cosine
standardised over the catalog and squashed, sigmoid((cos - mean) / (std * T)); a label is a tag when the score
is >= --threshold (default 0.9); --calibration none thresholds the raw cosine instead. Per-label thresholds:
--threshold "rock=0.8,jazz=0.7,default=0.9". Rerun the same command after an interruption to resume.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tag", help="zero-shot tag a catalog from its stored embeddings", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalog", required=True, help="an embedding catalog folder or a saved index folder")
    p.add_argument("--checkpoint", required=True, help="the checkpoint that embedded the catalog")
    p.add_argument("--labels", required=True, help="label sets (JSON {set: [labels]}) or a text file, one per line")
    p.add_argument("--set", default=None, help="which label set of the JSON file (needed when it has several)")
    p.add_argument("--prompts", default=None, help="prompt templates, one per line with '{}' for the label")
    p.add_argument("--mode", choices=["single", "multi"], default="single")
    p.add_argument("--temperature", type=float, default=None, help="softmax / sigmoid temperature")
    p.add_argument("--threshold", default=None, help="tag threshold: 0.9 or 'label=0.8,default=0.9'")
    p.add_argument("--calibration", choices=["catalog", "fitted", "none"], default=None,
                   help="multi: catalog (default) | none; single: fitted (default, when stored) | none")
    p.add_argument("--abstain-below", type=float, default=None, metavar="P",
                   help="single: no label when the top probability is below P (the row says abstained)")
    p.add_argument("--out", default=None, help="tags.parquet or tags.csv (default CATALOG/tags-<set>.parquet)")
    p.add_argument("--write-db", default=None, metavar="INDEX", help="store the tags in this saved index")
    p.add_argument("--part-size", type=int, default=10_000, help="tracks per part for an index source")
    p.add_argument("--device", default="auto", help="device of the text encoder: auto | cpu | cuda")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # its INFO lines are noise here
    from index import CatalogError
    from muscall.catalog.tagging import TagJob, run_tag_job
    from muscall.checkpoint import load_checkpoint
    from muscall.errors import MuscallError
    from muscall.utils.distributed import cleanup, init_distributed, resolve_device

    name, labels = pick_label_set(args.labels, args.set)
    templates = read_templates(args.prompts) if args.prompts else None
    job = TagJob(source=args.catalog, labels=labels, label_set=name, templates=templates, mode=args.mode,
                 temperature=args.temperature, threshold=args.threshold, calibration=args.calibration,
                 abstain_below=args.abstain_below,
                 out=args.out, part_size=args.part_size, write_db=args.write_db, progress=not args.no_progress)
    device = resolve_device(args.device)
    if device.type == "cuda":
        import torch

        torch.cuda.set_device(device)
    dist = init_distributed(device)
    try:
        result = run_tag_job(load_checkpoint(args.checkpoint, device=device), job, dist)
    except CatalogError as err:
        raise MuscallError(str(err)) from err
    finally:
        cleanup(dist)
    if dist.is_main:
        summary = {"out": str(result.out), "tracks": result.n_tracks, "scored_this_run": result.n_scored,
                   "tracks_per_s": round(result.tracks_per_second, 1), "label_set": name, "mode": args.mode}
        if result.db is not None:
            summary["db"] = {"updated": result.db.updated, "unchanged": result.db.unchanged,
                             "missing": result.db.missing}
        print(json.dumps(summary, indent=2))
    return 0


def pick_label_set(path: str, name: str | None) -> tuple[str, list[str]]:
    """(set name, labels) from a label file; ``name`` is required when the file has several sets."""
    from muscall.errors import MuscallError
    from muscall.zeroshot import load_label_sets

    sets = load_label_sets(path)
    if name is None:
        if len(sets) > 1:
            raise MuscallError(f"'{path}' has label sets {sorted(sets)}; choose one with --set")
        name = next(iter(sets))
    if name not in sets:
        raise MuscallError(f"'{path}' has no label set '{name}'; it has {sorted(sets)}")
    return name, sets[name]


def read_templates(path: str) -> list[str]:
    """Prompt templates, one per non-empty line."""
    from muscall.errors import MuscallError

    p = Path(path)
    if not p.is_file():
        raise MuscallError(f"prompt file '{path}' does not exist; give a text file with one template per line")
    templates = [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not templates:
        raise MuscallError(f"prompt file '{path}' is empty; give one template per line, e.g. '{{}} music'")
    return templates
