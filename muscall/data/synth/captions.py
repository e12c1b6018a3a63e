"""Moods and captions from a clip's attributes: many templates, synonyms, random order and subsets.

The words come from a :class:`Lexicon`: ``TRAINING`` (the tables below) for every training caption; the
held-out lexicon (``heldout.py``) describes test clips a second time in words training never sees.

Moods are a function of style, mode, tempo and dynamics (e.g. minor + slow -> "melancholic", soft + slow ->
"calm"), so a model can learn them from the audio. Captions always name the genre (or a synonym from
``Style.synonyms``); the other attributes appear in a random subset, order and wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from muscall.data.synth.instruments import KITS, MELODIC, lookup
from muscall.data.synth.styles import STYLES

MODE_TEMPO_MOODS = {("major", "slow"): "peaceful", ("major", "moderate"): "uplifting", ("major", "fast"): "happy",
                    ("minor", "slow"): "melancholic", ("minor", "moderate"): "nostalgic", ("minor", "fast"): "dark"}
DYNAMIC_MOODS = {("loud", "slow"): "powerful", ("loud", "moderate"): "intense", ("loud", "fast"): "intense",
                 ("soft", "slow"): "calm", ("soft", "moderate"): "gentle", ("soft", "fast"): "gentle"}
MOOD_SYNONYMS = {
    "energetic": ("energetic", "high-energy", "lively"), "aggressive": ("aggressive", "ferocious", "furious"),
    "sophisticated": ("sophisticated", "classy", "urbane"), "graceful": ("graceful", "lilting", "swaying"),
    "hypnotic": ("hypnotic", "trance-inducing", "mesmerizing"), "laid-back": ("laid-back", "easygoing", "relaxed"),
    "romantic": ("romantic", "tender", "sensual"), "elegant": ("elegant", "refined", "stately"),
    "dreamy": ("dreamy", "ethereal", "floating"), "chill": ("chill", "mellow", "chilled-out"),
    "soulful": ("soulful", "heartfelt", "gritty"), "cheerful": ("cheerful", "good-natured", "sunny"),
    "groovy": ("groovy", "funky", "danceable"), "playful": ("playful", "bouncy", "whimsical"),
    "peaceful": ("peaceful", "serene", "tranquil"), "uplifting": ("uplifting", "hopeful", "bright"),
    "happy": ("happy", "joyful", "upbeat"), "melancholic": ("melancholic", "sad", "wistful"),
    "nostalgic": ("nostalgic", "bittersweet", "reflective"), "dark": ("dark", "brooding", "ominous"),
    "powerful": ("powerful", "mighty", "forceful"), "intense": ("intense", "driving", "fierce"),
    "calm": ("calm", "soothing", "quiet"), "gentle": ("gentle", "soft", "delicate"),
}
TEMPO_WORDS = {"slow": ("slow", "slow-paced", "unhurried", "leisurely"),
               "moderate": ("mid-tempo", "moderate-tempo", "medium-paced", "steady"),
               "fast": ("fast", "up-tempo", "brisk", "quick"),
               "very fast": ("very fast", "breakneck", "blazing-fast", "rapid-fire")}
DYNAMICS_WORDS = {"soft": ("softly played", "quiet", "hushed", "played gently"),
                  "medium": ("moderately loud", "at a comfortable volume", "evenly played"),
                  "loud": ("loud", "played hard", "punchy and loud", "forceful")}
REVERB_WORDS = ((0.25, ("dry", "close-miked", "upfront")),
                (0.55, ("roomy", "with some room reverb", "slightly ambient")),
                (1.01, ("reverberant", "spacious", "drenched in reverb", "with a big hall reverb")))
METER_WORDS = ("in 3/4 time", "in triple meter", "in three-four")
NOUNS = ("track", "piece", "tune", "instrumental", "recording", "song", "clip", "number", "composition")


@dataclass(frozen=True)
class Lexicon:
    """The synonym tables one family of captions draws from (keys as in the training tables)."""

    genres: dict[str, tuple[str, ...]]  # genre label -> wordings
    instruments: Callable[[int, bool], tuple[str, ...]]  # (GM program, drum kit) -> wordings
    moods: dict[str, tuple[str, ...]]
    tempo: dict[str, tuple[str, ...]]  # tempo class -> words
    dynamics: dict[str, tuple[str, ...]]
    reverb: tuple[tuple[float, tuple[str, ...]], ...]  # (upper reverb limit, words), ascending
    nouns: tuple[str, ...]


TRAINING = Lexicon({g: s.synonyms for g, s in STYLES.items()}, lambda program, drums: lookup(program, drums).synonyms,
                   MOOD_SYNONYMS, TEMPO_WORDS, DYNAMICS_WORDS, REVERB_WORDS, NOUNS)


def fact_phrases() -> dict[str, tuple[str, str]]:
    """Every phrase the training captions use for a fact, as {phrase: (kind, fact)}: "rhodes" -> ("instrument",
    "electric piano"), "sad" -> ("mood", "melancholic"); kinds genre, instrument, mood, tempo, dynamics, space
    (the reverb's upper limit as the fact) and noun."""
    instruments = [(i.name, s) for i in [*MELODIC.values(), *KITS.values()] for s in i.synonyms]
    facts = [("genre", [(g, p) for g, ps in TRAINING.genres.items() for p in ps]), ("instrument", instruments),
             ("mood", [(m, p) for m, ps in TRAINING.moods.items() for p in ps]),
             ("tempo", [(t, p) for t, ps in TRAINING.tempo.items() for p in ps]),
             ("dynamics", [(d, p) for d, ps in TRAINING.dynamics.items() for p in ps]),
             ("space", [(str(limit), p) for limit, ps in TRAINING.reverb for p in ps]),
             ("noun", [("noun", p) for p in TRAINING.nouns])]
    out: dict[str, tuple[str, str]] = {}
    for kind, pairs in facts:
        for fact, phrase in pairs:
            out.setdefault(phrase.lower(), (kind, fact))
    return out


def tempo_class(bpm: float) -> str:
    """slow / moderate / fast / very fast."""
    return "slow" if bpm < 85 else "moderate" if bpm < 120 else "fast" if bpm < 160 else "very fast"


def derive_moods(genre: str, mode: str, bpm: float, dynamics: str) -> list[str]:
    """Mood tags (one to three) implied by style, mode, tempo and dynamics."""
    felt = tempo_class(bpm * STYLES[genre].feel)
    pace = "fast" if felt == "very fast" else felt
    moods = [STYLES[genre].mood, MODE_TEMPO_MOODS[(mode, pace)]]
    extra = DYNAMIC_MOODS.get((dynamics, pace))
    if extra:
        moods.append(extra)
    return list(dict.fromkeys(moods))


def mood_vocabulary() -> list[str]:
    """Every mood tag the generator can emit."""
    return sorted(MOOD_SYNONYMS)


def make_caption(attrs: dict[str, Any], rng: np.random.Generator) -> str:
    """One caption for a clip's attributes; different draws of ``rng`` give different wordings."""
    w = Words(attrs, rng)
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    text = template(w, rng)
    return tidy(text)


def tidy(text: str) -> str:
    """Single spaces, no space before punctuation, no doubled full stop, first letter upper case."""
    text = " ".join(text.split()).replace(" ,", ",").replace(" .", ".").replace("..", ".")
    return text[0].upper() + text[1:]


class Words:
    """Randomly worded fragments for one clip, from one lexicon."""

    def __init__(self, attrs: dict[str, Any], rng: np.random.Generator, lexicon: Lexicon = TRAINING):
        self.a, self.rng = attrs, rng
        self.used: set[str] = set()
        style = STYLES[attrs["genre"]]
        self.genre = self.pick(lexicon.genres[attrs["genre"]])
        self.noun = self.pick(lexicon.nouns)
        self.feature = self.pick(style.features)
        self.moods = [self.pick(lexicon.moods[m]) for m in attrs["moods"]]
        self.tempo_word = self.pick(lexicon.tempo[tempo_class(attrs["bpm"])])
        self.dyn = self.pick(lexicon.dynamics[attrs["dynamics"]])
        self.reverb = self.pick(next(words for limit, words in lexicon.reverb if attrs["reverb"] < limit))
        self.key = f"{attrs['key']} {attrs['mode']}" if rng.random() < 0.5 else f"a {attrs['mode']} key"
        by_role = {i["role"]: i for i in attrs["instruments"]}
        self.inst = {r: self.pick(lexicon.instruments(i["program"], r == "drums")) for r, i in by_role.items()}

    def use(self, name: str) -> str:
        """The fixed word for ``name`` (tempo, dyn, reverb, key, feature), marked as used."""
        self.used.add(name)
        return {"tempo": self.tempo_word, "dyn": self.dyn, "reverb": self.reverb, "key": self.key,
                "feature": self.feature}[name]

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def tempo(self) -> str:
        """A tempo phrase that can follow a comma."""
        self.used.add("tempo")
        bpm, word = self.a["bpm"], self.tempo_word
        return self.pick([word, f"at {bpm} bpm", f"{word}, around {5 * round(bpm / 5)} bpm", f"{bpm} BPM",
                          word if "tempo" in word or "paced" in word else f"with {article(word)} tempo"])

    def mood(self, n: int | None = None) -> str:
        moods = list(self.moods)
        self.rng.shuffle(moods)
        return join(moods[: n or int(self.rng.integers(1, len(moods) + 1))])

    def instruments(self, k: int | None = None, without: str | None = None) -> str:
        """``k`` instrument names (random count if None), always including the lead unless excluded."""
        lead = [self.inst["lead"]] if without != "lead" and "lead" in self.inst else []
        others = list(dict.fromkeys(n for r, n in self.inst.items() if r not in ("lead", without) and n not in lead))
        self.rng.shuffle(others)
        names = (lead + others)[: k or int(self.rng.integers(1, len(lead) + len(others) + 1))]
        self.rng.shuffle(names)
        return join(names)

    def extras(self) -> list[str]:
        """Optional phrases not used yet, each included with some probability, shuffled."""
        opts = [("tempo", 0.55, self.tempo), ("dyn", 0.3, lambda: self.dyn), ("reverb", 0.25, lambda: self.reverb),
                ("key", 0.3, lambda: f"in {self.key}"), ("feature", 0.35, lambda: self.feature)]
        if self.a["meter"] == "3/4":
            opts.append(("meter", 0.5, lambda: self.pick(list(METER_WORDS))))
        chosen = [make() for name, p, make in opts if name not in self.used and self.chance(p)]
        self.rng.shuffle(chosen)
        return chosen


def join(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou8" else "a ") + word


def _tail(w: Words) -> str:
    extras = w.extras()
    return (", " + ", ".join(extras)) if extras else ""


TEMPLATES = [
    lambda w, r: f"{article(w.mood(1) + ' ' + w.genre)} {w.noun} with {w.instruments()}{_tail(w)}.",
    lambda w, r: f"{w.genre} {w.noun} featuring {w.instruments()}. The mood is {w.mood()}{_tail(w)}.",
    lambda w, r: f"{article(w.use('tempo'))} {w.genre} {w.noun}: the {w.inst['lead']} takes the melody"
                 f" over {w.instruments(2, without='lead')}{_tail(w)}.",
    lambda w, r: ", ".join(_shuffled(r, [w.genre, w.mood(), w.instruments(), w.tempo()] + w.extras())),
    lambda w, r: f"{w.instruments()} playing {article(w.mood(1))} {w.genre} groove{_tail(w)}.",
    lambda w, r: f"Instrumental {w.genre} with {w.use('feature')}; {w.mood()}{_tail(w)}.",
    lambda w, r: f"This {w.noun} is {w.genre}, {w.mood()} and {w.use('tempo')}, with {w.instruments()}.",
    lambda w, r: f"{w.mood()} {w.genre} {w.noun}, {w.tempo()}{_tail(w)}.",
    lambda w, r: f"genre: {w.genre}; mood: {w.mood()}; instruments: {w.instruments()}; tempo: {w.a['bpm']} bpm",
    lambda w, r: f"Listen to {article(w.genre)} {w.noun} where {w.instruments(2)} set {article(w.mood(1))} mood"
                 f"{_tail(w)}.",
    lambda w, r: f"{w.use('tempo')} {w.genre} built on {w.use('feature')}, played on {w.instruments()}.",
    lambda w, r: f"{article(w.genre)} {w.noun} in {w.use('key')}: {w.mood()}, {w.use('dyn')}, {w.use('reverb')}.",
    lambda w, r: f"The {w.inst['lead']} carries the tune in {article(w.mood(1))}, {w.use('tempo')} {w.genre} {w.noun}"
                 f"{_tail(w)}.",
    lambda w, r: f"Background music in the style of {w.genre}: {w.mood()}, with {w.instruments()}.",
]


def _shuffled(rng: np.random.Generator, items: list[str]) -> list[str]:
    items = [i for i in items if i]
    rng.shuffle(items)
    return items
