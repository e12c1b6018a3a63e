"""LogMel against an independent numpy reference written here (own window, STFT, filterbank, dB)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from muscall.audio.decode import decode
from muscall.audio.features import (FEATURE_FIELDS, LogMel, MelFrontEnd, chroma_filterbank, feature_config_hash,
                                    hz_to_mel, mel_filterbank)
from muscall.audio.windows import num_frames
from muscall.config import load_config
from muscall.errors import MuscallError


# ---- the reference: plain numpy, no code shared with muscall.audio.features ----

def ref_filterbank(sr: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Triangles built point by point with np.interp between HTK-mel-spaced corner frequencies."""
    mel_lo, mel_hi = 2595 * np.log10(1 + f_min / 700), 2595 * np.log10(1 + f_max / 700)
    mels = mel_lo + (mel_hi - mel_lo) * np.arange(n_mels + 2) / (n_mels + 1)
    corners = 700 * (np.power(10.0, mels / 2595) - 1)
    freqs = np.arange(n_fft // 2 + 1) * (sr / 2) / (n_fft // 2)
    return np.stack([np.interp(freqs, corners[m:m + 3], [0.0, 1.0, 0.0], left=0.0, right=0.0)
                     for m in range(n_mels)])


def ref_mel_power(x: np.ndarray, sr: int, n_fft: int, hop: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Periodic Hann, reflect-padded centred frames, rfft, |.|^2, mel projection (float64)."""
    n = np.arange(n_fft)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    padded = np.pad(x.astype(np.float64), n_fft // 2, mode="reflect")
    n_frames = 1 + len(x) // hop
    frames = np.stack([padded[t * hop: t * hop + n_fft] for t in range(n_frames)])
    power = np.abs(np.fft.rfft(frames * hann, axis=1)) ** 2  # (frames, bins)
    return ref_filterbank(sr, n_fft, n_mels, f_min, f_max) @ power.T  # (n_mels, frames)


def ref_db(mel_power: np.ndarray, top_db: float) -> np.ndarray:
    db = 10 * np.log10(np.maximum(mel_power, 1e-10))
    return np.maximum(db, db.max() - top_db)


def test_signal(sr: int = 16000, seconds: float = 1.3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 2500 * t) + 0.05 * rng.standard_normal(t.size)
    return x.astype(np.float32)


test_signal.__test__ = False  # a helper, not a test
MEL_ONLY = ["audio.chroma_n_fft=0"]  # `tiny` has chroma rows; these tests are about the mel rows


# ---- tests ----

@pytest.mark.parametrize("name", ["tiny", "small", "paper"])
def test_filterbank_matches_reference(name):
    a = load_config(name).audio
    ours = mel_filterbank(a.sample_rate, a.n_fft, a.n_mels, a.f_min, a.f_max)
    assert ours.shape == (a.n_mels, a.n_fft // 2 + 1)
    np.testing.assert_allclose(ours, ref_filterbank(a.sample_rate, a.n_fft, a.n_mels, a.f_min, a.f_max), atol=1e-9)


def test_htk_mel_scale_anchor():
    # The HTK scale is defined so that 1000 Hz is (almost exactly) 1000 mel.
    assert abs(float(hz_to_mel(1000.0)) - 1000.0) < 0.1


@pytest.mark.parametrize("name", ["tiny", "small", "paper"])
def test_logmel_matches_numpy_reference(name):
    """Compared twice: mel power to 1e-4 relative error (entries within 80 dB of the peak), and dB to 1e-3 dB."""
    a = load_config(name).audio
    x = test_signal(a.sample_rate)
    module = LogMel.from_config(a)
    ref = ref_mel_power(x, a.sample_rate, a.n_fft, a.hop_length, a.n_mels, a.f_min, a.f_max)
    ours = module.mel_power(torch.from_numpy(x)).numpy()
    assert ours.shape == ref.shape == (a.n_mels, num_frames(len(x), a.hop_length))
    kept = ref > ref.max() * 1e-8  # what top_db=80 keeps; below it float32 rounding dominates
    assert kept.mean() > 0.9
    rel = np.abs(ours - ref)[kept] / ref[kept]
    assert rel.max() < 1e-4, f"max relative error {rel.max():.2e}"
    db = module(torch.from_numpy(x)).numpy()
    assert db.dtype == np.float32 and db.shape[0] == a.feature_rows  # chroma rows, if any, come after the mels
    np.testing.assert_allclose(db[: a.n_mels], ref_db(ref, a.top_db), atol=1e-3, rtol=0)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 3100.0, 6500.0])
def test_sine_peaks_in_the_mel_band_containing_it(freq):
    a = load_config("paper").audio
    sr = a.sample_rate
    t = np.arange(2 * sr) / sr
    x = torch.from_numpy((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32))
    mel = LogMel.from_config(a)(x).mean(dim=-1).numpy()
    peak = int(mel.argmax())
    edges = 700 * (10 ** (np.linspace(hz_to_mel(a.f_min), hz_to_mel(a.f_max), a.n_mels + 2) / 2595) - 1)
    assert edges[peak] < freq < edges[peak + 2], f"{freq} Hz peaked in band {edges[peak]:.0f}-{edges[peak + 2]:.0f}"


def test_batch_shapes_and_per_example_top_db():
    a = load_config("tiny", MEL_ONLY).audio
    module = LogMel.from_config(a)
    loud, quiet = test_signal(seed=1), test_signal(seed=2) * 1e-3
    batch = module(torch.from_numpy(np.stack([loud, quiet])).double())  # float64 input is accepted
    assert batch.shape == (2, a.n_mels, num_frames(len(loud), a.hop_length)) and batch.dtype == torch.float32
    alone = module(torch.from_numpy(quiet))
    np.testing.assert_allclose(batch[1].numpy(), alone.numpy(), rtol=1e-6, atol=1e-5)  # the loud example does not set the quiet one's floor
    assert float(batch[1].min()) < float(batch[0].max()) - a.top_db  # a batch-wide max would have clipped it


def test_top_db_clips_to_max_minus_top_db():
    a = load_config("tiny", ["audio.top_db=20.0", *MEL_ONLY]).audio
    x = test_signal()
    db = LogMel.from_config(a)(torch.from_numpy(x)).numpy()
    assert db.min() == pytest.approx(db.max() - 20.0, abs=1e-4)
    assert (db == db.min()).mean() > 0.05  # clipping happened on a real share of the cells
    ref = ref_mel_power(x, a.sample_rate, a.n_fft, a.hop_length, a.n_mels, a.f_min, a.f_max)
    np.testing.assert_allclose(db, ref_db(ref, 20.0), atol=1e-3, rtol=0)


def test_power_one_uses_20_log10():
    a = load_config("tiny").audio
    x = torch.from_numpy(test_signal())
    mag = LogMel(a.sample_rate, a.n_fft, a.hop_length, a.n_mels, a.f_min, a.f_max, power=1.0, top_db=None)
    mel = mag.mel_power(x)
    np.testing.assert_allclose(mag(x).numpy(), (20 * torch.log10(mel.clamp(min=1e-10))).numpy(), rtol=1e-6)


def test_f_max_above_nyquist_is_refused():
    cfg = load_config("tiny").audio
    cfg.f_max = 9000.0  # load_config refuses it too; the front end must refuse it on its own
    with pytest.raises(MuscallError, match="above Nyquist"):
        LogMel.from_config(cfg)
    with pytest.raises(MuscallError, match="f_min"):
        mel_filterbank(16000, 512, 32, f_min=5000.0, f_max=4000.0)


def test_too_short_input_is_refused():
    module = LogMel.from_config(load_config("tiny").audio)
    with pytest.raises(MuscallError, match="too short"):
        module(torch.zeros(module.n_fft // 2))


def test_config_hash_tracks_feature_settings_only():
    base = load_config("tiny").audio
    assert feature_config_hash(base) == feature_config_hash(load_config("tiny", ["audio.clip_seconds=3.0"]).audio)
    assert feature_config_hash(base) != feature_config_hash(load_config("tiny", ["audio.n_mels=40"]).audio)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    module = LogMel.from_config(load_config("small").audio)
    x = torch.from_numpy(np.stack([test_signal(seed=3), test_signal(seed=4)]))
    np.testing.assert_allclose(module.cuda()(x.cuda()).cpu().numpy(), module.cpu()(x).numpy(), atol=1e-3, rtol=0)


# ---- chroma rows ----

def _chord(freqs: list[float], sr: int = 16000, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(sr * seconds)) / sr
    return sum(0.2 * torch.sin(2 * torch.pi * f * t) for f in freqs)


def test_chroma_filterbank_folds_each_bin_onto_its_nearest_semitone():
    fb = chroma_filterbank(16000, 4096)
    hz_per_bin = 16000 / 4096
    a4 = round(440.0 / hz_per_bin)  # bin 113 = 441.4 Hz, 0.055 semitone above A4
    assert fb[:, a4].argmax() == 9 and fb[9, a4] == pytest.approx(1 - 2 * abs(12 * np.log2(a4 * hz_per_bin / 440)))
    assert fb[:, : round(90 / hz_per_bin)].sum() == 0 and fb[:, round(4100 / hz_per_bin):].sum() == 0
    assert (fb > 0).sum(axis=0).max() == 1  # a bin counts towards one pitch class at most


def test_chroma_rows_follow_the_mel_rows_and_name_the_chord():
    cfg = load_config("tiny", ["audio.chroma_n_fft=4096"]).audio
    module = LogMel.from_config(cfg)
    plain = LogMel.from_config(load_config("tiny", ["audio.chroma_n_fft=0"]).audio)
    wave = _chord([261.63, 329.63, 392.00])  # C major: C, E, G
    out = module(wave)
    assert out.shape == (cfg.n_mels + 12, num_frames(wave.numel(), cfg.hop_length)) and cfg.feature_rows == out.shape[0]
    torch.testing.assert_close(out[: cfg.n_mels], plain(wave))
    loudest = set(out[cfg.n_mels:].mean(dim=-1).topk(3).indices.tolist())
    assert loudest == {0, 4, 7}
    batch = module(torch.stack([wave, _chord([440.0])]))
    torch.testing.assert_close(batch[0], out)  # per-example top_db, as for the mel rows


def test_config_hash_changes_with_chroma_only_when_it_is_on():
    base = load_config("tiny", ["audio.chroma_n_fft=0"]).audio
    fields = {k: getattr(base, k) for k in FEATURE_FIELDS}  # the hash of a config without chroma is what it was
    assert feature_config_hash(base) == hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    assert feature_config_hash(base) != feature_config_hash(load_config("tiny", ["audio.chroma_n_fft=4096"]).audio)


def test_front_end_is_decode_then_logmel_for_files_and_bytes(tone):
    cfg = load_config("tiny").audio
    path = tone("clip.flac", seconds=1.5, sr=22050, channels=2)
    with torch.no_grad():
        reference = LogMel.from_config(cfg)(torch.from_numpy(decode(path, cfg))).numpy()
    np.testing.assert_array_equal(MelFrontEnd(cfg)(path), reference)
    np.testing.assert_array_equal(MelFrontEnd(cfg)(path.read_bytes(), name="clip.flac"), reference)
    first_second = MelFrontEnd(cfg, max_seconds=1.0)(path)
    assert first_second.shape == (cfg.feature_rows, num_frames(cfg.sample_rate, cfg.hop_length))
