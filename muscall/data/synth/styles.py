"""The musical styles (genres): tempo, meter, harmony, groove, instrumentation and words for each.

Every style names its drum, comping and bass patterns (see ``patterns.py``), the chord progressions it
draws from (Roman numerals, one chord per ``beats_per_chord``), its lead melody's scale and rhythm,
and the GM programs for the roles lead / comp / bass plus drum kits (empty: no drums).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from muscall.errors import MuscallError


@dataclass(frozen=True)
class LeadSpec:
    """How the lead melody moves: scale per mode, register, note lengths in beats, rests, legato."""

    scale_major: str = "major"
    scale_minor: str = "minor"
    low: int = 60
    high: int = 84
    durations: tuple[float, ...] = (0.5, 1.0)
    weights: tuple[float, ...] = (0.6, 0.4)
    rest_prob: float = 0.15
    legato: float = 0.9  # sounding fraction of each note's slot


@dataclass(frozen=True)
class Style:
    """One genre's recipe."""

    genre: str  # the label (zero-shot class name)
    synonyms: tuple[str, ...]  # caption wordings, each containing the genre or a well-known alias
    bpm: tuple[int, int]
    major_prob: float
    major: tuple[str, ...]  # progressions in major keys
    minor: tuple[str, ...]  # progressions in minor keys
    drums: str | None  # drum pattern family; None: no drums
    comp: tuple[str, ...]  # comping rhythm names (one drawn per clip)
    comp_voicing: str
    comp_low: int
    bass: tuple[str, ...]  # bass pattern names
    bass_low: int
    lead: LeadSpec
    programs: dict[str, tuple[int, ...]]  # role -> GM programs; "drums" -> kits
    mood: str  # the style's own mood word
    features: tuple[str, ...]  # caption phrases that describe the style's sound
    meter: int = 4
    beats_per_chord: int = 4
    swing: float = 0.5  # where the off-beat eighth falls (0.5 straight, 0.67 triplet swing)
    swing16: bool = False  # swing sixteenths instead of eighths
    dynamics: tuple[float, float, float] = (0.3, 0.4, 0.3)  # soft, medium, loud
    reverb: tuple[float, float] = (0.15, 0.5)
    humanize_ms: float = 6.0
    feel: float = 1.0  # felt pulse relative to bpm, for moods (bossa nova and waltz feel slower than their bpm)
    fills: bool = False
    extra: dict[str, str] = field(default_factory=dict)


STYLES: dict[str, Style] = {s.genre: s for s in [
    Style(
        "rock", ("rock", "classic rock", "guitar rock", "rock"), (108, 140), 0.6,
        ("I-V-vi-IV", "I-IV-V-IV", "I-bVII-IV-I", "I-IV-I-V"), ("i-bVI-bIII-bVII", "i-bVII-bVI-bVII", "i-iv-bVII-i"),
        "rock", ("eighths", "halves"), "power", 45, ("eighths_root",), 28,
        LeadSpec("major_pentatonic", "minor_pentatonic", 60, 84, (0.5, 1.0, 0.25), (0.5, 0.35, 0.15)),
        {"lead": (29, 18, 27), "comp": (29, 27, 18), "bass": (33, 34), "drums": (0, 8, 16)},
        "energetic", ("a driving backbeat", "chugging power chords", "crunchy guitars"),
        dynamics=(0.1, 0.5, 0.4), reverb=(0.15, 0.45), fills=True),
    Style(
        "metal", ("metal", "heavy metal", "thrash metal"), (150, 190), 0.05,
        ("I-bVII-bVI-bVII",), ("i-bVI-bVII-i", "i-bII-i-bVII", "i-i-bVI-bVII", "i-iv-bVI-bV"),
        "metal", ("chug16", "eighths"), "power", 40, ("sixteenths", "eighths_root"), 28,
        LeadSpec("minor", "harmonic_minor", 62, 88, (0.25, 0.5), (0.6, 0.4), rest_prob=0.08),
        {"lead": (30,), "comp": (30,), "bass": (34, 33), "drums": (16, 0)},
        "aggressive", ("double-kick drums", "palm-muted riffs", "shredding guitar"),
        dynamics=(0.0, 0.2, 0.8), reverb=(0.1, 0.4), humanize_ms=3.0, fills=True),
    Style(
        "jazz", ("jazz", "swing jazz", "jazz swing", "bebop-style jazz"), (112, 180), 0.6,
        ("ii7-V7-Imaj7-Imaj7", "Imaj7-vi7-ii7-V7", "iii7-vi7-ii7-V7"), ("iiø7-V7-i7-i7", "i7-iv7-bVII7-bIIImaj7"),
        "swing", ("comp_random", "charleston"), "shell", 52, ("walk",), 36,
        LeadSpec("major", "dorian", 58, 82, (0.5, 1.0, 1.5), (0.6, 0.3, 0.1)),
        {"lead": (65, 56, 11, 26), "comp": (0, 26, 4), "bass": (32,), "drums": (32, 40)},
        "sophisticated", ("a swinging ride cymbal", "a walking bass line", "ii-V-I changes"),
        swing=0.64, dynamics=(0.3, 0.5, 0.2), reverb=(0.2, 0.5), humanize_ms=8.0),
    Style(
        "waltz", ("waltz", "viennese waltz", "ballroom waltz"), (120, 170), 0.7,
        ("I-V7-V7-I", "I-IV-V7-I", "I-vi-ii-V7"), ("i-iv-V7-i", "i-V7-V7-i", "i-bVI-iv-V7"),
        "waltz", ("oompah",), "close", 55, ("waltz_root",), 36,
        LeadSpec("major", "harmonic_minor", 64, 88, (1.0, 0.5, 2.0), (0.5, 0.3, 0.2), rest_prob=0.05),
        {"lead": (73, 21, 71), "comp": (0, 48, 21), "bass": (32, 42), "drums": (48, 40)},
        "graceful", ("three-four time", "an oom-pah-pah accompaniment", "a ballroom lilt"),
        meter=3, beats_per_chord=3, dynamics=(0.35, 0.45, 0.2), reverb=(0.35, 0.7), feel=0.7),
    Style(
        "techno", ("techno", "electronic dance music", "club techno"), (124, 140), 0.25,
        ("I-I-vi-vi", "I-IV-I-IV"), ("i-i-i-i", "i-i-bVI-bVI", "i-bVII-i-bVI"),
        "four_floor", ("offbeat_stab", "pad"), "close", 55, ("offbeat_8ths", "rolling16"), 28,
        LeadSpec("major", "minor", 60, 84, (0.25, 0.5), (0.6, 0.4), rest_prob=0.25, legato=0.6),
        {"lead": (81, 87), "comp": (90, 89, 95, 62), "bass": (38, 39), "drums": (24, 25)},
        "hypnotic", ("a four-on-the-floor kick", "a pulsing synth bass", "offbeat hi-hats"),
        dynamics=(0.0, 0.4, 0.6), reverb=(0.2, 0.5), humanize_ms=0.0),
    Style(
        "reggae", ("reggae", "roots reggae", "jamaican reggae"), (66, 86), 0.6,
        ("I-IV-I-IV", "I-IV-V-IV", "I-vi-IV-V"), ("i-iv-i-iv", "i-bVII-i-bVII", "i-bVI-bVII-i"),
        "one_drop", ("skank", "bubble"), "close", 60, ("reggae",), 31,
        LeadSpec("major_pentatonic", "minor_pentatonic", 60, 82, (0.5, 1.0), (0.6, 0.4), rest_prob=0.25),
        {"lead": (16, 56, 65), "comp": (27, 17, 16), "bass": (33, 38), "drums": (0, 8)},
        "laid-back", ("an offbeat skank", "one-drop drums", "a deep round bass"),
        swing=0.56, dynamics=(0.2, 0.6, 0.2), reverb=(0.2, 0.55)),
    Style(
        "bossa nova", ("bossa nova", "brazilian bossa nova", "bossa"), (118, 146), 0.65,
        ("Imaj7-II7-ii7-V7", "ii7-V7-Imaj7-Imaj7", "Imaj7-vi7-ii7-V7"), ("i7-iv7-V7-i7", "iiø7-V7-i7-i7"),
        "bossa", ("bossa",), "close", 52, ("bossa",), 33,
        LeadSpec("major", "dorian", 62, 86, (0.5, 1.0, 1.5), (0.45, 0.35, 0.2), rest_prob=0.2),
        {"lead": (73, 66, 64), "comp": (24,), "bass": (32, 33), "drums": (40, 32)},
        "romantic", ("nylon-string guitar comping", "a gentle brazilian groove", "a cross-stick rhythm"),
        dynamics=(0.5, 0.45, 0.05), reverb=(0.2, 0.5), feel=0.6),
    Style(
        "string quartet", ("string quartet", "classical string quartet", "chamber string quartet"), (60, 112), 0.5,
        ("I-IV-V-I", "I-vi-IV-V", "I-V-vi-iii-IV-I-IV-V"), ("i-iv-V-i", "i-bVI-iv-V", "i-bVII-bVI-V"),
        None, ("sustain", "quarters"), "close", 55, ("halves",), 36,
        LeadSpec("major", "harmonic_minor", 67, 91, (0.5, 1.0, 2.0), (0.4, 0.4, 0.2), rest_prob=0.05),
        {"lead": (40,), "comp": (41, 45), "bass": (42,)},
        "elegant", ("bowed strings", "a chamber ensemble", "violin, viola and cello"),
        beats_per_chord=2, dynamics=(0.4, 0.4, 0.2), reverb=(0.3, 0.65), humanize_ms=10.0),
    Style(
        "ambient", ("ambient", "ambient soundscape", "ambient electronic"), (56, 80), 0.5,
        ("Imaj7-IVmaj7", "I-IV", "I-vi"), ("i-bVI", "i7-iv7", "i-bVII"),
        None, ("pad",), "spread", 48, ("drone",), 36,
        LeadSpec("major_pentatonic", "minor_pentatonic", 64, 88, (2.0, 3.0, 4.0), (0.4, 0.3, 0.3), rest_prob=0.35),
        {"lead": (8, 10, 11, 88, 52), "comp": (89, 88, 91, 94, 95), "bass": (89, 90, 48)},
        "dreamy", ("slowly evolving pads", "washes of reverb", "no drums at all"),
        beats_per_chord=8, dynamics=(0.6, 0.4, 0.0), reverb=(0.6, 0.95), humanize_ms=15.0),
    Style(
        "hip hop", ("hip hop", "hip-hop", "boom bap hip hop", "hip hop beat"), (80, 96), 0.25,
        ("I-vi-IV-V", "Imaj7-vi7"), ("i7-iv7", "i7-bVImaj7", "i-bVI-bIII-bVII", "i7-i7-iv7-v7"),
        "boom_bap", ("hold",), "close", 55, ("hiphop",), 28,
        LeadSpec("major_pentatonic", "minor_pentatonic", 64, 84, (0.5, 1.0, 0.25), (0.5, 0.3, 0.2), rest_prob=0.3),
        {"lead": (11, 0, 48, 10), "comp": (4, 5, 0, 48), "bass": (38, 33, 39), "drums": (25, 0)},
        "chill", ("a boom-bap beat", "dusty drums", "a head-nodding groove"),
        swing=0.58, swing16=True, dynamics=(0.1, 0.6, 0.3), reverb=(0.1, 0.35), humanize_ms=4.0),
    Style(
        "blues", ("blues", "shuffle blues", "electric blues", "twelve-bar blues"), (72, 112), 0.5,
        ("I7-I7-I7-I7-IV7-IV7-I7-I7-V7-IV7-I7-V7", "I7-IV7-I7-I7-IV7-IV7-I7-I7-V7-IV7-I7-V7"),
        ("i7-i7-i7-i7-iv7-iv7-i7-i7-bVI7-V7-i7-V7", "i7-iv7-i7-i7-iv7-iv7-i7-i7-bVI7-V7-i7-V7"),
        "shuffle", ("shuffle_comp",), "close", 52, ("boogie",), 33,
        LeadSpec("blues", "blues", 60, 84, (0.5, 1.0, 0.25), (0.5, 0.3, 0.2), rest_prob=0.2),
        {"lead": (29, 22, 27), "comp": (0, 16, 27), "bass": (33, 32), "drums": (0, 8)},
        "soulful", ("12-bar changes", "a shuffle rhythm", "bluesy bent notes"),
        swing=0.66, dynamics=(0.2, 0.5, 0.3), reverb=(0.2, 0.5), fills=True),
    Style(
        "country", ("country", "country and western", "americana country"), (100, 140), 0.9,
        ("I-IV-I-V", "I-V-IV-I", "I-I-IV-V", "I-vi-IV-V"), ("i-bVII-bVI-bVII", "i-iv-bVII-i"),
        "train", ("boom_chick", "strum8"), "close", 52, ("root_fifth",), 31,
        LeadSpec("major_pentatonic", "minor_pentatonic", 62, 86, (0.5, 0.25, 1.0), (0.5, 0.3, 0.2)),
        {"lead": (105, 110), "comp": (25, 0), "bass": (32, 33), "drums": (40, 0)},
        "cheerful", ("a train beat", "twangy picking", "a boom-chick bass"),
        dynamics=(0.2, 0.6, 0.2), reverb=(0.15, 0.4), fills=True),
    Style(
        "funk", ("funk", "funky groove", "seventies funk"), (96, 118), 0.3,
        ("I7-I7-IV7-IV7", "I9-I9-I9-IV9"), ("i7-i7-IV7-IV7", "i7-i7-iv7-bVII7", "i7-i7-i7-i7"),
        "funk", ("funk16",), "shell", 58, ("funk",), 28,
        LeadSpec("mixolydian", "dorian", 60, 84, (0.25, 0.5, 1.0), (0.45, 0.4, 0.15), rest_prob=0.3, legato=0.5),
        {"lead": (61, 56, 65, 62), "comp": (28, 27, 7, 4), "bass": (36, 37, 33), "drums": (0, 8)},
        "groovy", ("syncopated slap bass", "sixteenth-note guitar scratches", "tight horn stabs"),
        swing=0.54, swing16=True, dynamics=(0.1, 0.5, 0.4), reverb=(0.1, 0.35), humanize_ms=3.0, fills=True),
    Style(
        "chiptune", ("chiptune", "8-bit chiptune", "video game chiptune", "8-bit music"), (140, 172), 0.6,
        ("I-V-vi-IV", "vi-IV-I-V", "I-IV-V-IV"), ("i-bVI-bVII-i", "i-bVII-bVI-bVII"),
        "chip", ("arp16",), "close", 60, ("octave8",), 33,
        LeadSpec("major", "minor", 67, 91, (0.25, 0.5), (0.5, 0.5), rest_prob=0.1, legato=0.8),
        {"lead": (80,), "comp": (80,), "bass": (80, 38), "drums": (24,)},
        "playful", ("8-bit square waves", "fast arpeggios", "a retro video game sound"),
        dynamics=(0.1, 0.6, 0.3), reverb=(0.0, 0.2), humanize_ms=0.0, fills=True),
]}

GENRES: tuple[str, ...] = tuple(STYLES)


def get_style(genre: str) -> Style:
    """The style for a genre label (also accepts '_' or '-' for spaces)."""
    key = genre.strip().lower().replace("_", " ").replace("-", " ")
    key = {"hiphop": "hip hop", "bossa": "bossa nova", "quartet": "string quartet"}.get(key, key)
    if key not in STYLES:
        raise MuscallError(f"unknown genre '{genre}'; choose from: {', '.join(GENRES)}")
    return STYLES[key]


def parse_genres(text: str | None) -> list[str]:
    """Genres from a comma-separated list (None or empty: all), in the canonical order, without repeats."""
    if not text:
        return list(GENRES)
    chosen = {get_style(g).genre for g in text.split(",") if g.strip()}
    if not chosen:
        raise MuscallError(f"--genres '{text}' names no genre; choose from: {', '.join(GENRES)}")
    return [g for g in GENRES if g in chosen]
