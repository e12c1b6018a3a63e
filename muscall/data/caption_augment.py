"""Caption augmentation for training: partial, reordered, re-worded, query-style, re-cased and typo'd captions.

A model trained only on the generator's full sentences learns its vocabulary and sentence shapes; users type
short, partial, misspelt queries in their own words. Each training draw may therefore (seeded by
(seed, epoch, row), so an epoch is reproducible):

- become a short query ("chill hip hop with rhodes") built from the row's attributes in TRAINING words (then
  re-worded like a caption);
- keep only some of its clauses (always the longest, main one), in a shuffled order;
- swap known words for synonyms from :data:`LEXICON`, a vocabulary kept apart from the held-out wording
  (``muscall.data.synth.heldout_words``) so the shift benchmark stays unseen: the hand-written
  :data:`HAND_LEXICON` plus WordNet's synonyms of the generator's phrases (``thesaurus.json``, built and filtered by
  ``scripts/build_thesaurus.py``; committed, so training reads a file and needs neither WordNet nor MiniLM);
- change case and gain small typos (a letter swapped with its neighbour or dropped).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from muscall.audio.signal import PITCH_CLASSES
from muscall.config.schema import TextAugmentConfig
from muscall.data.synth.captions import TRAINING
from muscall.data.synth.styles import STYLES
from muscall.errors import MuscallError

THESAURUS_FILE = Path(__file__).with_name("thesaurus.json")  # built by scripts/build_thesaurus.py
HAND_LEXICON: dict[str, tuple[str, ...]] = {  # training word -> augmentation synonyms (never held-out words)
    "track": ("opus", "ditty"), "song": ("opus", "ditty"), "piece": ("work",), "tune": ("melody",),
    "energetic": ("peppy", "vigorous"), "aggressive": ("angry", "violent"), "sophisticated": ("cultured",),
    "graceful": ("gliding",), "hypnotic": ("repetitive", "entrancing"), "laid-back": ("easy", "loose"),
    "romantic": ("passionate", "affectionate"), "elegant": ("noble",), "dreamy": ("floaty", "surreal"),
    "chill": ("relaxing", "unwinding"), "soulful": ("expressive", "moving"), "cheerful": ("merry", "lighthearted"),
    "groovy": ("rhythmic", "bumping"), "playful": ("fun", "silly"), "peaceful": ("meditative", "zen"),
    "uplifting": ("encouraging", "positive"), "happy": ("elated", "content"), "melancholic": ("downcast", "somber"),
    "sad": ("somber", "unhappy"), "nostalgic": ("longing", "reminiscent"), "dark": ("grim", "menacing"),
    "powerful": ("strong", "potent"), "intense": ("fiery", "feverish"), "calm": ("settled", "serene"),
    "gentle": ("subtle", "tender-hearted"), "slow": ("sluggish", "lazy"), "fast": ("swift", "hasty"),
    "loud": ("noisy", "boisterous"), "quiet": ("muffled",), "reverb": ("reverberation",),
    "piano": ("pianoforte",), "drums": ("percussion",), "guitar": ("gtr",), "saxophone": ("sax",),
    "synth": ("synthesizer",), "with": ("featuring", "plus"), "featuring": ("showcasing",),
}


def _with_thesaurus(hand: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """``hand`` with the committed WordNet synonyms added (a missing file adds nothing: :func:`lexicon` says so)."""
    extra = json.loads(THESAURUS_FILE.read_text()) if THESAURUS_FILE.is_file() else {}
    merged = {word: tuple(synonyms) for word, synonyms in hand.items()}
    for word, synonyms in extra.items():
        merged[word] = tuple(dict.fromkeys([*merged.get(word, ()), *synonyms]))
    return merged


LEXICON = _with_thesaurus(HAND_LEXICON)
QUERY_ORDERS = ("{mood} {genre} with {inst}", "{genre} {inst} {mood}", "{mood} {genre} {inst}", "{inst} {genre}")
_CLAUSE = re.compile(r"\s*[,;:.!?]\s*|\s+-\s+")


_ONE_MEANING = {s: w for w, ss in LEXICON.items() for s in ss
                if sum(s in options for options in LEXICON.values()) == 1}
_SYNONYM = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(_ONE_MEANING, key=len)[::-1])) + r")(?![\w-])")


def plain_words(text: str) -> str:
    """``text`` lower-cased, each augmentation synonym that stands for one training word put back ("sax" ->
    "saxophone"), so what a re-worded caption states can be read with the training vocabulary."""
    return _SYNONYM.sub(lambda m: _ONE_MEANING[m.group(0)], text.lower())


def lexicon(thesaurus: bool = True) -> dict[str, tuple[str, ...]]:
    """The synonyms augmentation draws from: :data:`LEXICON`, or the hand-written part alone
    (``text_augment.thesaurus: false``)."""
    if thesaurus and not THESAURUS_FILE.is_file():
        raise MuscallError(f"{THESAURUS_FILE} is missing from this install; reinstall muscall, or train with "
                           "text_augment.thesaurus=false (the hand-written synonyms only)")
    return LEXICON if thesaurus else HAND_LEXICON


def augmentation_vocabulary(thesaurus: bool = True) -> set[str]:
    """Every phrase augmentation can put into a caption from its lexicon."""
    return {w for words in lexicon(thesaurus).values() for w in words}


class CaptionAugmenter:
    """Seeded caption transforms for training rows (``attributes`` of each row feed the query-style fragments)."""

    def __init__(self, cfg: TextAugmentConfig, seed: int, attributes: list[dict[str, Any]]):
        self.cfg, self.seed, self.attributes = cfg, seed, attributes
        self.lexicon = lexicon(cfg.thesaurus)
        self._word = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, sorted(self.lexicon, key=len)[::-1]))
                                + r")(?![\w-])", re.IGNORECASE)

    def __call__(self, caption: str, epoch: int, index: int) -> str:
        """The caption of row ``index`` as augmented in ``epoch`` (the same every time for the same arguments)."""
        cfg = self.cfg
        rng = np.random.default_rng([self.seed, epoch, index, 0xA116])
        if not cfg.enabled or rng.random() >= cfg.p:
            return caption
        query = query_fragment(self.attributes[index], rng) if rng.random() < cfg.p_query else None
        text = self._synonyms(query, rng) if query else self._rewrite(caption, rng)
        if rng.random() < cfg.p_case:
            text = text.upper() if rng.random() < 0.3 else text.lower()
        return typos(text, cfg.typo_rate, rng)

    def _rewrite(self, caption: str, rng: np.random.Generator) -> str:
        clauses = [c for c in _CLAUSE.split(caption) if c.strip()]
        if len(clauses) > 1 and rng.random() < self.cfg.p_drop:  # the longest (main) clause stays, some others go
            main = max(range(len(clauses)), key=lambda k: len(clauses[k]))
            others = [k for k in range(len(clauses)) if k != main]
            kept = rng.choice(others, int(rng.integers(0, len(others))), replace=False).tolist()
            clauses = [clauses[k] for k in sorted([main, *kept])]
        if len(clauses) > 1 and rng.random() < self.cfg.p_shuffle:
            clauses = [clauses[k] for k in rng.permutation(len(clauses))]
        return self._synonyms(", ".join(clauses) if clauses else caption, rng)

    def _synonyms(self, text: str, rng: np.random.Generator) -> str:
        return self._word.sub(lambda m: self._synonym(m.group(0), rng), text)

    def _synonym(self, word: str, rng: np.random.Generator) -> str:
        if rng.random() >= self.cfg.p_synonym:
            return word
        options = self.lexicon[word.lower()]
        return options[int(rng.integers(len(options)))]


def query_fragment(attrs: dict[str, Any], rng: np.random.Generator) -> str | None:
    """A short lower-case query (mood, genre, instrument) in training words; None without synth attributes."""
    genre, moods, insts = attrs.get("genre"), attrs.get("moods") or [], attrs.get("instruments") or []
    if genre not in STYLES or not moods or not insts or any(m not in TRAINING.moods for m in moods):
        return None
    inst = insts[int(rng.integers(len(insts)))]
    try:
        inst_words = TRAINING.instruments(int(inst["program"]), inst.get("role") == "drums")
    except (KeyError, TypeError, ValueError):
        return None
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    words = {"mood": pick(TRAINING.moods[pick(moods)]), "genre": pick(TRAINING.genres[genre]), "inst": pick(inst_words)}
    return pick(QUERY_ORDERS).format(**words).lower()


_TONIC = "|".join(sorted(map(re.escape, PITCH_CLASSES), key=len, reverse=True))
_NAMED_KEY = re.compile(rf"(?<![\w#])({_TONIC}) (major|minor)\b")  # "B minor", "F# major" (case as generated)
_KEY_MODE = re.compile(r"\ba (major|minor) key\b")  # "a minor key"
_FLIP = {"major": "minor", "minor": "major"}


def other_key(caption: str, rng: np.random.Generator) -> str | None:
    """``caption`` naming another key: "B minor" -> any of the 23 other tonic and mode pairs, "a minor key" -> "a
    major key"; None when it names neither (the negative of the key-contrast term, ``loss.key_contrast``)."""
    named = _NAMED_KEY.search(caption)
    if named:
        pairs = [(t, m) for t in PITCH_CLASSES for m in ("major", "minor") if (t, m) != named.groups()]
        tonic, mode = pairs[int(rng.integers(len(pairs)))]
        return f"{caption[:named.start()]}{tonic} {mode}{caption[named.end():]}"
    mode_only = _KEY_MODE.search(caption)
    if mode_only:
        return f"{caption[:mode_only.start()]}a {_FLIP[mode_only.group(1)]} key{caption[mode_only.end():]}"
    return None


def typos(text: str, rate: float, rng: np.random.Generator) -> str:
    """Each word of 4+ letters, with chance ``rate``: two neighbouring letters swapped, or one letter dropped."""
    if rate <= 0:
        return text
    words = text.split(" ")
    for k, word in enumerate(words):
        if len(word) >= 4 and word.isalpha() and rng.random() < rate:
            at = int(rng.integers(1, len(word) - 1))
            words[k] = word[:at] + word[at + 1] + word[at] + word[at + 2:] if rng.random() < 0.5 else \
                word[:at] + word[at + 1:]
    return " ".join(words)
