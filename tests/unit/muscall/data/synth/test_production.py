"""Performance variation and the production chain: seeded, recorded, musical in amount, audible in effect."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from muscall.data.synth.clips import SynthSettings, synth_clip
from muscall.data.synth.compose import compose
from muscall.data.synth.performance import (PREROLL_SECONDS, Performance, draw_performance, perform, render_window,
                                            score_seconds)
from muscall.data.synth.production import Production, apply_mix, compress, draw_production, eq_gain
from muscall.data.synth.render import SoundfontBank
from muscall.data.synth.styles import STYLES

SR = 16000
FLAT = Production(reverb_room=0.5, reverb_damp=0.4, stereo_width=0.5, eq_tilt_db_per_octave=0.0, highpass_hz=30.0,
                  lowpass_hz=None, gain_db=0.0, comp_threshold_db=-20.0, comp_ratio=1.0, comp_attack_ms=10.0,
                  comp_release_ms=100.0, noise_db=-120.0)
STILL = Performance(timing_ms=0.0, velocity_sd=0.0, swing=0.5, tempo_drift=0.0, drift_period_s=10.0,
                    drift_phase=0.0, start_offset_s=PREROLL_SECONDS)


def tone(freqs: tuple[float, ...], seconds: float = 1.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return sum(np.sin(2 * np.pi * f * t) for f in freqs) * 0.1


def test_eq_tilt_and_band_limits_shape_the_spectrum():
    f = np.array([0.0, 20.0, 125.0, 1000.0, 8000.0])
    flat = eq_gain(f, FLAT)
    assert flat[0] == 0 and flat[1] < 0.5 and abs(flat[3] - 1) < 1e-3
    bright = eq_gain(f, dataclasses.replace(FLAT, eq_tilt_db_per_octave=1.0))
    assert 20 * np.log10(bright[4]) == pytest.approx(3.0, abs=0.05)  # +1 dB/octave, 3 octaves above 1 kHz
    assert 20 * np.log10(bright[2]) < -2.9
    dull = eq_gain(f, dataclasses.replace(FLAT, lowpass_hz=4000.0))
    assert dull[4] < 0.1 and abs(dull[3] - 1) < 0.01


def test_compressor_evens_out_a_loud_and_a_quiet_passage():
    x = np.concatenate([tone((440,)) * 10.0, tone((440,)) * 0.1])  # -3 and -43 dBFS RMS
    y = compress(x, dataclasses.replace(FLAT, comp_ratio=4.0), SR)
    loud, quiet = slice(SR // 2, SR), slice(3 * SR // 2, 2 * SR)
    before = 20 * np.log10(np.std(x[loud]) / np.std(x[quiet]))
    after = 20 * np.log10(np.std(y[loud]) / np.std(y[quiet]))
    assert before - after == pytest.approx(17 * (1 - 1 / 4), abs=0.5)  # 17 dB over the threshold at ratio 4
    tail = slice(7 * SR // 4, 2 * SR)
    assert np.allclose(y[tail], x[tail], rtol=1e-2, atol=1e-6)  # below the threshold, released: untouched


def test_chain_keeps_the_music_and_adds_a_quiet_noise_floor():
    x = tone((220, 440, 880), 2.0)
    clean = apply_mix(x, FLAT, SR, np.random.default_rng(0))
    noisy = apply_mix(x, dataclasses.replace(FLAT, noise_db=-40.0), SR, np.random.default_rng(0))
    residual = noisy - clean
    assert 20 * np.log10(np.std(residual) / np.std(clean)) == pytest.approx(-40.0, abs=0.5)
    assert np.corrcoef(clean[SR // 10:], x[SR // 10:])[0, 1] > 0.99  # flat settings: the same music
    assert abs(clean[0]) < 1e-6  # faded in: the clip starts mid-piece without a click
    assert np.array_equal(noisy, apply_mix(x, dataclasses.replace(FLAT, noise_db=-40.0), SR,
                                           np.random.default_rng(0)))


def test_drawn_settings_stay_in_musical_ranges():
    piece = compose(STYLES["rock"], np.random.default_rng(0), 4.0)
    for seed in range(200):
        p = draw_production(np.random.default_rng(seed), piece, SR)
        assert -1.5 <= p.eq_tilt_db_per_octave <= 1.5 and 25 <= p.highpass_hz <= 90
        assert p.lowpass_hz is None or 5000 <= p.lowpass_hz < 0.9 * SR / 2
        assert 1.5 <= p.comp_ratio <= 4 and -75 <= p.noise_db <= -55 and 0.2 <= p.stereo_width <= 1
        perf = draw_performance(STYLES["rock"], np.random.default_rng(seed))
        assert perf.tempo_drift <= 0.03 and 0.5 <= perf.swing <= 0.54 and 1 <= perf.start_offset_s <= 7
    stage = dataclasses.replace(p, stereo_width=0.0).stage(piece, np.random.default_rng(0))
    assert set(stage.pans.values()) == {64}  # no width: every part centred
    wide = dataclasses.replace(p, stereo_width=1.0).stage(piece, np.random.default_rng(0))
    assert wide.pans["bass"] == 64 and (wide.pans["lead"] - 64) * (wide.pans["comp"] - 64) < 0


def test_performance_moves_the_notes_musically():
    style = STYLES["rock"]
    piece = compose(style, np.random.default_rng(3), 12.0)
    still = perform(piece, STILL, style, np.random.default_rng(0), 8.0)
    assert [n.start for n in still.parts[0].notes if n.start > 0] == \
        [n.start for n in piece.parts[0].notes if 0 < n.start < 8.0]  # no variation, no offset: unchanged
    late = dataclasses.replace(STILL, start_offset_s=PREROLL_SECONDS + 2.5)
    moved = perform(piece, late, style, np.random.default_rng(0), 8.0)
    assert render_window(late) == (2.5, PREROLL_SECONDS)
    assert moved.parts[0].notes[-1].start == pytest.approx(
        max(n.start for n in piece.parts[0].notes if n.start < 10.5) - 2.5)
    loose = dataclasses.replace(late, timing_ms=10.0, velocity_sd=5.0, swing=0.54, tempo_drift=0.03)
    a = perform(piece, loose, style, np.random.default_rng(0), 8.0)
    assert a == perform(piece, loose, style, np.random.default_rng(0), 8.0)
    for part, ref in zip(a.parts, moved.parts):
        starts = [n.start for n in part.notes]
        assert min(starts) >= 0 and max(starts) < 8.0
        assert all(1 <= n.velocity <= 127 and n.end > n.start for n in part.notes)
        assert len(part.notes) == pytest.approx(len(ref.notes), abs=3)
    drift = np.array([n.start for n in a.parts[0].notes[:20]]) - [n.start for n in moved.parts[0].notes[:20]]
    assert 0 < np.abs(drift).max() < 0.3  # a few percent of tempo over seconds: tens of ms, not beats
    assert score_seconds(loose, 10.0) > loose.start_offset_s + 10.0


@pytest.fixture(scope="module")
def bank(soundfont):
    b = SoundfontBank((f"gm={soundfont}",), SR)
    yield b
    b.close()


def test_production_is_recorded_seeded_and_changes_the_audio(bank):
    produced = SynthSettings(n=4, seconds=2.0, seed=5, soundfonts=bank_fonts(bank))
    clean = dataclasses.replace(produced, production="none")
    pcm, row = synth_clip(1, produced, bank)
    again, row2 = synth_clip(1, produced, bank)
    assert np.array_equal(pcm, again) and row == row2  # same seed, same audio and row
    plain, plain_row = synth_clip(1, clean, bank)
    assert plain_row.attributes["production"] == {"preset": "none"}
    prod = row.attributes["production"]
    assert prod["preset"] == "default" and {"eq_tilt_db_per_octave", "comp_ratio", "noise_db", "stereo_width",
                                            "reverb_room", "timing_ms", "swing", "tempo_drift",
                                            "start_offset_s", "pans"} <= set(prod)
    assert row.attributes["genre"] == plain_row.attributes["genre"] and len(pcm) == len(plain) == 2 * SR
    assert not np.array_equal(pcm, plain)
    other, other_row = synth_clip(1, dataclasses.replace(produced, seed=6), bank)
    assert other_row.attributes["production"] != prod and not np.array_equal(other, pcm)


def bank_fonts(bank: SoundfontBank) -> tuple[str, ...]:
    return tuple(f"{k}={v}" for k, v in bank.paths.items())
