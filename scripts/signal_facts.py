"""Do the chroma and tempo signal features carry a clip's key and tempo? (No learning: template matching.)

Reads a scoring feature cache (``bench_scoring.py --cache``) and, for each distinct clean clip in it, matches the
mean chroma against the 24 rotated Krumhansl-Kessler key profiles and takes the strongest tempo band; compares both
with the clip's generating attributes in the corpus manifest. Chance: 1/24 for the key, 1/12 for the tonic.

    python scripts/signal_facts.py --cache bench-out/quality-v4-cache/test.npz --degraded bench-out/quality-v2 \\
        --corpus data/corpus
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from muscall.audio.signal import CHROMA_AT, TEMPO_AT, TEMPO_EDGES_BPM
from muscall.data.degrade.facts import PITCH_CLASS
from muscall.data.manifest import read_manifest
from muscall.keys import key_correlations


def estimate_key(chroma: np.ndarray) -> tuple[int, str]:
    """(tonic pitch class, mode) of the best-correlated rotated key profile (the fact check's key templates)."""
    best = int(key_correlations(np.asarray(chroma)[None]).argmax())
    return best % 12, "major" if best < 12 else "minor"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True, help="a .npz written by the scoring feature cache")
    ap.add_argument("--degraded", required=True, help="'muscall data degrade' output folder")
    ap.add_argument("--corpus", required=True, help="the corpus it was made from")
    args = ap.parse_args()
    z = np.load(args.cache)
    ids = json.loads(str(z["meta"]))["ids"]
    degraded = {r.id: r for r in read_manifest(Path(args.degraded) / "manifest.jsonl")}
    corpus = {r.id: r.attributes for r in read_manifest(Path(args.corpus) / "manifest.jsonl")}
    bands = list(zip(TEMPO_EDGES_BPM[:-1], TEMPO_EDGES_BPM[1:]))
    key = tonic = band = octave = 0
    seen: set[int] = set()
    for row, a in enumerate(z["audio_index"]):
        if degraded[ids[row]].system != "clean" or a in seen:
            continue
        seen.add(int(a))
        attrs = corpus[degraded[ids[row]].attributes["source_id"]]
        sig = z["signal"][a][z["frame_mask"][a]]
        k, mode = estimate_key(sig[:, CHROMA_AT:CHROMA_AT + 12].mean(axis=0))
        tonic += k == PITCH_CLASS[attrs["key"]]
        key += k == PITCH_CLASS[attrs["key"]] and mode == attrs["mode"]
        lo, hi = bands[int(np.argmax(sig[0, TEMPO_AT:TEMPO_AT + len(bands)]))]
        band += lo <= attrs["bpm"] <= hi
        octave += any(lo <= b <= hi for b in (attrs["bpm"], 2 * attrs["bpm"], attrs["bpm"] / 2))
    n = len(seen)
    print(f"{n} clean clips: key {key / n:.2f}, tonic {tonic / n:.2f}; strongest tempo band holds the tempo "
          f"{band / n:.2f}, the tempo, its double or its half {octave / n:.2f}")


if __name__ == "__main__":
    main()
