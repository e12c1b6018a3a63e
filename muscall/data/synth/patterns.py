"""Grooves: drum patterns per style family and the comping / bass rhythms that play the chords.

Positions and durations are in beats from the start of the bar (a pattern may span several bars).
Generators return :class:`BeatNote` lists; the composer turns beats into seconds (swing, humanising).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from muscall.data.synth.theory import Chord, place, voice_chord

# GM drum notes
KICK, SIDE, SNARE, CLAP, CHH, PHH, OHH, CRASH, RIDE, TAMB, SHAKER = 36, 37, 38, 39, 42, 44, 46, 49, 51, 54, 70
TOMS = (50, 48, 47, 45, 43, 41)


@dataclass(frozen=True)
class BeatNote:
    """A note in beats: start, duration, MIDI key, velocity scale (1.0 = the clip's base velocity)."""

    start: float
    dur: float
    key: int
    vel: float


@dataclass(frozen=True)
class Harmony:
    """Chords laid out over the piece: chord ``i`` sounds from ``i * beats_per_chord``."""

    chords: list[Chord]
    beats_per_chord: int
    meter: int
    bars: int

    def at(self, beat: float) -> Chord:
        """The chord sounding at ``beat``."""
        return self.chords[int(beat // self.beats_per_chord) % len(self.chords)]

    def spans(self) -> list[tuple[float, float, Chord]]:
        """(start, length, chord) for each chord slot until the end of the piece."""
        total = self.bars * self.meter
        starts = np.arange(0, total, self.beats_per_chord)
        return [(float(s), float(min(self.beats_per_chord, total - s)), self.at(float(s))) for s in starts]


Hit = tuple  # (pos, vel) or (pos, vel, prob)


def _grid(step: float, length: float, vel: float, accent: float | None = None, prob: float = 1.0) -> list[Hit]:
    hits = []
    for pos in np.arange(0, length, step):
        v = accent if accent is not None and abs(pos - round(pos)) < 1e-9 else vel
        hits.append((float(pos), v, prob))
    return hits


# style family -> variants; a variant maps drum note -> hits and has a length in beats ("len")
DRUMS: dict[str, list[dict]] = {
    "rock": [
        {KICK: [(0, 1), (2, 1), (2.5, .8, .5)], SNARE: [(1, 1), (3, 1)], CHH: _grid(.5, 4, .6, .8)},
        {KICK: [(0, 1), (1.5, .8), (2, 1)], SNARE: [(1, 1), (3, 1)], RIDE: _grid(.5, 4, .6, .75)},
    ],
    "metal": [
        {KICK: _grid(.25, 4, .85), SNARE: [(1, 1), (3, 1)], CRASH: _grid(1, 4, .7)},
        {KICK: _grid(.5, 4, .9), SNARE: [(2, 1)], CHH: _grid(.5, 4, .7), CRASH: [(0, .9)]},
    ],
    "swing": [
        {RIDE: [(0, .8), (1, .9), (1.5, .6), (2, .8), (3, .9), (3.5, .6)], PHH: [(1, .6), (3, .6)],
         KICK: _grid(1, 4, .3, prob=.5), SNARE: _grid(.5, 4, .35, prob=.12)},
    ],
    "waltz": [
        {KICK: [(0, .7)], SNARE: [(1, .45), (2, .45)], RIDE: [(1, .4, .5), (2, .4, .5)], "len": 3},
    ],
    "four_floor": [
        {KICK: _grid(1, 4, 1), CLAP: [(1, .85), (3, .85)], OHH: [(.5, .7), (1.5, .7), (2.5, .7), (3.5, .7)],
         CHH: _grid(.25, 4, .35, prob=.8)},
        {KICK: _grid(1, 4, 1), SNARE: [(1, .7), (3, .7)], OHH: [(.5, .75), (1.5, .75), (2.5, .75), (3.5, .75)],
         TAMB: _grid(.5, 4, .4)},
    ],
    "one_drop": [
        {KICK: [(2, 1)], SIDE: [(2, .95)], CHH: _grid(.5, 4, .55, .7), OHH: [(3.5, .6, .35)]},
        {KICK: [(2, 1)], SNARE: [(2, .85)], CHH: _grid(.5, 4, .5), SIDE: [(1, .6, .4), (3, .6, .4)]},
    ],
    "bossa": [
        {KICK: [(0, .75), (1.5, .5), (2, .75), (3.5, .5), (4, .75), (5.5, .5), (6, .75), (7.5, .5)],
         SIDE: [(0, .8), (1.5, .8), (3, .8), (5, .8), (6.5, .8)], SHAKER: _grid(.5, 8, .35, .45), "len": 8},
    ],
    "boom_bap": [
        {KICK: [(0, 1), (1.5, .7, .6), (2.5, .95), (2.75, .6, .4)], SNARE: [(1, 1), (3, 1)],
         CHH: _grid(.5, 4, .6) + [(p + .25, .3, .35) for p in np.arange(0, 4, .5)]},
    ],
    "shuffle": [
        {KICK: [(0, 1), (2, .9), (2.5, .6, .3)], SNARE: [(1, .95), (3, .95)], RIDE: _grid(.5, 4, .55, .75)},
        {KICK: [(0, 1), (2, .9)], SNARE: [(1, .95), (3, .95)], CHH: _grid(.5, 4, .55, .75)},
    ],
    "train": [
        {KICK: [(0, .9), (2, .9)], SNARE: _grid(.5, 4, .4, .5) + [(1, .9), (3, .9)]},
        {KICK: [(0, .9), (2, .9)], SNARE: [(1, .9), (3, .9)], CHH: _grid(.5, 4, .5)},
    ],
    "funk": [
        {KICK: [(0, 1), (.75, .7), (2.5, .9), (1.75, .6, .5)], SNARE: [(1, 1), (3, 1), (1.75, .3, .6), (2.25, .3, .6),
         (3.75, .3, .6)], CHH: _grid(.25, 4, .45, .7), OHH: [(3.5, .6, .5)]},
    ],
    "chip": [
        {KICK: [(0, 1), (2, 1), (2.5, .7, .5)], SNARE: [(1, .9), (3, .9)], CHH: _grid(.5, 4, .5)},
    ],
}


def drum_part(family: str, meter: int, bars: int, fills: bool, rng: np.random.Generator) -> list[BeatNote]:
    """The drum track: one variant of the family's pattern, crashes and fills when ``fills``."""
    variants = DRUMS[family]
    pattern = variants[int(rng.integers(len(variants)))]
    length = pattern.get("len", meter)
    notes = []
    for rep in range(int(np.ceil(bars * meter / length))):
        base = rep * length
        for key, hits in pattern.items():
            if key == "len":
                continue
            for hit in hits:
                pos, vel, prob = (*hit, 1.0)[:3]
                if base + pos < bars * meter and (prob >= 1.0 or rng.random() < prob):
                    notes.append(BeatNote(base + pos, 0.2, key, vel))
    if fills:
        notes = _add_fills(notes, meter, bars, rng)
    return notes


def _add_fills(notes: list[BeatNote], meter: int, bars: int, rng: np.random.Generator) -> list[BeatNote]:
    """Crash on bar 1 and after each fill; a sixteenth tom/snare fill on the last beat of every 4th bar."""
    out = list(notes) + [BeatNote(0.0, 0.2, CRASH, 0.9)]
    for bar in range(3, bars, 4):
        start = (bar + 1) * meter - 1
        out = [n for n in out if not (start <= n.start < start + 1 and n.key != KICK)]
        toms = [SNARE] * 4 if rng.random() < 0.4 else list(TOMS[:4])
        out += [BeatNote(start + 0.25 * i, 0.2, toms[i], 0.7 + 0.08 * i) for i in range(4)]
        if bar + 1 < bars:
            out.append(BeatNote(start + 1, 0.2, CRASH, 0.95))
    return out


# comping rhythms: per bar (pos, dur, vel); "len" spans several bars
COMP: dict[str, list[tuple[float, float, float]] | str] = {
    "eighths": [(p, .45, .85 if p % 1 == 0 else .7) for p in np.arange(0, 4, .5)],
    "halves": [(0, 1.9, 1.0), (2, 1.9, .9)],
    "chug16": [(p, .22, .9 if p % 1 == 0 else .65) for p in np.arange(0, 4, .25)],
    "charleston": [(0, .9, .9), (1.5, .4, .8), (2.5, .4, .6)],
    "oompah": [(1, .8, .8), (2, .8, .75)],
    "offbeat_stab": [(p + .5, .3, .8) for p in range(4)],
    "skank": [(1, .3, .9), (3, .3, .9)],
    "bubble": [(p + .5, .3, .7) for p in range(4)],
    "bossa": [(0, .45, .8), (1.5, .45, .7), (3, .45, .75), (5, .45, .7), (6.5, .45, .7)],
    "sustain": [(0, 1.95, .8), (2, 1.95, .75)],
    "quarters": [(0, .95, .75), (1, .95, .6), (2, .95, .7), (3, .95, .6)],
    "hold": [(0, 1.5, .85), (2.5, 1.2, .7)],
    "shuffle_comp": [(1, .45, .8), (1.5, .3, .6), (3, .45, .8), (3.5, .3, .6)],
    "boom_chick": [(1, .45, .8), (1.5, .3, .55), (3, .45, .8), (3.5, .3, .55)],
    "strum8": [(p, .45, .8 if p % 1 == 0 else .55) for p in np.arange(0, 4, .5)],
    "funk16": [(0, .15, .9), (.75, .15, .7), (1.5, .15, .8), (1.75, .15, .6), (2.5, .15, .85), (3, .15, .7),
               (3.25, .15, .6), (3.75, .15, .7)],
    "comp_random": "random",
    "pad": "span",
    "arp16": "arp",
}
COMP_LEN = {"bossa": 8}


def comp_part(name: str, harmony: Harmony, voicing: str, low: int, rng: np.random.Generator) -> list[BeatNote]:
    """Chords played in rhythm ``name``, voiced from ``low`` up."""
    rhythm = COMP[name]
    if rhythm == "span":
        return [BeatNote(s, d, k, .75) for s, d, c in harmony.spans() for k in voice_chord(c, low, voicing)]
    if rhythm == "arp":
        return _arpeggio(harmony, low)
    total = harmony.bars * harmony.meter
    length = COMP_LEN.get(name, harmony.meter)
    hits = _random_comp(harmony, rng) if rhythm == "random" else _repeat(rhythm, length, harmony)
    notes = []
    for pos, dur, vel in hits:
        if pos < total:
            notes += [BeatNote(pos, dur, k, vel) for k in voice_chord(harmony.at(pos), low, voicing)]
    return notes


def _repeat(rhythm: list, length: float, harmony: Harmony) -> list[tuple[float, float, float]]:
    reps = int(np.ceil(harmony.bars * harmony.meter / length))
    return [(r * length + p, d, v) for r in range(reps) for p, d, v in rhythm if p < length]


def _random_comp(harmony: Harmony, rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """Jazz comping: two or three hits per bar on random eighths, the first near the downbeat."""
    hits = []
    for bar in range(harmony.bars):
        slots = rng.choice(np.arange(0, harmony.meter, .5), size=int(rng.integers(2, 4)), replace=False)
        for pos in sorted(slots):
            hits.append((bar * harmony.meter + float(pos), float(rng.choice([.4, .9])), float(rng.uniform(.6, .9))))
    return hits


def _arpeggio(harmony: Harmony, low: int) -> list[BeatNote]:
    """Sixteenth-note arpeggios up and down the chord over two octaves (chiptune)."""
    notes = []
    for start, length, chord in harmony.spans():
        tones = voice_chord(chord, low, "close")
        cycle = tones + [t + 12 for t in tones] + [tones[0] + 24] + [t + 12 for t in tones[::-1]] + tones[:0:-1]
        for i, pos in enumerate(np.arange(start, start + length, .25)):
            notes.append(BeatNote(float(pos), .22, cycle[i % len(cycle)], .8 if i % 4 == 0 else .6))
    return notes


# bass patterns per bar: (pos, dur, tone, vel[, prob]); tone: R root, 3, 5, 7, 8 octave, A approach, or semitones
BASS: dict[str, list[tuple] | str] = {
    "eighths_root": [(p, .45, "R", .9 if p % 1 == 0 else .75) for p in np.arange(0, 4, .5)],
    "sixteenths": [(p, .22, "R", .9 if p % 1 == 0 else .7) for p in np.arange(0, 4, .25)],
    "waltz_root": [(0, .9, "R", .9)],
    "offbeat_8ths": [(p + .5, .4, "R", .9) for p in range(4)],
    "rolling16": [(p, .2, "R" if p % 1 != .5 else "8", .8) for p in np.arange(0, 4, .25) if p % 1 != 0],
    "reggae": [(0, .9, "R", .9), (1.5, .4, "5", .7), (2, .9, "8", .8), (3, .4, "3", .7), (3.5, .4, "5", .7)],
    "bossa": [(0, 1.4, "R", .85), (1.5, .45, "5", .7), (2, 1.4, "5", .8), (3.5, .45, "R", .7)],
    "halves": [(0, 1.9, "R", .85), (2, 1.9, "5", .8)],
    "hiphop": [(0, .7, "R", .95), (1.5, .4, "8", .6), (2.5, .4, "R", .85), (3, .9, "5", .7)],
    "boogie": [(0, .45, "R", .9), (.5, .45, "R", .7), (1, .45, "3", .85), (1.5, .45, "3", .7),
               (2, .45, "5", .85), (2.5, .45, "5", .7), (3, .45, 9, .85), (3.5, .45, 10, .7)],
    "root_fifth": [(0, .9, "R", .9), (2, .9, "5", .8), (3.5, .45, "A", .6, .4)],
    "funk": [(0, .2, "R", 1.0), (.75, .2, "8", .7), (1.5, .2, "R", .8), (2.5, .2, "R", .9), (3, .2, "8", .7),
             (3.5, .2, "5", .7), (3.75, .2, "A", .6)],
    "octave8": [(p, .4, "R" if p % 1 == 0 else "8", .8) for p in np.arange(0, 4, .5)],
    "walk": "walk",
    "drone": "span",
}


def bass_part(name: str, harmony: Harmony, low: int, rng: np.random.Generator) -> list[BeatNote]:
    """The bass line for pattern ``name`` with roots placed from ``low`` up."""
    pattern = BASS[name]
    if pattern == "span":
        return [BeatNote(s, d, place(c.root, low), .8) for s, d, c in harmony.spans()]
    if pattern == "walk":
        return _walking(harmony, low, rng)
    meter, total = harmony.meter, harmony.bars * harmony.meter
    notes = []
    for bar in range(harmony.bars):
        for step in pattern:
            pos, dur, tone, vel, prob = (*step, 1.0)[:5]
            beat = bar * meter + pos
            if pos >= meter or beat >= total or (prob < 1.0 and rng.random() >= prob):
                continue
            chord = harmony.at(beat)
            if name == "waltz_root" and bar % 2:
                tone = "5"
            notes.append(BeatNote(beat, dur, _bass_key(tone, chord, harmony.at(beat + 1), low), vel))
    return notes


def _bass_key(tone: str | int, chord: Chord, next_chord: Chord, low: int) -> int:
    root = place(chord.root, low)
    if tone == "A":
        return place(next_chord.root, low) - 1
    offsets = {"R": 0, "3": chord.tone(1), "5": chord.tone(2), "7": chord.tone(3), "8": 12}
    return root + (offsets[tone] if isinstance(tone, str) else tone)


def _walking(harmony: Harmony, low: int, rng: np.random.Generator) -> list[BeatNote]:
    """Quarter-note walking bass: root on each chord change, chord/scale tones, a chromatic approach last."""
    notes, total = [], harmony.bars * harmony.meter
    for beat in range(total):
        chord, nxt = harmony.at(beat), harmony.at(beat + 1)
        root = place(chord.root, low)
        if beat % harmony.beats_per_chord == 0:
            key = root
        elif (beat + 1) % harmony.beats_per_chord == 0:
            target = place(nxt.root, low)
            key = target + int(rng.choice([-1, 1]))
        else:
            upper = chord.tone(3) if len(chord.intervals) > 3 else 12
            key = root + int(rng.choice([chord.tone(1), chord.tone(2), 2, upper]))
        notes.append(BeatNote(float(beat), .95, key, .85 if beat % 2 == 0 else .75))
    return notes
