"""Export a catalog's track embeddings and text-query embeddings as .npy, for `bench_index.py --from-embeddings`.

The queries are the model's text embeddings of a manifest split's captions (default: test), so the index
benchmark searches with text, as users do, rather than with catalog rows.

    python scripts/export_embeddings.py --catalog cat/ --checkpoint CKPT --manifest M --out bench-out/emb
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from index import load_catalog
from muscall.checkpoint import load_checkpoint
from muscall.data.manifest import read_manifest
from muscall.embedding import embed_texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog", required=True, help="embedding catalog ('muscall embed --out')")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--manifest", required=True, help="manifest whose captions become the queries")
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", required=True, help="folder for tracks.npy and queries.npy")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tracks = np.concatenate([np.asarray(s.embeddings, np.float32) for s in load_catalog(args.catalog).iter_shards()])
    ckpt = load_checkpoint(args.checkpoint)
    captions = [r.caption for r in read_manifest(args.manifest, split=args.split)]
    queries = embed_texts(ckpt.model, ckpt.tokenizer, captions, ckpt.config.model.text.max_tokens)
    np.save(out / "tracks.npy", tracks)
    np.save(out / "queries.npy", queries)
    print(f"wrote {out}/tracks.npy {tracks.shape} and {out}/queries.npy {queries.shape}")


if __name__ == "__main__":
    main()
