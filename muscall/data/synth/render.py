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
from pathlib import Path

import numpy as np

from muscall.data.synth.compose import ROLE_VOLUME, Piece
from muscall.errors import MuscallError

SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"), Path("/usr/local/share/sounds/sf2"))
SOUNDFONT_NAMES = ("FluidR3_GM.sf2", "default-GM.sf2")
INSTALL_HINT = "install one with 'make system-deps' (or 'apt-get install fluid-soundfont-gm'), or pass --soundfont PATH"
BLOCK = 64  # fluidsynth's internal block size in samples
TAIL_SECONDS = 0.25  # rendered past the end so the last block is complete, then cut
PEAK_CEILING = 10 ** (-1 / 20)  # -1 dBFS: normalised audio never clips
FADE_SECONDS = 0.02


def find_soundfont(path: str | Path | None = None, search_dirs: tuple[Path, ...] = SOUNDFONT_DIRS) -> Path:
    """The soundfont to use: ``path`` if given, else FluidR3_GM.sf2 / default-GM.sf2 in the usual folders."""
    if path:
        sf2 = Path(path).expanduser()
        if not sf2.is_file():
            raise MuscallError(f"soundfont '{sf2}' does not exist; give the path of a .sf2 file, or {INSTALL_HINT}")
        return sf2.resolve()
    for folder in search_dirs:
        for name in SOUNDFONT_NAMES:
            if (folder / name).is_file():
                return (folder / name).resolve()
    looked = ", ".join(str(d) for d in search_dirs) or "(no folders)"
    raise MuscallError(f"no General MIDI soundfont found ({' or '.join(SOUNDFONT_NAMES)} in {looked}); {INSTALL_HINT}")


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
            raise MuscallError(f"fluidsynth could not load soundfont '{soundfont}' (not a valid .sf2 file?); "
                               f"{INSTALL_HINT}")
        self._sfont = get_sfont(self._keeper.synth, sfid)

    def render(self, piece: Piece, seconds: float) -> np.ndarray:
        """Mono float32 audio of exactly ``seconds`` (not normalised)."""
        room = 0.2 + 0.75 * piece.reverb
        synth = self._fs.Synth(gain=0.3, samplerate=float(self.sample_rate), channels=16, **{
            "synth.reverb.room-size": room, "synth.reverb.damp": 0.4, "synth.reverb.width": 0.8,
            "synth.reverb.level": 0.3 + 0.6 * piece.reverb, "synth.chorus.active": 0})
        sfid = self._add(synth.synth, self._sfont)
        try:
            return self._play(synth, sfid, piece, round(seconds * self.sample_rate))
        finally:
            self._remove(synth.synth, self._sfont)
            synth.delete()

    def close(self) -> None:
        """Free the soundfont and its synthesizer."""
        if self._keeper is not None:
            self._keeper.delete()
            self._keeper = None

    def _play(self, synth, sfid: int, piece: Piece, n: int) -> np.ndarray:
        send = int(round(20 + 100 * piece.reverb))
        for part in piece.parts:
            synth.program_select(part.channel, sfid, part.instrument.bank, part.instrument.program)
            synth.cc(part.channel, 7, ROLE_VOLUME[part.role])
            synth.cc(part.channel, 91, send)
            synth.cc(part.channel, 93, 0)
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
        return buf.reshape(-1, 2).mean(axis=1)[:n].astype(np.float32)


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
