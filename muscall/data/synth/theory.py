"""Just enough music theory for the generator: keys, scales, chords and Roman-numeral progressions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from muscall.audio.signal import PITCH_CLASSES as NOTE_NAMES  # the spelling of keys in captions and manifests

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}

# Chord qualities as semitone intervals above the root.
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "5": (0, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10),
    "9": (0, 4, 7, 10, 14),
    "m9": (0, 3, 7, 10, 14),
    "sus4": (0, 5, 7),
}

_DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_NUMERAL = re.compile(r"^(?P<acc>[b#]?)(?P<num>VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)(?P<suffix>.*)$")
_SUFFIXES = {"": None, "7": "7", "maj7": "maj7", "9": "9", "5": "5", "o": "dim", "ø7": "m7b5", "sus4": "sus4"}


@dataclass(frozen=True)
class Chord:
    """A chord: root pitch class (0-11, C=0) and intervals above it."""

    root: int
    intervals: tuple[int, ...]
    symbol: str = ""

    def pitch_classes(self) -> list[int]:
        """The chord's pitch classes, root first."""
        return [(self.root + i) % 12 for i in self.intervals]

    def tone(self, index: int) -> int:
        """Semitones above the root of chord tone ``index`` (0 root, 1 third, 2 fifth, 3 seventh...)."""
        return self.intervals[min(index, len(self.intervals) - 1)]


def parse_numeral(numeral: str, tonic: int) -> Chord:
    """Chord for a Roman numeral in a key: ``"ii7"``, ``"V7"``, ``"bVII"``, ``"Imaj7"``, ``"iiø7"``, ``"vii o"``."""
    match = _NUMERAL.match(numeral.replace(" ", ""))
    if not match or match["suffix"] not in _SUFFIXES:
        raise ValueError(f"cannot parse chord numeral '{numeral}'")
    num, acc, suffix = match["num"], match["acc"], match["suffix"]
    minor = num.islower()
    degree = _DEGREES[num.upper()] + {"b": -1, "#": 1, "": 0}[acc]
    quality = _SUFFIXES[suffix]
    if quality is None:
        quality = "min" if minor else "maj"
    elif quality == "7" and minor:
        quality = "m7"
    elif quality == "9" and minor:
        quality = "m9"
    return Chord((tonic + degree) % 12, QUALITIES[quality], numeral)


def parse_progression(text: str, tonic: int) -> list[Chord]:
    """Chords of a progression written as numerals separated by '-' (one chord per slot)."""
    return [parse_numeral(n, tonic) for n in text.split("-")]


def scale_pitches(tonic: int, scale: str, low: int, high: int) -> list[int]:
    """MIDI pitches of ``scale`` on ``tonic`` between ``low`` and ``high`` inclusive."""
    steps = SCALES[scale]
    return [p for p in range(low, high + 1) if (p - tonic) % 12 in steps]


def place(pitch_class: int, low: int) -> int:
    """The lowest MIDI pitch of ``pitch_class`` at or above ``low``."""
    return low + (pitch_class - low) % 12


def voice_chord(chord: Chord, low: int, kind: str = "close") -> list[int]:
    """MIDI pitches voicing ``chord`` from ``low`` up.

    kinds: ``close`` (all tones within an octave above the root), ``power`` (root, fifth, octave),
    ``shell`` (third and seventh plus the ninth or fifth: rootless jazz voicing), ``spread`` (open pad voicing).
    """
    root = place(chord.root, low)
    if kind == "power":
        return [root, root + 7, root + 12]
    seventh = len(chord.intervals) > 3
    if kind == "shell":
        third = place((chord.root + chord.tone(1)) % 12, low)
        top = place((chord.root + chord.tone(3 if seventh else 2)) % 12, third + 1)
        color = place((chord.root + (2 if seventh else 0)) % 12, top + 1)  # the ninth, or the root on top
        return [third, top, color]
    if kind == "spread":
        return [root, root + chord.tone(2), root + 12 + chord.tone(1), root + 12 + chord.tone(3 if seventh else 2)]
    return sorted(place((chord.root + i) % 12, low) for i in chord.intervals)

