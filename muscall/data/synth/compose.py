"""Compose one multi-track piece for a style: key, mode, tempo, dynamics, instruments, then the parts in seconds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from muscall.data.synth.instruments import DRUM_CHANNEL, Instrument, lookup
from muscall.data.synth.melody import lead_part
from muscall.data.synth.patterns import BeatNote, Harmony, bass_part, comp_part, drum_part
from muscall.data.synth.styles import Style
from muscall.data.synth.theory import NOTE_NAMES, parse_progression

ROLES = ("lead", "comp", "bass", "drums")
CHANNELS = {"lead": 0, "comp": 1, "bass": 2, "drums": DRUM_CHANNEL}
ROLE_VOLUME = {"lead": 108, "comp": 84, "bass": 104, "drums": 110}  # CC7 per role
ROLE_VELOCITY = {"lead": 1.0, "comp": 0.85, "bass": 0.95, "drums": 1.0}
BASE_VELOCITY = {"soft": 48, "medium": 76, "loud": 104}


@dataclass(frozen=True)
class Note:
    """A note in seconds on one MIDI channel."""

    start: float
    end: float
    key: int
    velocity: int


@dataclass
class Part:
    """One role's instrument and notes."""

    role: str
    instrument: Instrument
    channel: int
    notes: list[Note] = field(default_factory=list)


@dataclass
class Piece:
    """A composed clip: its musical attributes and its parts."""

    genre: str
    bpm: int
    tonic: int
    mode: str
    meter: int
    dynamics: str
    progression: str
    reverb: float
    parts: list[Part]

    def attributes(self) -> dict[str, Any]:
        """The attributes stored in the manifest (moods and loudness are added by the generator)."""
        return {
            "genre": self.genre, "bpm": self.bpm, "key": NOTE_NAMES[self.tonic], "mode": self.mode,
            "meter": f"{self.meter}/4", "dynamics": self.dynamics, "progression": self.progression,
            "instruments": [{"role": p.role, "program": p.instrument.program, "name": p.instrument.name,
                             "bank": p.instrument.bank} for p in self.parts],
            "reverb": round(self.reverb, 2),
        }


def compose(style: Style, rng: np.random.Generator, seconds: float) -> Piece:
    """A piece in ``style`` covering ``seconds``: random key, mode, tempo, dynamics and instrumentation."""
    mode = "major" if rng.random() < style.major_prob else "minor"
    tonic = int(rng.integers(12))
    bpm = int(rng.integers(style.bpm[0], style.bpm[1] + 1))
    dynamics = str(rng.choice(["soft", "medium", "loud"], p=np.asarray(style.dynamics) / sum(style.dynamics)))
    progression = str(rng.choice(style.major if mode == "major" else style.minor))
    bars = math.ceil(seconds * bpm / 60 / style.meter) + 1
    harmony = Harmony(parse_progression(progression, tonic), style.beats_per_chord, style.meter, bars)
    scale = style.lead.scale_major if mode == "major" else style.lead.scale_minor
    beats = {
        "lead": lead_part(style.lead, harmony, tonic, scale, rng),
        "comp": comp_part(str(rng.choice(style.comp)), harmony, style.comp_voicing, style.comp_low, rng),
        "bass": bass_part(str(rng.choice(style.bass)), harmony, style.bass_low, rng),
    }
    if style.drums:
        beats["drums"] = drum_part(style.drums, style.meter, bars, style.fills, rng)
    base = BASE_VELOCITY[dynamics] + int(rng.integers(-6, 7))
    parts: list[Part] = []
    for role in ROLES:
        if role not in beats:
            continue
        options = style.programs[role]
        if role == "comp" and len(options) > 1:  # a different timbre from the lead where the style allows
            options = tuple(p for p in options if p != parts[0].instrument.program) or options
        instrument = lookup(int(rng.choice(options)), drums=role == "drums")
        notes = _to_seconds(beats[role], style, bpm, base * ROLE_VELOCITY[role], seconds, rng, role == "drums")
        parts.append(Part(role, instrument, CHANNELS[role], notes))
    reverb = float(rng.uniform(*style.reverb))
    return Piece(style.genre, bpm, tonic, mode, style.meter, dynamics, progression, reverb, parts)


def beat_time(beat: float, bpm: float, swing: float = 0.5, swing16: bool = False) -> float:
    """Seconds at ``beat`` with off-beat eighths (or sixteenths) delayed to fraction ``swing`` of their pair."""
    whole = math.floor(beat)
    frac = beat - whole
    if swing16:
        half = math.floor(frac * 2) / 2
        frac = half + _swing_fraction((frac - half) * 2, swing) / 2
    else:
        frac = _swing_fraction(frac, swing)
    return (whole + frac) * 60.0 / bpm


def _swing_fraction(f: float, swing: float) -> float:
    return f / 0.5 * swing if f < 0.5 else swing + (f - 0.5) / 0.5 * (1 - swing)


def _to_seconds(notes: list[BeatNote], style: Style, bpm: int, velocity: float, seconds: float,
                rng: np.random.Generator, drums: bool) -> list[Note]:
    """Beats -> seconds with swing and humanised timing/velocity; notes starting after the clip are dropped."""
    notes = sorted(notes, key=lambda n: (n.start, n.key))
    jitter = style.humanize_ms / 1000 * (0.5 if drums else 1.0)
    shifts = rng.normal(0, jitter, len(notes)) if jitter else np.zeros(len(notes))
    vels = np.clip(np.round(velocity * np.array([n.vel for n in notes]) + rng.normal(0, 3, len(notes))), 1, 127)
    out = []
    for n, shift, vel in zip(notes, shifts.tolist(), vels.tolist()):
        start = max(0.0, beat_time(n.start, bpm, style.swing, style.swing16) + shift)
        if start < seconds:
            end = max(start + 0.03, beat_time(n.start + n.dur, bpm, style.swing, style.swing16) + shift)
            out.append(Note(start, end, n.key, int(vel)))
    return out
