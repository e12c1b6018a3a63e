"""``muscall bridge``: give a trained checkpoint a vocabulary bridge (query words it never saw -> known ones)."""

from __future__ import annotations

import argparse
from pathlib import Path

from muscall.checkpoint import checkpoint_config, record_file, verify_checkpoint
from muscall.data.caption_augment import augmentation_vocabulary
from muscall.data.manifest import captions_of, read_manifest
from muscall.errors import MuscallError
from muscall.models.bridge import BRIDGE_FILE, DEFAULT_THRESHOLD, build_bridge
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
    # only the config is read: the bridge this replaces may be missing, unreadable or of an older format
    cfg = checkpoint_config(args.checkpoint)
    verify_checkpoint(args.checkpoint, skip=(f"tokenizer/{BRIDGE_FILE}",))
    if cfg.model.text.encoder != "transformer":
        raise MuscallError(f"'{args.checkpoint}' uses the {cfg.model.text.encoder} text tower, which already knows "
                           "English words; the bridge is for a tower trained on its captions only")
    rows = read_manifest(args.manifest, split="train")
    if not rows:
        raise MuscallError(f"'{args.manifest}' has no train split; give the manifest the checkpoint was trained on")
    captions = [c for r in rows for c in captions_of(r, cfg.data.caption_field, cfg.data.all_captions)]
    threshold = args.threshold if args.threshold is not None else (cfg.model.text.bridge_threshold or DEFAULT_THRESHOLD)
    extra = augmentation_vocabulary(cfg.text_augment.thesaurus) if cfg.text_augment.enabled else ()
    bridge = build_bridge(captions, extra, threshold, neighbours=cfg.model.text.bridge_neighbours)
    path = bridge.save(args.checkpoint / "tokenizer")
    record_file(args.checkpoint, str(path.relative_to(args.checkpoint)))  # verified with the rest from now on
    print(f"{path}: {len(bridge.known)} known words, {len(bridge.targets)} mapping targets, threshold {threshold:g}, "
          f"{len(bridge.captions)} captions for {bridge.neighbours} neighbours")
    return 0
