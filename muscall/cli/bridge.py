"""``muscall bridge``: give a trained checkpoint a vocabulary bridge (query words it never saw -> known ones)."""

from __future__ import annotations

import argparse
from pathlib import Path

from muscall.checkpoint import load_checkpoint, record_file
from muscall.data.caption_augment import augmentation_vocabulary
from muscall.data.manifest import captions_of, read_manifest
from muscall.errors import MuscallError
from muscall.models.bridge import DEFAULT_THRESHOLD, build_bridge
from muscall.models.minilm import require_minilm

EPILOG = """Training builds the bridge itself (model.text.bridge_threshold, on by default with the minilm extra);
this command adds one to a checkpoint trained without it, from the captions of the manifest's train split. The
file (CKPT/tokenizer/vocabulary_bridge.npz) is read by every text path at inference: search, tag, eval.

examples:
  muscall bridge --checkpoint runs/small/checkpoints/best --manifest data/corpus/manifest.jsonl
  muscall bridge --checkpoint CKPT --manifest M --threshold 0.7
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bridge", help="map unseen query words onto the checkpoint's vocabulary", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="a checkpoint folder written by 'muscall train'")
    p.add_argument("--manifest", type=Path, required=True, help="the manifest it was trained on (its train split)")
    p.add_argument("--threshold", type=float, default=None,
                   help=f"cosine a known word needs to stand in (default: the config's, else {DEFAULT_THRESHOLD})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the bridge from the train split's captions and save it beside the checkpoint's tokenizer."""
    require_minilm("the vocabulary bridge")
    ckpt = load_checkpoint(args.checkpoint)
    cfg = ckpt.config
    if cfg.model.text.encoder != "transformer":
        raise MuscallError(f"'{args.checkpoint}' uses the {cfg.model.text.encoder} text tower, which already knows "
                           "English words; the bridge is for a tower trained on its captions only")
    rows = read_manifest(args.manifest, split="train")
    if not rows:
        raise MuscallError(f"'{args.manifest}' has no train split; give the manifest the checkpoint was trained on")
    captions = [c for r in rows for c in captions_of(r, cfg.data.caption_field, cfg.data.all_captions)]
    threshold = args.threshold if args.threshold is not None else (cfg.model.text.bridge_threshold or DEFAULT_THRESHOLD)
    bridge = build_bridge(captions, augmentation_vocabulary() if cfg.text_augment.enabled else (), threshold)
    path = bridge.save(ckpt.path / "tokenizer")
    record_file(ckpt.path, str(path.relative_to(ckpt.path)))  # verified with the rest from now on
    print(f"{path}: {len(bridge.known)} known words, {len(bridge.targets)} mapping targets, threshold {threshold:g}")
    return 0
