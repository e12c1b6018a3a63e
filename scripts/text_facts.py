"""Does the frozen text tower still tell key names apart? (No learning: a nearest-centroid probe.)

Reads two scoring feature caches (``bench_scoring.py --cache``: ``train.npz`` and ``test.npz``), finds in each
distinct caption the word that names its key ("in Bb major": the token after "in"), and classifies the text
tower's feature at that token by the nearest class centroid of the training captions. Prints the accuracy for
the exact key and for the tonic (chance 1/24 and 1/12), and the same probe on the token ids as a check of the
parse (the ids name the key exactly, so it should be 1.0).

    python scripts/text_facts.py --cache bench-out/quality-v8-cache --checkpoint runs/bench5/variant0/checkpoints/best
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from muscall.checkpoint import load_checkpoint
from muscall.data.degrade.facts import PITCH_CLASS

KEY = re.compile(r"\bin ([A-G][#b]?) (major|minor)\b")


def key_tokens(path: Path, tokenizer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct caption naming a key: (tower feature at the key word [N, W], its token id [N], key [N])."""
    with np.load(path) as z:
        captions = json.loads(str(z["meta"]))["captions"]
        tokens, ids, text_index = z["tokens"], z["token_ids"], z["text_index"]
    feats, words, keys, seen = [], [], [], set()
    for row, caption in enumerate(captions):
        t, m = int(text_index[row]), KEY.search(caption)
        if t in seen or m is None or m.group(1) not in PITCH_CLASS:
            continue
        seen.add(t)
        _, prefix = tokenizer.encode_batch([caption[: m.start(1)]], 1000)  # start token + words up to "in"
        position = int(prefix.sum()) - 1  # the key word replaces the prefix's end token
        feats.append(tokens[t, position])
        words.append(ids[t, position])
        keys.append(PITCH_CLASS[m.group(1)] + (12 if m.group(2) == "minor" else 0))
    return np.array(feats), np.array(words), np.array(keys)


def nearest_centroid(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    classes = np.unique(train_y)
    centroids = np.stack([train_x[train_y == c].mean(axis=0) for c in classes])
    return classes[np.argmin(((test_x[:, None] - centroids[None]) ** 2).sum(axis=-1), axis=1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True, help="folder with train.npz and test.npz of bench_scoring.py")
    ap.add_argument("--checkpoint", required=True, help="the encoder checkpoint the cache was made with (tokenizer)")
    args = ap.parse_args()
    tokenizer = load_checkpoint(args.checkpoint).tokenizer
    tr_x, tr_w, tr_y = key_tokens(Path(args.cache) / "train.npz", tokenizer)
    te_x, te_w, te_y = key_tokens(Path(args.cache) / "test.npz", tokenizer)
    pred = nearest_centroid(tr_x, tr_y, te_x)
    by_id = {int(w): int(np.bincount(tr_y[tr_w == w]).argmax()) for w in np.unique(tr_w)}
    ids_pred = np.array([by_id.get(int(w), -1) for w in te_w])
    print(f"{len(te_y)} test captions naming a key ({len(tr_y)} train): text-tower feature at the key word -> "
          f"key {np.mean(pred == te_y):.3f}, tonic {np.mean(pred % 12 == te_y % 12):.3f} "
          f"(chance {1 / 24:.3f}, {1 / 12:.3f}); token id -> tonic {np.mean(ids_pred % 12 == te_y % 12):.3f}")


if __name__ == "__main__":
    main()
