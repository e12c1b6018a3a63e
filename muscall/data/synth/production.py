"""A per-clip production chain: room and stereo image at render time, then EQ, compression and a noise floor.

Amounts stay musical (a mix engineer's choices, not damage; degradations live in ``muscall.data.degrade``).
Order: fluidsynth reverb (room size, damping, width) and per-role pans -> mono fold-down (the renderer) ->
EQ tilt and band-limiting (one zero-phase filter) -> input gain into a compressor -> 10 ms fade-in (the clip
starts mid-piece) -> noise floor. The loudness target and the -1 dBFS ceiling are applied afterwards by
``render.finish``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from muscall.data.synth.compose import Piece
from muscall.data.synth.render import Stage

PRESETS = ("default", "none")
WORK_RMS_DB = -20.0  # the chain's input is set to this RMS level before its gain stage
BLOCK = 32  # compressor envelope resolution in samples
KNEE_DB = 6.0
FADE_IN_SECONDS = 0.01


@dataclass(frozen=True)
class Production:
    """The chain's settings for one clip (all recorded in the manifest row)."""

    reverb_room: float
    reverb_damp: float
    stereo_width: float  # 0: every part centred, 1: widest pans and reverb
    eq_tilt_db_per_octave: float  # around 1 kHz, capped at +-6 dB
    highpass_hz: float
    lowpass_hz: float | None  # None: open up to Nyquist
    gain_db: float  # into the compressor
    comp_threshold_db: float
    comp_ratio: float
    comp_attack_ms: float
    comp_release_ms: float
    noise_db: float  # noise floor relative to the music's RMS

    def attributes(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def stage(self, piece: Piece, rng: np.random.Generator) -> Stage:
        """Fluidsynth reverb and per-role pans: bass and drums centred, lead and comp on opposite sides."""
        side = 1 if rng.random() < 0.5 else -1
        spread = {"lead": -side * float(rng.uniform(0.1, 0.4)), "comp": side * float(rng.uniform(0.3, 0.7))}
        pans = {p.role: int(round(64 + 63 * self.stereo_width * spread.get(p.role, 0.0))) for p in piece.parts}
        return Stage(self.reverb_room, self.reverb_damp, 0.2 + 0.8 * self.stereo_width, pans)


def draw_production(rng: np.random.Generator, piece: Piece, sample_rate: int) -> Production:
    """Settings drawn from the clip's production stream; the room follows the style's reverb amount."""
    lowpass = float(np.exp(rng.uniform(np.log(5000), np.log(16000))))
    return Production(
        reverb_room=float(np.clip(0.2 + 0.75 * piece.reverb + rng.uniform(-0.15, 0.15), 0.05, 0.95)),
        reverb_damp=float(rng.uniform(0.2, 0.7)),
        stereo_width=float(rng.uniform(0.2, 1.0)),
        eq_tilt_db_per_octave=float(rng.uniform(-1.5, 1.5)),
        highpass_hz=float(np.exp(rng.uniform(np.log(25), np.log(90)))),
        lowpass_hz=lowpass if lowpass < 0.9 * sample_rate / 2 else None,
        gain_db=float(rng.uniform(-3.0, 6.0)),
        comp_threshold_db=float(rng.uniform(-26.0, -14.0)),
        comp_ratio=float(rng.uniform(1.5, 4.0)),
        comp_attack_ms=float(rng.uniform(3.0, 30.0)),
        comp_release_ms=float(rng.uniform(60.0, 300.0)),
        noise_db=float(rng.uniform(-75.0, -55.0)))


def apply_mix(audio: np.ndarray, p: Production, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """The mono mix through EQ/band-limit, gain + compressor, fade-in and noise floor (float64)."""
    x = equalize(audio.astype(np.float64), p, sample_rate)
    rms = float(np.sqrt(np.mean(x ** 2)))
    if not rms > 1e-9:
        return x
    x *= 10 ** ((WORK_RMS_DB + p.gain_db) / 20) / rms
    x = compress(x, p, sample_rate)
    fade = min(len(x), round(FADE_IN_SECONDS * sample_rate))
    x[:fade] *= np.linspace(0.0, 1.0, fade)
    return x + pink_noise(len(x), rng) * float(np.sqrt(np.mean(x ** 2))) * 10 ** (p.noise_db / 20)


def eq_gain(freqs: np.ndarray, p: Production) -> np.ndarray:
    """Magnitude response: tilt around 1 kHz (+-6 dB at most), 2nd-order high-pass, 4th-order low-pass."""
    f = np.maximum(freqs, 1.0)
    tilt = np.clip(p.eq_tilt_db_per_octave * np.log2(f / 1000.0), -6.0, 6.0)
    g = 10 ** (tilt / 20) / np.sqrt(1 + (p.highpass_hz / f) ** 4)
    if p.lowpass_hz:
        g = g / np.sqrt(1 + (f / p.lowpass_hz) ** 8)
    g[freqs == 0] = 0.0
    return g


def equalize(x: np.ndarray, p: Production, sample_rate: int) -> np.ndarray:
    """Zero-phase filtering by ``eq_gain`` in one FFT, padded so the ends do not wrap around."""
    pad = sample_rate // 4
    n = len(x) + 2 * pad
    spec = np.fft.rfft(np.pad(x, pad), n)
    y = np.fft.irfft(spec * eq_gain(np.fft.rfftfreq(n, 1 / sample_rate), p), n)
    return y[pad:pad + len(x)]


def compress(x: np.ndarray, p: Production, sample_rate: int) -> np.ndarray:
    """Feed-forward soft-knee compressor on a block RMS envelope with attack/release smoothing of the gain."""
    nb = -(-len(x) // BLOCK)
    blocks = np.pad(x, (0, nb * BLOCK - len(x))).reshape(nb, BLOCK)
    level = 10 * np.log10(np.mean(blocks ** 2, axis=1) + 1e-12)
    over = level - p.comp_threshold_db
    knee = np.where(over <= -KNEE_DB / 2, 0.0,
                    np.where(over >= KNEE_DB / 2, over, (over + KNEE_DB / 2) ** 2 / (2 * KNEE_DB)))
    target = -knee * (1 - 1 / p.comp_ratio)  # gain reduction in dB (<= 0)
    block_s = BLOCK / sample_rate
    attack = 1 - np.exp(-block_s / (p.comp_attack_ms / 1000))
    release = 1 - np.exp(-block_s / (p.comp_release_ms / 1000))
    gain = np.empty(nb)
    g = 0.0
    for i, t in enumerate(target.tolist()):
        g += (t - g) * (attack if t < g else release)
        gain[i] = g
    centres = (np.arange(nb) + 0.5) * BLOCK
    per_sample = np.interp(np.arange(len(x)), centres, gain)
    return x * 10 ** (per_sample / 20)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with a 1/f power spectrum (a soft hiss rather than white noise)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0.0
    y = np.fft.irfft(spec, n)
    return y / (float(np.sqrt(np.mean(y ** 2))) + 1e-12)
