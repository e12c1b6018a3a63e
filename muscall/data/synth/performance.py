"""How a composed piece is played: per-clip humanising, extra swing, slow tempo drift, and where the clip starts.

A :class:`Performance` is drawn from the clip's seed and recorded in its manifest row. :func:`perform` turns a
piece composed in score time (bar 1 beat 1 at t = 0) into the notes a player would play, shifted so that the
rendered window starts ``start_offset_s`` into the piece, usually off the beat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from muscall.data.synth.compose import Note, Piece, beat_time
from muscall.data.synth.styles import Style

PREROLL_SECONDS = 1.5  # rendered before the clip's window (sustains and reverb already sounding), then cut
OFFSET_SECONDS = (1.0, 7.0)


@dataclass(frozen=True)
class Performance:
    """Per-clip playing: note timing spread (ms), velocity spread, extra swing, tempo drift, start offset."""

    timing_ms: float
    velocity_sd: float
    swing: float  # off-beat position of the extra swing warp (0.5: none)
    tempo_drift: float  # largest fractional tempo deviation of the slow drift
    drift_period_s: float
    drift_phase: float
    start_offset_s: float

    def attributes(self) -> dict[str, float]:
        return {"timing_ms": round(self.timing_ms, 1), "velocity_sd": round(self.velocity_sd, 1),
                "swing": round(self.swing, 3), "tempo_drift": round(self.tempo_drift, 4),
                "tempo_drift_period_s": round(self.drift_period_s, 1), "start_offset_s": round(self.start_offset_s, 3)}


def draw_performance(style: Style, rng: np.random.Generator) -> Performance:
    """Musical amounts: a little looser or tighter than the style, a touch of swing, a few percent of drift."""
    return Performance(
        timing_ms=float(rng.uniform(0.0, 1.0)) * style.humanize_ms,
        velocity_sd=float(rng.uniform(1.0, 6.0)),
        swing=0.5 + float(rng.uniform(0.0, 0.04)),
        tempo_drift=float(rng.uniform(0.0, 0.03)),
        drift_period_s=float(rng.uniform(8.0, 24.0)),
        drift_phase=float(rng.uniform(0.0, 2 * math.pi)),
        start_offset_s=float(rng.uniform(*OFFSET_SECONDS)))


def score_seconds(perf: Performance, seconds: float) -> float:
    """How much music to compose so the performed clip's window is covered (drift can stretch time)."""
    return (perf.start_offset_s + seconds) * (1 + perf.tempo_drift) + 1.0


def render_window(perf: Performance) -> tuple[float, float]:
    """(time the performed notes are shifted back by, seconds of pre-roll the renderer cuts)."""
    t0 = max(0.0, perf.start_offset_s - PREROLL_SECONDS)
    return t0, perf.start_offset_s - t0


def perform(piece: Piece, perf: Performance, style: Style, rng: np.random.Generator, end: float) -> Piece:
    """The piece as played: swing, timing and velocity spread, drift, then shifted so the pre-roll starts at 0.

    Notes starting after ``end`` (performed time, after the shift) are dropped; notes already sounding at the
    start of the pre-roll are cut to start there.
    """
    t0, _ = render_window(perf)
    parts = []
    for part in piece.parts:
        jitter = perf.timing_ms / 1000 * (0.5 if part.role == "drums" else 1.0)
        shifts = rng.normal(0.0, jitter, len(part.notes)) if jitter else np.zeros(len(part.notes))
        dv = rng.normal(0.0, perf.velocity_sd, len(part.notes))
        notes = []
        for note, shift, v in zip(part.notes, shifts.tolist(), dv.tolist()):
            start = _warp(_swing(note.start, piece.bpm, perf.swing, style.swing16) + shift, perf) - t0
            stop = _warp(_swing(note.end, piece.bpm, perf.swing, style.swing16) + shift, perf) - t0
            if stop <= 0 or start >= end:
                continue
            notes.append(Note(max(start, 0.0), max(stop, max(start, 0.0) + 0.03), note.key,
                              int(np.clip(round(note.velocity + v), 1, 127))))
        parts.append(replace(part, notes=notes))
    return replace(piece, parts=parts)


def _swing(t: float, bpm: int, swing: float, swing16: bool) -> float:
    """Delay the off-beat eighths (sixteenths) of score time ``t`` by the extra swing."""
    if swing == 0.5 or t <= 0:
        return t
    return beat_time(t * bpm / 60.0, bpm, swing, swing16)


def _warp(t: float, perf: Performance) -> float:
    """Performed time of score time ``t`` under a slow sinusoidal tempo drift (monotone: drift < 1)."""
    w = 2 * math.pi / perf.drift_period_s
    return t + perf.tempo_drift / w * (math.cos(w * t + perf.drift_phase) - math.cos(perf.drift_phase))
