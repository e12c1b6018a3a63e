"""Which attributes separate the true clip from the clips ranked above it (text->audio, a test split).

For every test caption, the top-10 audio clips other than the caption's own: how often they share its genre, lead
instrument, tempo class, mode, key and moods, beside the same rate for two random clips of one genre. An attribute the
encoder hears is shared far more often by the confusers than by chance; one it does not hear, at chance. Also R@10
for queries that name a key (``muscall.keys.stated_key``; readings before 2026-12-07's fifth session counted any
" major" / " minor", modes included) and for the rest. Key and mode are also scored over only the queries
that name them (a caption silent on the key leaves nothing to rank it by): "ranked better than chance" means those
rates above the random-pair column. Captions rank clips as search ranks them: similarity plus the key agreement of
``muscall.keys`` (``--key-weight``, default the checkpoint's ``serve.key_weight``; 0: the embeddings alone).
``--neutralise chroma|rhythm`` replaces that part of the fact branch's statistics by its training mean (what
the BatchNorm subtracts), so the branch carries no clip-specific information there: what the part adds at test time.

    python scripts/retrieval_confusers.py --checkpoint runs/bench5/variant0/checkpoints/best \
        --manifest data/corpus/manifest.jsonl
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from muscall.checkpoint import load_checkpoint
from muscall.data.degrade.facts import tempo_class
from muscall.eval.runner import embed_rows, split_rows
from muscall.keys import key_bonus, stated_key


def facts(attrs: dict) -> dict:
    return {"genre": attrs["genre"], "lead instrument": attrs["instruments"][0]["name"],
            "tempo class": tempo_class(attrs["bpm"]), "mode": attrs["mode"], "key": attrs["key"],
            "moods": tuple(sorted(attrs["moods"]))}


def names_key(caption: str) -> bool:
    """The caption states a key (:func:`muscall.keys.stated_key`, the rule search reads)."""
    stated = stated_key(caption)
    return stated is not None and stated.key is not None


def names_mode(caption: str) -> bool:
    """The caption states a mode, alone or with a key."""
    stated = stated_key(caption)
    return stated is not None and stated.mode is not None


def neutralise(model, part: str) -> None:
    """Make the fact branch read its training-mean statistics for ``part`` (chroma or rhythm)."""
    branch = model.audio_encoder.facts
    if branch is None or not getattr(branch, part):
        raise SystemExit(f"--neutralise {part}: this checkpoint's fact branch has no {part} part")
    n_chroma = branch.input_dim - (branch.lags[1] - branch.lags[0] + 1 if branch.rhythm else 0)
    cols = slice(0, n_chroma) if part == "chroma" else slice(n_chroma, branch.input_dim)
    statistics = branch.statistics

    def patched(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        stats = statistics(x, mask).clone()
        stats[:, cols] = branch.norm.running_mean[cols]
        return stats

    branch.statistics = patched


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--neutralise", choices=["chroma", "rhythm"])
    ap.add_argument("--key-weight", type=float, default=None)
    args = ap.parse_args()
    ckpt = load_checkpoint(args.checkpoint)
    if args.neutralise:
        neutralise(ckpt.model, args.neutralise)
    rows = split_rows(args.manifest, args.split, None, 0)
    weight = ckpt.config.serve.key_weight if args.key_weight is None else args.key_weight
    audio, text, chromas = embed_rows(ckpt, rows, args.manifest, "cpu", chroma=weight > 0)
    sim = text @ audio.T
    sim = sim + key_bonus([r.caption for r in rows], sim, chromas, weight)
    n = len(rows)
    ranks = (sim > np.diag(sim)[:, None]).sum(axis=1) + 1  # ties in the caption's favour
    clip = [facts(r.attributes) for r in rows]
    same_genre = [(i, j) for i in range(n) for j in range(n) if i != j and clip[i]["genre"] == clip[j]["genre"]]
    print(f"{args.split}: {n} clips, text->audio R@10 {np.mean(ranks <= 10):.3f} (key weight {weight})")
    print("| attribute | shared by the top-10 confusers | shared by two random clips of one genre |")
    print("|---|---:|---:|")
    for key in clip[0]:
        confusers = [clip[j][key] == clip[q][key] for q in range(n) for j in np.argsort(-sim[q])[:10] if j != q]
        chance = [clip[i][key] == clip[j][key] for i, j in same_genre]
        print(f"| {key} | {np.mean(confusers):.2f} | {np.mean(chance):.2f} |")
    for key, says in (("key", names_key), ("mode", names_mode)):
        asked = {q for q in range(n) if says(rows[q].caption)}
        confusers = [clip[j][key] == clip[q][key] for q in asked for j in np.argsort(-sim[q])[:10] if j != q]
        chance = [clip[i][key] == clip[j][key] for i, j in same_genre if i in asked]
        print(f"| {key}, queries naming it ({len(asked)}) | {np.mean(confusers):.2f} | {np.mean(chance):.2f} |")
    keyed = np.array([names_key(r.caption) for r in rows])
    print(f"queries naming a key: {keyed.mean():.2f}; R@10 {np.mean(ranks[keyed] <= 10):.3f} against "
          f"{np.mean(ranks[~keyed] <= 10):.3f} for the rest")


if __name__ == "__main__":
    main()
