"""Build muscall/data/thesaurus.json: more caption-augmentation synonyms for the generator's words, from WordNet.

Caption augmentation swaps a caption's words for synonyms so the text tower learns the facts, not one wording. The
hand lexicon in ``muscall.data.caption_augment`` has one or two synonyms per word; this script adds WordNet's
(Princeton WordNet 3.0, Debian package ``wordnet-base``) for every phrase the generator writes:

- the phrase's one sense that reads most like its musical meaning (its gloss nearest, by all-MiniLM-L6-v2,
  "music with a dark mood" for a mood...): "dark" the mood, not the skin colour; "metal" the music, not the element;
- that synset and the synsets similar to it ("gloomy" -> "dour"); a noun's synset and its direct kinds
  (hyponyms: "brass" -> "cornet", "jazz" -> "swing");
- each candidate kept only when MiniLM puts it at cosine >= ``--min-cosine`` from the phrase;
- never a phrase of the shift benchmark's held-out wording (``muscall.data.synth.heldout_words``) nor one with a
  word of it that no generator phrase has ("bluegrass", "concert"), never a phrase the generator already writes,
  never one that names another fact ("heavy metal music" for rock) or is proposed for two facts, nothing with a
  digit, nothing of more than three words, and not the few words struck out by hand (:data:`EXCLUDED`).

The output is committed, so training needs neither WordNet nor MiniLM and every run sees the same lexicon; read it
before committing a rebuilt one. Usage:

    apt-get install wordnet-base && python scripts/build_thesaurus.py [--wordnet /usr/share/wordnet] [--min-cosine 0.5]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from index.fileio import atomic_write_text  # noqa: E402
from muscall.data.caption_augment import HAND_LEXICON, THESAURUS_FILE  # noqa: E402
from muscall.data.synth import heldout_words  # noqa: E402
from muscall.data.synth.captions import fact_phrases  # noqa: E402

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
PHRASE = re.compile(r"^[a-z]+(?:[ '-][a-z]+){0,2}$")
EXCLUDED = frozenset({  # read and struck out by hand, with the reason
    "gay",  # an old sense of "cheerful" that no search user means
    "vocal",  # every corpus clip is instrumental: the word would state a fact the clip does not have
    "harp", "horn",  # WordNet's "mouth harp" and "trumpet" senses; most readers hear other instruments
    "act", "bit", "turn", "line",  # "number" as a stage act, "tune" as a melodic line: too common to mean a clip
})


def read_wordnet(root: Path) -> tuple[dict, dict]:
    """Synsets {(pos, offset): (lemmas, [(pointer, (pos, offset))], gloss)} and {lemma: [(pos, offset)]} of a
    WordNet 3.0 ``dict`` directory (``data.noun`` ...; the format of wndb(5WN)); the gloss is the definition's first
    clause."""
    synsets, by_lemma = {}, defaultdict(list)
    for pos, name in POS_FILES.items():
        path = root / f"data.{name}"
        if not path.is_file():
            sys.exit(f"error: {path} is missing; install WordNet (apt-get install wordnet-base) or pass --wordnet DIR")
        for line in path.open(encoding="latin-1"):
            if line.startswith("  "):  # licence header
                continue
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            n_words = int(fields[3], 16)
            lemmas = [re.sub(r"\(.*\)$", "", fields[4 + 2 * k]).replace("_", " ").lower() for k in range(n_words)]
            at = 4 + 2 * n_words
            pointers = [(fields[at + 1 + 4 * k], ("a" if fields[at + 3 + 4 * k] == "s" else fields[at + 3 + 4 * k],
                                                  fields[at + 2 + 4 * k])) for k in range(int(fields[at]))]
            key = (pos, fields[0])
            synsets[key] = (lemmas, pointers, gloss.split(";")[0].strip())
            for lemma in lemmas:
                by_lemma[lemma].append(key)
    return synsets, by_lemma


CONTEXT = {  # what each kind of fact_phrases() means: the sense whose WordNet gloss reads nearest this is used
    "genre": "a genre or style of music", "instrument": "a musical instrument", "mood": "a mood, feeling or emotion",
    "tempo": "speed, how fast or slow", "dynamics": "loudness, how loud or soft a sound is",
    "space": "how a sound echoes in a room", "noun": "a piece of music"}
NOUN_KINDS = ("genre", "instrument", "noun")


def sense_of(phrase: str, kind: str, by_lemma: dict, synsets: dict, vec, min_sense: float) -> tuple | None:
    """The synset of ``phrase`` (a noun for a genre, instrument or noun, else an adjective) whose gloss reads most
    like the phrase's musical meaning (:data:`CONTEXT`); None when even that one reads below ``min_sense``."""
    pos = "n" if kind in NOUN_KINDS else "a"
    keys = [k for k in by_lemma.get(phrase, []) if k[0] == pos]
    if not keys:
        return None
    scores = vec([synsets[k][2] for k in keys]) @ vec([CONTEXT[kind]])[0]
    best = int(scores.argmax())
    return keys[best] if scores[best] >= min_sense else None


def candidates(key: tuple, kind: str, synsets: dict) -> set[str]:
    """The sense's lemmas, plus the adjectives similar to it, or a genre's or instrument's direct kinds (hyponyms:
    a kind of "piece" such as "quartet" or "lullaby" would state a fact the clip may not have)."""
    lemmas, pointers, _ = synsets[key]
    out = set(lemmas)
    for pointer, other in pointers:
        if (key[0] == "a" and pointer == "&") or (kind in ("genre", "instrument") and pointer == "~"):
            out.update(synsets[other][0])
    return out


def words_of(phrases) -> set[str]:
    """The words of ``phrases`` ("bluegrass-tinged country" -> bluegrass, tinged, country)."""
    return {w for p in phrases for w in re.split(r"[^a-z0-9]+", p.lower()) if w}


def names_other_fact(candidate: str, fact: tuple[str, str], own: dict[str, tuple[str, str]]) -> bool:
    """True when ``candidate`` contains a generator phrase of another fact ("heavy metal music" for rock)."""
    words = f" {candidate} "
    return any(f" {phrase} " in words and other != fact for phrase, other in own.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wordnet", type=Path, default=Path("/usr/share/wordnet"), help="WordNet 3.0 dict directory")
    ap.add_argument("--min-cosine", type=float, default=0.3, help="MiniLM cosine a synonym needs to its phrase")
    ap.add_argument("--min-sense", type=float, default=0.25,
                    help="MiniLM cosine the chosen sense's gloss needs to the phrase's musical meaning")
    ap.add_argument("--out", type=Path, default=THESAURUS_FILE)
    args = ap.parse_args()
    from muscall.models.minilm import sentence_vectors

    synsets, by_lemma = read_wordnet(args.wordnet)
    cache: dict[str, np.ndarray] = {}

    def vec(texts: list[str]) -> np.ndarray:
        fresh = [t for t in dict.fromkeys(texts) if t not in cache]
        cache.update(zip(fresh, sentence_vectors(fresh)) if fresh else ())
        return np.stack([cache[t] for t in texts])

    own = fact_phrases()
    hand = {w for ws in HAND_LEXICON.values() for w in ws}  # taken already
    banned = {p.lower() for p in heldout_words.vocabulary()} | set(own) | hand | EXCLUDED
    unseen = words_of(heldout_words.vocabulary()) - words_of(own)  # held-out words no training caption has
    facts_of: dict[str, set[tuple[str, str]]] = defaultdict(set)  # candidate -> the facts it was proposed for
    home: dict[str, tuple[float, str]] = {}  # candidate -> (cosine, phrase) of the phrase it reads nearest
    for phrase, (kind, fact) in sorted(own.items()):
        key = sense_of(phrase, kind, by_lemma, synsets, vec, args.min_sense)
        found = sorted(c for c in candidates(key, kind, synsets) if c not in banned and PHRASE.match(c)
                       and not words_of([c]) & unseen and not names_other_fact(c, (kind, fact), own)) if key else []
        for c, cos in zip(found, vec(found) @ vec([phrase])[0]) if found else ():
            if cos >= args.min_cosine:
                facts_of[c].add((kind, fact))
                home[c] = max(home.get(c, (-1.0, "")), (float(cos), phrase))
    thesaurus: dict[str, list[str]] = defaultdict(list)
    for c, (_, phrase) in sorted(home.items()):
        if len(facts_of[c]) == 1:  # a word proposed for two facts says neither
            thesaurus[phrase].append(c)
    n_candidates = len(home)
    atomic_write_text(args.out, json.dumps(thesaurus, indent=1, sort_keys=True) + "\n")
    print(f"{args.out}: {sum(map(len, thesaurus.values()))} synonyms for {len(thesaurus)} phrases "
          f"({n_candidates} candidates at cosine >= {args.min_cosine}; sense >= {args.min_sense})")


if __name__ == "__main__":
    main()
