"""Render a :class:`Piece` through a General MIDI soundfont with fluidsynth, in process.

Determinism: fluidsynth keeps state from one clip to the next (reverb/chorus buffers, and each voice slot's
last amplitude, which the first block of the next note in that slot ramps from). So every clip gets a
brand-new synthesizer; the soundfont is parsed once per :class:`Renderer` and shared with each new synth
(``fluid_synth_add_sfont``), which makes a fresh synth cost about a millisecond. A clip's audio therefore
depends only on its own notes, never on the clip rendered before it or on the worker that rendered it.
"""

from __future__ import annotations

import math
from ctypes import c_int, c_void_p
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from muscall.data.synth.compose import ROLE_VOLUME, Piece
from muscall.data.synth.instruments import DRUM_BANK, KITS, MELODIC
from muscall.data.synth.soundfonts import DEFAULT_SET, resolve_soundfonts, split_pairs
from muscall.errors import MuscallError

BLOCK = 64  # fluidsynth's internal block size in samples
TAIL_SECONDS = 0.25  # rendered past the end so the last block is complete, then cut
PEAK_CEILING = 10 ** (-1 / 20)  # -1 dBFS: normalised audio never clips
FADE_SECONDS = 0.02


@dataclass(frozen=True)
class Stage:
    """How a piece is placed in the room: fluidsynth reverb and a pan (MIDI CC10, 64 = centre) per role."""

    reverb_room: float
    reverb_damp: float
    reverb_width: float
    pans: dict[str, int]


def find_soundfont(path: str | Path | None = None) -> Path:
    """The soundfont file to use: ``path`` (a file, or a packaged soundfont's name) if given, else FluidR3 GM."""
    entry = resolve_soundfonts(str(path) if path else DEFAULT_SET[0])[0]
    return Path(entry.split("=", 1)[1])


def _bindings():
    """pyfluidsynth plus the few C functions it does not wrap."""
    try:
        import fluidsynth
    except (ImportError, OSError) as err:  # OSError: libfluidsynth itself missing
        raise MuscallError(f"fluidsynth is not usable ({err}); install it with 'make system-deps' "
                           "(apt-get install fluidsynth libfluidsynth3) and 'pip install pyfluidsynth'") from err
    f = fluidsynth.cfunc
    write = f("fluid_synth_write_float", c_int, ("synth", c_void_p, 1), ("len", c_int, 1), ("lout", c_void_p, 1),
              ("loff", c_int, 1), ("lincr", c_int, 1), ("rout", c_void_p, 1), ("roff", c_int, 1), ("rincr", c_int, 1))
    get_sfont = f("fluid_synth_get_sfont_by_id", c_void_p, ("synth", c_void_p, 1), ("id", c_int, 1))
    add_sfont = f("fluid_synth_add_sfont", c_int, ("synth", c_void_p, 1), ("sfont", c_void_p, 1))
    remove_sfont = f("fluid_synth_remove_sfont", c_int, ("synth", c_void_p, 1), ("sfont", c_void_p, 1))
    set_log = f("fluid_set_log_function", c_void_p, ("level", c_int, 1), ("fun", c_void_p, 1), ("data", c_void_p, 1))
    if None in (write, get_sfont, add_sfont, remove_sfont):
        raise MuscallError("this libfluidsynth lacks fluid_synth_write_float/add_sfont; install fluidsynth >= 2.0")
    return fluidsynth, write, get_sfont, add_sfont, remove_sfont, set_log


class Renderer:
    """Loads the soundfont once; :meth:`render` plays a piece on a fresh synthesizer and returns mono float32."""

    def __init__(self, soundfont: str | Path, sample_rate: int = 16000):
        self.sample_rate = int(sample_rate)
        self._fs, self._write, get_sfont, self._add, self._remove, set_log = _bindings()
        if set_log is not None:
            for level in (1, 2):  # FLUID_ERR, FLUID_WARN: "no preset" chatter when an sfont is detached
                set_log(level, None, None)
        self._keeper = self._fs.Synth(samplerate=float(self.sample_rate), channels=16)
        sfid = self._keeper.sfload(str(soundfont))
        if sfid < 0:
            self._keeper.delete()
            raise MuscallError(f"fluidsynth could not load soundfont '{soundfont}' (not a valid .sf2/.sf3 file?); "
                               "give a General MIDI soundfont, or install the packaged ones with 'make system-deps'")
        missing = [f"program {p}" for p in MELODIC if not self._keeper.sfpreset_name(sfid, 0, p)]
        missing += [f"drum kit {p}" for p in KITS if not self._keeper.sfpreset_name(sfid, DRUM_BANK, p)]
        if missing:
            self._keeper.delete()
            raise MuscallError(f"soundfont '{soundfont}' lacks General MIDI presets the styles play "
                               f"({', '.join(missing[:6])}{', ...' if len(missing) > 6 else ''}); give a complete "
                               "GM soundfont")
        self._sfont = get_sfont(self._keeper.synth, sfid)

    def render(self, piece: Piece, seconds: float, stage: Stage | None = None, skip: float = 0.0) -> np.ndarray:
        """Mono float32 audio of exactly ``seconds`` (not normalised), from ``skip`` seconds into the piece.

        ``stage`` None: the piece's own reverb, every part centred (the clean rendering).
        """
        if stage is None:
            room = 0.2 + 0.75 * piece.reverb
            stage = Stage(room, 0.4, 0.8, {})
        synth = self._fs.Synth(gain=0.3, samplerate=float(self.sample_rate), channels=16, **{
            "synth.reverb.room-size": stage.reverb_room, "synth.reverb.damp": stage.reverb_damp,
            "synth.reverb.width": stage.reverb_width,
            "synth.reverb.level": 0.3 + 0.6 * piece.reverb, "synth.chorus.active": 0})
        sfid = self._add(synth.synth, self._sfont)
        start = round(skip * self.sample_rate)
        try:
            stereo = self._play(synth, sfid, piece, stage, start + round(seconds * self.sample_rate))
        finally:
            self._remove(synth.synth, self._sfont)
            synth.delete()
        return stereo[start:].mean(axis=1).astype(np.float32)  # mono fold-down

    def close(self) -> None:
        """Free the soundfont and its synthesizer."""
        if self._keeper is not None:
            self._keeper.delete()
            self._keeper = None

    def _play(self, synth, sfid: int, piece: Piece, stage: Stage, n: int) -> np.ndarray:
        send = int(round(20 + 100 * piece.reverb))
        for part in piece.parts:
            synth.program_select(part.channel, sfid, part.instrument.bank, part.instrument.program)
            synth.cc(part.channel, 7, ROLE_VOLUME[part.role])
            synth.cc(part.channel, 91, send)
            synth.cc(part.channel, 93, 0)
            if part.role in stage.pans:
                synth.cc(part.channel, 10, stage.pans[part.role])
        total = math.ceil((n + TAIL_SECONDS * self.sample_rate) / BLOCK) * BLOCK
        buf = np.zeros(2 * total, dtype=np.float32)
        pos = 0
        for sample, on, channel, key, velocity in note_events(piece, self.sample_rate, total):
            if sample > pos:
                self._write(synth.synth, sample - pos, buf.ctypes.data, 2 * pos, 2, buf.ctypes.data, 2 * pos + 1, 2)
                pos = sample
            if on:
                synth.noteon(channel, key, velocity)
            else:
                synth.noteoff(channel, key)
        self._write(synth.synth, total - pos, buf.ctypes.data, 2 * pos, 2, buf.ctypes.data, 2 * pos + 1, 2)
        return buf.reshape(-1, 2)[:n]


class SoundfontBank:
    """One :class:`Renderer` per soundfont name, each loaded lazily the first time a clip needs it."""

    def __init__(self, soundfonts: tuple[str, ...], sample_rate: int = 16000):
        self.paths = split_pairs(soundfonts)
        self.sample_rate = sample_rate
        self._loaded: dict[str, Renderer] = {}

    def __getitem__(self, name: str) -> Renderer:
        if name not in self._loaded:
            self._loaded[name] = Renderer(self.paths[name], self.sample_rate)
        return self._loaded[name]

    @property
    def loaded(self) -> list[str]:
        """Names of the soundfonts loaded so far."""
        return list(self._loaded)

    def close(self) -> None:
        """Free every loaded soundfont."""
        for renderer in self._loaded.values():
            renderer.close()
        self._loaded.clear()


def note_events(piece: Piece, sample_rate: int, limit: int) -> list[tuple[int, int, int, int, int]]:
    """(sample, on, channel, key, velocity) events in play order; a note is cut where the same key restarts."""
    events = []
    for part in piece.parts:
        by_key: dict[int, list] = {}
        for note in part.notes:
            by_key.setdefault(note.key, []).append(note)
        for key, notes in by_key.items():
            notes.sort(key=lambda n: n.start)
            for i, note in enumerate(notes):
                on = min(round(note.start * sample_rate), limit)
                off = min(round(note.end * sample_rate), limit)
                if i + 1 < len(notes):
                    off = min(off, round(notes[i + 1].start * sample_rate))
                if off <= on:
                    continue
                events.append((on, 1, part.channel, key, note.velocity))
                events.append((off, 0, part.channel, key, 0))
    events.sort(key=lambda e: (e[0], e[1], e[2], e[3]))  # at equal times note-offs come first
    return events


def finish(audio: np.ndarray, target_db: float, sample_rate: int) -> tuple[np.ndarray, float]:
    """Fade out the last 20 ms, scale to ``target_db`` RMS (dBFS) with peaks kept under -1 dBFS, round to 16 bit.

    Returns int16 samples and the RMS level they reach (dBFS, one decimal).
    """
    x = audio.astype(np.float64)
    fade = max(1, min(len(x), round(FADE_SECONDS * sample_rate)))
    x[-fade:] *= np.linspace(1.0, 0.0, fade)
    rms = float(np.sqrt(np.mean(x ** 2)))
    if not rms > 1e-7:
        raise RuntimeError("rendered clip is silent; the piece has no audible notes")
    gain = min(10 ** (target_db / 20) / rms, PEAK_CEILING / float(np.max(np.abs(x))))
    pcm = np.round(x * gain * 32767).astype(np.int16)
    level = 20 * math.log10(float(np.sqrt(np.mean((pcm / 32768.0) ** 2))) + 1e-12)
    return pcm, round(level, 1)
