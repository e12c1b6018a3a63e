"""The HELD-OUT wording: synonyms that training captions never use, for the wording-shift benchmark.

Every table mirrors a training table in ``captions.py`` / ``styles.py`` / ``instruments.py`` (same keys), but
its phrases are written apart from them: no held-out phrase occurs in any training caption. A corpus made with
``--holdout-wording`` describes its test clips a second time with these words (see ``heldout.py``).
"""

from __future__ import annotations

GENRES: dict[str, tuple[str, ...]] = {
    "rock": ("rock and roll", "arena rock", "garage rock"),
    "metal": ("speed metal", "headbanger metal", "metalhead music"),
    "jazz": ("bebop", "smoky club jazz", "straight-ahead jazz"),
    "waltz": ("strauss-style waltz", "old-world dance hall waltz", "ballroom dance number"),
    "techno": ("warehouse techno", "rave music", "detroit-style techno"),
    "reggae": ("dub reggae", "island reggae", "rocksteady"),
    "bossa nova": ("samba-jazz", "rio bossa", "tropical lounge bossa"),
    "string quartet": ("chamber music for strings", "classical quartet", "four-piece string chamber music"),
    "ambient": ("drone music", "atmospheric music", "new age music"),
    "hip hop": ("lo-fi beats", "rap instrumental", "beat tape hip hop"),
    "blues": ("delta blues", "chicago blues", "juke joint blues"),
    "country": ("honky-tonk", "nashville country", "bluegrass-tinged country"),
    "funk": ("p-funk", "disco funk", "james brown-style funk"),
    "chiptune": ("retro game music", "nes-style music", "bitpop"),
}

INSTRUMENTS: dict[str, tuple[str, ...]] = {  # keyed by instrument tag name
    "piano": ("ivories", "concert grand"),
    "electric piano": ("wurlitzer", "suitcase piano"),
    "clavinet": ("hohner clav", "keyboard clav"),
    "celesta": ("toy bells", "glockenspiel-like keys"),
    "music box": ("wind-up music box", "jewelry box chimes"),
    "vibraphone": ("vibraharp", "mallets"),
    "organ": ("b3 organ", "tonewheel organ"),
    "accordion": ("button accordion", "concertina"),
    "harmonica": ("mouth organ", "diatonic harmonica"),
    "acoustic guitar": ("nylon guitar", "flat-top guitar", "spanish guitar"),
    "electric guitar": ("telecaster", "six-string electric", "strat"),
    "distorted guitar": ("fuzz guitar", "cranked amp guitar"),
    "upright bass": ("bull fiddle", "contrabass"),
    "bass guitar": ("four-string bass", "p-bass"),
    "slap bass": ("thumb-slapped bass", "popping bass line"),
    "synth bass": ("moog bass", "sub bass"),
    "violin": ("bowed violin", "violinist"),
    "viola": ("alto violin", "violist"),
    "cello": ("cellist", "bowed cello"),
    "strings": ("orchestral strings", "violins"),
    "choir": ("voices", "chorus"),
    "trumpet": ("cornet", "flugelhorn"),
    "brass": ("horns", "brass band"),
    "saxophone": ("saxes", "reed player"),
    "clarinet": ("woodwind", "licorice stick"),
    "flute": ("concert flute", "fife"),
    "square lead": ("nes lead", "bleepy square"),
    "synth lead": ("screaming lead", "mono synth"),
    "synth pad": ("synth wash", "atmospheric pad"),
    "banjo": ("five-string banjo", "bluegrass banjo"),
    "fiddle": ("hoedown fiddle", "bluegrass fiddle"),
    "drums": ("drummer", "trap kit"),
    "drum machine": ("beatbox", "rhythm machine"),
}

MOODS: dict[str, tuple[str, ...]] = {
    "energetic": ("spirited", "full of energy"), "aggressive": ("brutal", "relentless"),
    "sophisticated": ("suave", "polished"), "graceful": ("flowing", "poised"),
    "hypnotic": ("trancey", "spellbinding"), "laid-back": ("carefree", "breezy"),
    "romantic": ("amorous", "loving"), "elegant": ("courtly", "dignified"),
    "dreamy": ("otherworldly", "hazy"), "chill": ("cozy", "low-key"),
    "soulful": ("emotive", "raw"), "cheerful": ("jolly", "feel-good"),
    "groovy": ("toe-tapping", "in the pocket"), "playful": ("cheeky", "quirky"),
    "peaceful": ("restful", "placid"), "uplifting": ("inspiring", "optimistic"),
    "happy": ("joyous", "cheery"), "melancholic": ("mournful", "sorrowful"),
    "nostalgic": ("sentimental", "yearning"), "dark": ("sinister", "gloomy"),
    "powerful": ("commanding", "towering"), "intense": ("urgent", "heated"),
    "calm": ("composed", "unruffled"), "gentle": ("mild", "light-touch"),
}
TEMPO: dict[str, tuple[str, ...]] = {"slow": ("languid", "crawling"), "moderate": ("walking-pace", "medium-speed"),
                                     "fast": ("speedy", "zippy"), "very fast": ("frantic", "lightning-quick")}
DYNAMICS: dict[str, tuple[str, ...]] = {"soft": ("low-volume", "barely above a whisper"),
                                        "medium": ("mid-volume", "balanced in level"),
                                        "loud": ("cranked up", "blasting")}
REVERB: tuple[tuple[float, tuple[str, ...]], ...] = (
    (0.25, ("bone-dry", "intimate and close")),
    (0.55, ("with a touch of ambience", "slightly echoey")),
    (1.01, ("cavernous", "echoing like a cathedral")))
NOUNS: tuple[str, ...] = ("cut", "jam", "selection", "arrangement", "excerpt")


def vocabulary() -> set[str]:
    """Every held-out phrase (lower case)."""
    tables = [*GENRES.values(), *INSTRUMENTS.values(), *MOODS.values(), *TEMPO.values(), *DYNAMICS.values(),
              *(words for _, words in REVERB), NOUNS]
    return {phrase for table in tables for phrase in table}
