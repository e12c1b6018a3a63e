"""The lead melody: a two-bar motif repeated and varied (A A' B A'), moving by steps through the scale
and landing on chord tones on strong beats."""

from __future__ import annotations

import numpy as np

from muscall.data.synth.patterns import BeatNote, Harmony
from muscall.data.synth.styles import LeadSpec
from muscall.data.synth.theory import scale_pitches

Slot = tuple[float, float, bool]  # start, duration, is_rest
_STEPS = np.array([-4, -3, -2, -1, 0, 1, 2, 3, 4])
_STEP_P = np.array([0.03, 0.06, 0.14, 0.24, 0.06, 0.24, 0.14, 0.06, 0.03])


def lead_part(spec: LeadSpec, harmony: Harmony, tonic: int, scale: str, rng: np.random.Generator) -> list[BeatNote]:
    """The lead line over ``harmony`` in ``scale`` on ``tonic``."""
    pitches = scale_pitches(tonic, scale, spec.low, spec.high)
    phrase = 2 * harmony.meter
    total = harmony.bars * harmony.meter
    motifs = [_motif(spec, phrase, rng) for _ in range(2)]
    plan = [0, 0, 1, 0]  # A A' B A'
    index = len(pitches) // 2
    notes: list[BeatNote] = []
    for p in range(int(np.ceil(total / phrase))):
        rhythm, steps = motifs[plan[p % len(plan)]]
        if p % len(plan) in (1, 3):  # the repeat starts a step or two away
            index = int(np.clip(index + rng.choice([-2, -1, 1, 2]), 0, len(pitches) - 1))
        for (pos, dur, rest), step in zip(rhythm, steps):
            beat = p * phrase + pos
            if beat >= total:
                break
            index = _reflect(index + step, len(pitches))
            if rest:
                continue
            if pos % harmony.meter == 0 or (harmony.meter == 4 and pos % 2 == 0):
                index = _nearest_chord_tone(pitches, index, harmony.at(beat).pitch_classes())
            accent = 1.0 if pos % 1 == 0 else 0.85
            notes.append(BeatNote(beat, dur * spec.legato, pitches[index], accent * float(rng.uniform(0.9, 1.05))))
    return notes


def _motif(spec: LeadSpec, length: float, rng: np.random.Generator) -> tuple[list[Slot], list[int]]:
    """A rhythm filling ``length`` beats (slots: start, duration, is_rest) and a step per slot."""
    weights = np.asarray(spec.weights, dtype=float) / sum(spec.weights)
    rhythm, pos = [], 0.0
    while pos < length - 1e-9:
        dur = float(rng.choice(spec.durations, p=weights))
        if pos % 1 != 0 and dur >= 1:  # long notes start on the beat
            dur = 1 - pos % 1
        dur = min(dur, length - pos)
        rhythm.append((pos, dur, bool(rng.random() < spec.rest_prob) and pos > 0))
        pos += dur
    steps = [int(s) for s in rng.choice(_STEPS, size=len(rhythm), p=_STEP_P)]
    return rhythm, steps


def _reflect(index: int, n: int) -> int:
    """Keep an index in [0, n) by bouncing off the ends of the range."""
    if index < 0:
        return min(-index, n - 1)
    if index >= n:
        return max(2 * (n - 1) - index, 0)
    return index


def _nearest_chord_tone(pitches: list[int], index: int, chord_pcs: list[int]) -> int:
    """Index of the scale pitch nearest ``index`` whose pitch class is in the chord (``index`` if none)."""
    candidates = [i for i, p in enumerate(pitches) if p % 12 in chord_pcs]
    if not candidates:
        return index
    return min(candidates, key=lambda i: (abs(i - index), i))
