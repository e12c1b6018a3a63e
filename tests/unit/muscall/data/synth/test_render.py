"""Rendering through fluidsynth: determinism, levels, audible style differences, soundfont discovery."""

from __future__ import annotations


import numpy as np
import pytest

from muscall.data.synth.compose import compose
from muscall.data.synth.render import PEAK_CEILING, find_soundfont, finish
from muscall.data.synth.styles import STYLES
from muscall.errors import MuscallError

SR = 16000


def spectra(x: np.ndarray, n: int = 512, hop: int = 256, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectrogram (frames x bins) and bin frequencies."""
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop] * np.hanning(n)
    return np.abs(np.fft.rfft(frames, axis=1)), np.fft.rfftfreq(n, 1 / sr)


def spectral_flux(x: np.ndarray) -> float:
    """Mean positive frame-to-frame magnitude change relative to the mean frame magnitude (onset density)."""
    s, _ = spectra(x)
    return float(np.maximum(s[1:] - s[:-1], 0).sum(1).mean() / s.sum(1).mean())


def centroid(x: np.ndarray) -> float:
    """Median over frames of the magnitude-weighted spectral centroid, Hz."""
    s, f = spectra(x)
    return float(np.median((s * f).sum(1) / (s.sum(1) + 1e-12)))


def render(renderer, genre: str, seed: int, seconds: float = 3.0) -> np.ndarray:
    piece = compose(STYLES[genre], np.random.default_rng(seed), seconds)
    return renderer.render(piece, seconds)


def test_clip_does_not_depend_on_the_clip_before(renderer):
    first = render(renderer, "jazz", 1)
    render(renderer, "metal", 7)  # a loud, reverberant, many-voiced predecessor
    render(renderer, "ambient", 3)
    again = render(renderer, "jazz", 1)
    assert first.dtype == np.float32 and len(first) == 3 * SR
    assert np.array_equal(first, again)


def test_finished_clip_is_audible_at_its_target_and_never_clips(renderer):
    for genre, target in (("metal", -10.0), ("ambient", -20.0), ("string quartet", -26.0)):
        pcm, level = finish(render(renderer, genre, 0), target, SR)
        assert pcm.dtype == np.int16 and len(pcm) == 3 * SR
        peak = np.abs(pcm.astype(np.float64)).max() / 32768
        assert peak <= PEAK_CEILING + 1e-4
        assert level <= target + 0.1
        assert level > -40, f"{genre} came out at {level} dBFS"
        assert level == pytest.approx(target, abs=0.2) or peak > PEAK_CEILING - 0.01  # reached target or peak-limited
        assert abs(pcm[-1]) < 50  # faded out, no click at the cut


def test_finish_rejects_silence():
    with pytest.raises(RuntimeError, match="silent"):
        finish(np.zeros(SR, dtype=np.float32), -20, SR)


def test_styles_differ_measurably(renderer):
    techno = [spectral_flux(render(renderer, "techno", s)) for s in range(3)]
    ambient = [spectral_flux(render(renderer, "ambient", s)) for s in range(3)]
    assert min(techno) > 1.5 * max(ambient), (techno, ambient)
    metal = [centroid(render(renderer, "metal", s)) for s in range(3)]
    quartet = [centroid(render(renderer, "string quartet", s)) for s in range(3)]
    assert min(metal) > max(quartet) + 200, (metal, quartet)


def test_bass_sits_in_the_low_register(renderer):
    """A bass-only rendering has most of its energy below 300 Hz."""
    piece = compose(STYLES["rock"], np.random.default_rng(0), 3.0)
    piece.parts = [p for p in piece.parts if p.role == "bass"]
    x = renderer.render(piece, 3.0)
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    assert spec[freqs < 300].sum() / spec.sum() > 0.6


def test_missing_soundfont_says_how_to_install_one(tmp_path, monkeypatch):
    from muscall.data.synth import soundfonts
    with pytest.raises(MuscallError, match="does not exist"):
        find_soundfont(tmp_path / "nope.sf2")
    gone = soundfonts.KnownSoundfont("fluidr3-gm", "fluid-soundfont-gm", tmp_path / "FluidR3_GM.sf2")
    monkeypatch.setitem(soundfonts.KNOWN, "fluidr3-gm", gone)
    with pytest.raises(MuscallError, match="make system-deps.*apt-get install fluid-soundfont-gm"):
        find_soundfont()
    (tmp_path / "FluidR3_GM.sf2").write_bytes(b"x")
    assert find_soundfont() == tmp_path / "FluidR3_GM.sf2"


def test_unloadable_soundfont_is_a_clear_error(tmp_path):
    from muscall.data.synth.render import Renderer
    bad = tmp_path / "broken.sf2"
    bad.write_bytes(b"not a soundfont")
    with pytest.raises(MuscallError, match="could not load soundfont"):
        Renderer(bad, SR)


def test_soundfont_without_the_gm_presets_is_refused():
    """FluidR3 GS (Debian's fluid-soundfont-gs) holds only GS sound effects: no clip could be rendered with it."""
    from pathlib import Path

    from muscall.data.synth.render import Renderer
    gs = Path("/usr/share/sounds/sf2/FluidR3_GS.sf2")
    if not gs.is_file():
        pytest.skip("fluid-soundfont-gs is not installed (apt-get install fluid-soundfont-gs)")
    with pytest.raises(MuscallError, match="lacks General MIDI presets.*program 0"):
        Renderer(gs, SR)
