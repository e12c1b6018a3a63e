"""Oracle ceiling for text->audio retrieval on the synthetic corpus: how many pool clips fit each caption.

Every phrase a clip's attributes could put into a caption comes from the generator's own tables
(``muscall.data.synth``). A caption is parsed into the phrases it contains (longest first, matches blanked);
a clip is *consistent* with it when all those phrases belong to the clip. An oracle that ranks consistent
clips first in random order has expected R@K = mean(min(1, K/k)); a genre-only oracle is the floor reference.

    python scripts/caption_ceiling.py --manifest data/corpus/manifest.jsonl --splits test val \
        --markdown scripts/results/32_caption_ceiling.md
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from index.fileio import atomic_write_text
from muscall.data.manifest import ClipRow, read_manifest
from muscall.data.synth.captions import (DYNAMICS_WORDS, METER_WORDS, MOOD_SYNONYMS, REVERB_WORDS, TEMPO_WORDS,
                                         tempo_class)
from muscall.data.synth.instruments import lookup
from muscall.data.synth.styles import STYLES



def clip_phrases(attrs: dict[str, Any]) -> frozenset[str]:
    """Every (lower-cased) phrase a caption of a clip with these attributes could contain."""
    style, bpm, mode = STYLES[attrs["genre"]], attrs["bpm"], attrs["mode"]
    out = {*style.synonyms, *style.features, *TEMPO_WORDS[tempo_class(bpm)], *DYNAMICS_WORDS[attrs["dynamics"]]}
    out |= {w for m in attrs["moods"] for w in MOOD_SYNONYMS[m]}
    out |= {f"{bpm} bpm", f"around {5 * round(bpm / 5)} bpm", f"{attrs['key']} {mode}", f"a {mode} key"}
    out |= set(next(words for limit, words in REVERB_WORDS if attrs["reverb"] < limit))
    by_role = {i["role"]: i for i in attrs["instruments"]}  # as captions._Words: the last instrument per role
    out |= {w for r, i in by_role.items() for w in lookup(i["program"], r == "drums").synonyms}
    if attrs["meter"] == "3/4":
        out |= set(METER_WORDS)
    return frozenset(p.lower() for p in out)


class PhraseParser:
    """Finds vocabulary phrases in captions: longest phrase first, each match blanked before shorter ones."""

    def __init__(self, vocabulary: set[str] | frozenset[str]):
        self.phrases = sorted(vocabulary, key=lambda p: (-len(p), p))
        self.patterns = {p: re.compile(rf"(?<![\w-]){re.escape(p)}(?![\w-])") for p in self.phrases}

    def parse(self, caption: str) -> frozenset[str]:
        """The set of vocabulary phrases in ``caption`` (case-insensitive)."""
        text, found = caption.lower(), set()
        for p in self.phrases:
            if p in text:
                text, n = self.patterns[p].subn("\x00", text)
                if n:
                    found.add(p)
        return frozenset(found)


@dataclass
class Ceiling:
    """Expected metrics of an oracle that ranks the k_i candidates of each query first, in random order."""

    name: str
    k: np.ndarray  # candidates per query (the true clip included)

    def recall(self, at: int) -> float:
        return float(np.mean(np.minimum(1.0, at / self.k)))

    def medr(self, trials: int = 500, seed: int = 0) -> float:
        """Expected median rank (the true clip uniform among its k candidates), by simulation."""
        ranks = np.random.default_rng(seed).integers(1, self.k + 1, size=(trials, len(self.k)))
        return float(np.median(ranks, axis=1).mean())

    def row(self, split: str) -> str:
        q1, med, q3 = np.percentile(self.k, [25, 50, 75])
        return (f"| {split} | {len(self.k)} | {self.name} | {self.recall(1):.3f} | {self.recall(5):.3f} | "
                f"{self.recall(10):.3f} | {self.medr():.1f} | {med:g} | {q1:g}-{q3:g} | {np.mean(self.k <= 10):.3f} |")


def ceilings(rows: list[ClipRow], parser: PhraseParser) -> tuple[list[Ceiling], list[str]]:
    """Chance, genre-only and caption oracles for one pool (one caption per clip), plus violation notes."""
    sets = [clip_phrases(r.attributes) for r in rows]
    found = [parser.parse(r.caption) for r in rows]
    k = np.array([1 + sum(f <= s for j, s in enumerate(sets) if j != i) for i, f in enumerate(found)])  # + true clip
    bad = [f"{r.id}: {sorted(f - s)} in '{r.caption}'" for r, f, s in zip(rows, found, sets) if not f <= s]
    genres = np.array([r.attributes["genre"] for r in rows])
    n_genre = np.array([np.sum(genres == g) for g in genres])
    n = len(rows)
    return [Ceiling("chance", np.full(n, n)), Ceiling("genre-only oracle", n_genre),
            Ceiling("caption oracle", k)], bad


def main(argv: list[str] | None = None) -> int:
    """Parse, compute, print and write the markdown fragment."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", default="data/corpus/manifest.jsonl")
    ap.add_argument("--splits", nargs="+", default=["test", "val"])
    ap.add_argument("--markdown", default=None, help="write the fragment here too")
    args = ap.parse_args(argv)
    everything = read_manifest(args.manifest)
    vocabulary = frozenset().union(*(clip_phrases(r.attributes) for r in everything))
    parser = PhraseParser(vocabulary)
    checked = [(r, c) for r in everything for c in r.all_captions()]
    all_bad = [f"{r.id}: '{c}'" for r, c in checked if not parser.parse(c) <= clip_phrases(r.attributes)]
    lines = ["### Oracle ceiling for text→audio retrieval (caption words vs clip attributes)", "",
             f"`python {shlex.join(['scripts/caption_ceiling.py', *(argv if argv is not None else sys.argv[1:])])}`",
             "", "| split | pool | ranker | R@1 | R@5 | R@10 | MedR | k median | k Q1-Q3 | k ≤ 10 |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    results = {}
    for split in args.splits:
        rows = [r for r in everything if r.split == split]
        if not rows:
            raise SystemExit(f"split '{split}' has no rows in {args.manifest}")
        results[split], bad = ceilings(rows, parser)
        lines += [c.row(split) for c in results[split]]
        for note in bad[:5]:
            print(f"VIOLATION ({split}): {note}", file=sys.stderr)
    first = args.splits[0]
    chance, genre, oracle = results[first]
    lines += ["", f"k = clips in the pool consistent with the query caption (every attribute phrase it contains "
              f"fits the clip; {len(vocabulary)} phrases from the generator's tables). Expected values for a ranker "
              f"that puts those k first in random order; the true clip fitted its caption in "
              f"{len(checked) - len(all_bad)}/{len(checked)} captions of the manifest.",
              f"On {first}, even a perfect reader of the captions reaches only R@10 = {oracle.recall(10):.3f} "
              f"(median k = {np.median(oracle.k):g}); knowing only the genre gives {genre.recall(10):.3f}, "
              f"chance {chance.recall(10):.3f}. Retrieval R@10 should be judged against this ceiling, not 1.0."]
    text = "\n".join(lines) + "\n"
    print(text)
    for note in all_bad[:10]:
        print(f"VIOLATION: {note}", file=sys.stderr)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
