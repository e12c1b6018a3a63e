"""General MIDI programs the styles draw from: a tag name (the label vocabulary) and caption synonyms each."""

from __future__ import annotations

from dataclasses import dataclass

DRUM_CHANNEL = 9  # GM channel 10
DRUM_BANK = 128


@dataclass(frozen=True)
class Instrument:
    """One GM preset: ``name`` is the tag used for zero-shot labels, ``synonyms`` vary the captions."""

    program: int
    name: str
    synonyms: tuple[str, ...]
    bank: int = 0


def _i(program: int, name: str, *synonyms: str, bank: int = 0) -> Instrument:
    return Instrument(program, name, (name, *synonyms), bank)


MELODIC: dict[int, Instrument] = {i.program: i for i in [
    _i(0, "piano", "grand piano", "acoustic piano"),
    _i(4, "electric piano", "rhodes", "rhodes piano"),
    _i(5, "electric piano", "e-piano", "electric keys"),
    _i(7, "clavinet", "clav", "funky clavinet"),
    _i(8, "celesta", "celeste", "bell-like celesta"),
    _i(10, "music box", "tinkling music box", "music box melody"),
    _i(11, "vibraphone", "vibes", "mellow vibraphone"),
    _i(16, "organ", "hammond organ", "drawbar organ"),
    _i(17, "organ", "percussive organ", "electric organ"),
    _i(18, "organ", "rock organ", "overdriven organ"),
    _i(21, "accordion", "squeezebox", "piano accordion"),
    _i(22, "harmonica", "blues harp", "mouth harp"),
    _i(24, "acoustic guitar", "nylon-string guitar", "classical guitar"),
    _i(25, "acoustic guitar", "steel-string guitar", "strummed acoustic guitar"),
    _i(26, "electric guitar", "jazz guitar", "hollow-body guitar"),
    _i(27, "electric guitar", "clean electric guitar", "clean guitar"),
    _i(28, "electric guitar", "palm-muted guitar", "muted electric guitar"),
    _i(29, "distorted guitar", "overdriven guitar", "crunchy electric guitar"),
    _i(30, "distorted guitar", "distortion guitar", "heavy electric guitar"),
    _i(32, "upright bass", "double bass", "acoustic bass"),
    _i(33, "bass guitar", "electric bass", "fingered bass"),
    _i(34, "bass guitar", "picked bass", "electric bass"),
    _i(36, "slap bass", "slapped bass", "funky slap bass"),
    _i(37, "slap bass", "popped bass", "slap bass guitar"),
    _i(38, "synth bass", "analog synth bass", "bass synth"),
    _i(39, "synth bass", "synthesizer bass", "squelchy synth bass"),
    _i(40, "violin", "solo violin", "violin lead"),
    _i(41, "viola", "solo viola", "viola part"),
    _i(42, "cello", "violoncello", "solo cello"),
    _i(45, "strings", "pizzicato strings", "plucked strings"),
    _i(48, "strings", "string section", "string ensemble"),
    _i(52, "choir", "vocal pad", "choir aahs"),
    _i(56, "trumpet", "muted trumpet", "jazz trumpet"),
    _i(61, "brass", "brass section", "horn section"),
    _i(62, "brass", "synth brass", "brass stabs"),
    _i(64, "saxophone", "soprano sax", "soprano saxophone"),
    _i(65, "saxophone", "alto sax", "alto saxophone"),
    _i(66, "saxophone", "tenor sax", "tenor saxophone"),
    _i(71, "clarinet", "solo clarinet", "b-flat clarinet"),
    _i(73, "flute", "breathy flute", "solo flute"),
    _i(80, "square lead", "square wave synth", "8-bit square lead", "chiptune synth"),
    _i(81, "synth lead", "sawtooth lead", "saw synth"),
    _i(87, "synth lead", "bass and lead synth", "fat synth lead"),
    _i(88, "synth pad", "new age pad", "shimmering pad"),
    _i(89, "synth pad", "warm pad", "soft synth pad"),
    _i(90, "synth pad", "polysynth", "analog polysynth"),
    _i(91, "synth pad", "space voice pad", "airy pad"),
    _i(94, "synth pad", "halo pad", "ethereal pad"),
    _i(95, "synth pad", "sweep pad", "sweeping pad"),
    _i(105, "banjo", "twangy banjo", "picked banjo"),
    _i(110, "fiddle", "country fiddle", "sawing fiddle"),
]}

KITS: dict[int, Instrument] = {i.program: i for i in [
    _i(0, "drums", "drum kit", "acoustic drums", bank=DRUM_BANK),
    _i(8, "drums", "room drums", "live drums", bank=DRUM_BANK),
    _i(16, "drums", "big rock drums", "power drum kit", bank=DRUM_BANK),
    _i(24, "drum machine", "electronic drums", "programmed beat", bank=DRUM_BANK),
    _i(25, "drum machine", "808 drum machine", "tr-808 beat", bank=DRUM_BANK),
    _i(32, "drums", "jazz drums", "jazz kit", bank=DRUM_BANK),
    _i(40, "drums", "brushed drums", "brushes on snare", bank=DRUM_BANK),
    _i(48, "drums", "orchestral percussion", "light percussion", bank=DRUM_BANK),
]}


def lookup(program: int, drums: bool = False) -> Instrument:
    """The instrument for a program (a drum kit when ``drums``)."""
    table = KITS if drums else MELODIC
    if program not in table:
        raise KeyError(f"no {'drum kit' if drums else 'instrument'} entry for GM program {program}")
    return table[program]


def all_names() -> list[str]:
    """Every instrument tag name, sorted."""
    return sorted({i.name for i in (*MELODIC.values(), *KITS.values())})
