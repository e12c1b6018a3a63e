"""Signal features for the quality heads: alignment with the tower's frames and what each detector sees."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import signal as sps

from muscall.audio.features import LogMel
from muscall.audio.signal import NAMES, PITCH_CLASSES, SIGNAL_DIM, chunk_edges, signal_features

SR, HOP = 16000, 256
LOGMEL = LogMel(sample_rate=SR, n_fft=512, hop_length=HOP, n_mels=64, f_max=8000.0)


def _music(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    x = sum(0.1 / k * np.sin(2 * np.pi * 220 * k * t) for k in range(1, 30)) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    return (x + 1e-3 * rng.standard_normal(t.size)).astype(np.float32)


def _features(x: np.ndarray, chunks: int = 4) -> dict[str, float]:
    mel = LOGMEL(torch.from_numpy(x)).numpy()
    out = signal_features(mel, x, chunks, HOP)
    assert out.shape == (chunks, SIGNAL_DIM) and out.dtype == np.float32 and np.isfinite(out).all()
    return dict(zip(NAMES, out.mean(axis=0)))


def test_chunks_cover_every_frame_once():
    edges = chunk_edges(251, 7)
    assert edges[0] == 0 and edges[-1] == 251 and np.all(np.diff(edges) >= 35)
    with pytest.raises(ValueError):
        chunk_edges(3, 7)


def test_each_detector_moves_the_way_its_degradation_should():
    x = _music()
    clean = _features(x)
    clipped = _features(np.clip(x, -0.3 * np.abs(x).max(), 0.3 * np.abs(x).max()))
    assert clipped["peak_fraction"] > clean["peak_fraction"] + 1.0  # log10 of the fraction at the peak
    dropped = x.copy()
    dropped[SR // 2: SR // 2 + SR // 5] = 0.0
    assert _features(dropped)["zero_fraction"] > clean["zero_fraction"] + 1.0
    low = sps.sosfiltfilt(sps.butter(8, 2000, fs=SR, output="sos"), x).astype(np.float32)
    lowpassed = _features(low)
    assert lowpassed["bandwidth"] < clean["bandwidth"] - 0.2 and lowpassed["high_ratio"] < clean["high_ratio"] - 10
    noisy = _features(x + 0.05 * np.random.default_rng(1).standard_normal(x.size).astype(np.float32))
    assert noisy["band15_min"] > clean["band15_min"] + 10 and noisy["flatness"] > clean["flatness"]


def test_pitch_drift_hears_wow_and_flutter():
    from muscall.data.degrade.effects import wow_flutter

    x = _music(seconds=3.0)
    clean = _features(x)
    assert clean["drift_valid"] > 0.9  # a steady harmonic tone: peaks matched in nearly every frame
    for depth in (0.005, 0.02):
        wobbly = _features(wow_flutter(x, SR, depth, np.random.default_rng(0)))
        assert wobbly["drift_long"] > clean["drift_long"] + 0.5, depth  # log10 units
        assert wobbly["drift_coherent"] > clean["drift_coherent"] + 0.5, depth
    silent = _features(np.zeros(SR * 2, dtype=np.float32) + 1e-6 * np.random.default_rng(2).standard_normal(SR * 2)
                       .astype(np.float32))
    assert np.isfinite(silent["drift_long"])


def test_chunks_follow_time():
    x = _music()
    x[SR:] = 0.0  # second half silent: only the later chunks see it
    got = signal_features(LOGMEL(torch.from_numpy(x)).numpy(), x, 4, HOP)
    zeros = got[:, NAMES.index("zero_fraction")]
    assert zeros[0] < -3 and zeros[-1] > -0.5


def _chroma(x: np.ndarray) -> dict[str, float]:
    got = _features(x)
    return {n: got[f"chroma_{n}"] for n in PITCH_CLASSES}


def test_chroma_names_the_notes_played():
    t = np.arange(2 * SR) / SR
    tone = lambda hz: sum(0.2 / k * np.sin(2 * np.pi * hz * k * t) for k in range(1, 6))  # noqa: E731
    c_major = _chroma((tone(261.63) + tone(329.63) + tone(392.0)).astype(np.float32))
    assert sorted(c_major, key=c_major.get)[-3:] == sorted(["C", "E", "G"], key=c_major.get)
    assert abs(sum(c_major.values()) - 1.0) < 1e-4
    a_minor = _chroma((tone(220.0) + tone(261.63) + tone(329.63)).astype(np.float32))
    assert set(sorted(a_minor, key=a_minor.get)[-3:]) == {"A", "C", "E"}
    silent = _chroma(np.zeros(2 * SR, dtype=np.float32))
    assert np.allclose(list(silent.values()), 1 / 12)  # nothing played: uniform, not NaN


@pytest.mark.parametrize("bpm", [72, 100, 120, 170])
def test_tempo_profile_is_high_at_the_beat_and_low_at_faster_tempi(bpm):
    rng = np.random.default_rng(bpm)
    x = 1e-3 * rng.standard_normal(6 * SR + 400)
    for beat in np.arange(0.1, 6.0, 60.0 / bpm):  # a decaying noise click on every beat
        start = int(beat * SR)
        x[start:start + 400] += 0.5 * rng.standard_normal(400) * np.hanning(800)[400:]
    got = _features(x.astype(np.float32))
    profile = {tuple(float(v) for v in n.split("_")[1:]): float(got[n]) for n in NAMES if n.startswith("tempo_")}
    beat = next(v for (lo, hi), v in profile.items() if lo <= bpm <= hi)
    faster = [v for (lo, hi), v in profile.items() if lo > 1.15 * bpm]  # no beat there: half periods do not repeat
    assert beat > 0.8 and all(v < 0.5 for v in faster), (bpm, profile)
