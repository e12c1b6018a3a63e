"""Augmentations: deterministic per seed, change the input when applied, leave it alone when p=0."""

from __future__ import annotations

import math

import pytest
import torch

from muscall import augment as A
from muscall.audio.features import LogMel
from muscall.config import load_config
from muscall.errors import MuscallError

SR = 16000


@pytest.fixture(scope="module")
def audio_cfg():
    return load_config("tiny", ["audio.chroma_n_fft=0"]).audio  # mel rows only (chroma: the last test)


@pytest.fixture(scope="module")
def logmel(audio_cfg):
    return LogMel.from_config(audio_cfg)


def _tones(freqs: list[float], seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    return torch.stack([0.3 * torch.sin(2 * math.pi * f * t) for f in freqs])


def _mel(logmel) -> torch.Tensor:
    return logmel(_tones([220.0, 440.0, 1000.0, 3000.0]))


def _all_calls(centres):
    return {
        "gain": lambda x, g, p: A.gain(x, g, p),
        "polarity": lambda x, g, p: A.polarity_inversion(x, g, p),
        "noise": lambda x, g, p: A.add_noise(x, g, p),
        "gain_mel": lambda x, g, p: A.gain_mel(x, g, p),
        "noise_mel": lambda x, g, p: A.add_noise_mel(x, g, centres, p),
        "pitch": lambda x, g, p: A.pitch_shift_mel(x, g, centres, p),
        "time_mask": lambda x, g, p: A.time_mask(x, g, p, max_fraction=0.3),
        "freq_mask": lambda x, g, p: A.freq_mask(x, g, p, max_fraction=0.3),
    }


@pytest.mark.parametrize("name", ["gain", "polarity", "noise", "gain_mel", "noise_mel", "pitch", "time_mask",
                                  "freq_mask"])
def test_each_augmentation_is_seeded_and_changes_input(name, audio_cfg, logmel):
    centres = A.mel_centres_hz(audio_cfg.n_mels, SR, audio_cfg.f_min, audio_cfg.f_max)
    fn = _all_calls(centres)[name]
    x = _tones([220.0, 440.0, 1000.0, 3000.0]) if name in ("gain", "polarity", "noise") else _mel(logmel)
    first = fn(x, A.seeded_generator(3), 1.0)
    again = fn(x, A.seeded_generator(3), 1.0)
    other = fn(x, A.seeded_generator(4), 1.0)
    assert first.shape == x.shape and torch.isfinite(first).all()
    assert torch.equal(first, again)
    assert not torch.equal(first, x)
    if name != "polarity":  # polarity has only two outcomes per row; another seed may repeat them
        assert not torch.equal(first, other)
    assert torch.equal(fn(x, A.seeded_generator(3), 0.0), x)


def test_gain_stays_in_range():
    x = torch.ones(64, 10)
    out = A.gain(x, A.seeded_generator(0), 1.0, -6.0, 6.0)
    db = 20 * torch.log10(out[:, 0])
    assert db.min() >= -6.0 - 1e-4 and db.max() <= 6.0 + 1e-4 and db.std() > 1.0


def test_noise_hits_the_requested_snr():
    x = _tones([440.0, 1000.0, 2000.0])
    for color in ("white", "pink", "brown"):
        out = A.add_noise(x, A.seeded_generator(0), 1.0, 12.0, 12.0, colors=(color,))
        snr = 10 * torch.log10(x.pow(2).mean(-1) / (out - x).pow(2).mean(-1))
        assert torch.allclose(snr, torch.full((3,), 12.0), atol=1e-3)


def test_noise_colours_have_their_spectral_slopes():
    n = 1 << 14
    slopes = {}
    for color, exponent in A.NOISE_EXPONENTS.items():
        noise = A.coloured_noise(8, n, torch.full((8,), exponent), A.seeded_generator(1))
        psd = torch.fft.rfft(noise).abs().pow(2).mean(0)
        freqs = torch.fft.rfftfreq(n)
        band = (freqs > 0.001) & (freqs < 0.4)
        x, y = torch.log10(freqs[band]), torch.log10(psd[band])
        slopes[color] = (((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()).item()
    assert slopes["white"] == pytest.approx(0.0, abs=0.1)
    assert slopes["pink"] == pytest.approx(-1.0, abs=0.1)
    assert slopes["brown"] == pytest.approx(-2.0, abs=0.1)


def test_mel_pitch_warp_moves_a_tone_like_a_real_pitch_change():
    cfg = load_config("small", ["audio.chroma_n_fft=0"]).audio  # mel rows only
    logmel = LogMel.from_config(cfg)
    centres = A.mel_centres_hz(cfg.n_mels, SR, cfg.f_min, cfg.f_max)
    for freq in (330.0, 1500.0):
        base, up = logmel(_tones([freq, freq * 2 ** (4 / 12)], 1.0))
        warped = A.warp_mel_pitch(base[None], torch.tensor([4.0]), centres)[0]
        assert warped.mean(1).argmax() == up.mean(1).argmax() != base.mean(1).argmax()
        profiles = torch.stack([warped.mean(1), up.mean(1), base.mean(1)])  # time-averaged spectra
        corr = torch.corrcoef(profiles)
        assert corr[0, 1] > 0.85 and corr[0, 1] > corr[2, 1] + 0.1
    assert torch.allclose(A.warp_mel_pitch(base[None], torch.zeros(1), centres)[0], base, atol=1e-4)


def test_masks_fill_spans_with_the_mean(logmel):
    mel = _mel(logmel)
    out = A.time_mask(mel, A.seeded_generator(0), 1.0, max_fraction=0.2, n_masks=2)
    masked = (out != mel).any(dim=1)  # (B, frames)
    assert masked.any()
    assert (masked.sum(dim=1) <= 2 * int(0.2 * mel.shape[-1])).all()
    b, t = masked.nonzero()[0]
    assert torch.allclose(out[b, :, t], mel[b].mean().expand(mel.shape[1]))


def test_pipeline_views_are_seeded_distinct_and_shaped(audio_cfg, logmel):
    pipe = A.AugmentPipeline(audio_cfg, featurize=logmel)
    wave = _tones([220.0, 440.0, 1000.0, 3000.0])
    v1, v2 = pipe.two_views(wave, A.seeded_generator(5))
    w1, w2 = pipe.two_views(wave, A.seeded_generator(5))
    assert v1.shape == v2.shape == logmel(wave).shape
    assert torch.equal(v1, w1) and torch.equal(v2, w2) and not torch.equal(v1, v2)
    m = logmel(wave)
    c1, c2 = pipe.mel_views(m, A.seeded_generator(6))
    assert torch.equal(c1, pipe.mel_views(m, A.seeded_generator(6))[0])
    assert c1.shape == m.shape and not torch.equal(c1, c2) and not torch.equal(c1, m)


def test_pipeline_config_errors(audio_cfg, logmel):
    with pytest.raises(MuscallError, match="p_noise"):
        A.AugmentPipeline(audio_cfg, A.AugmentConfig(p_noise=1.5))
    with pytest.raises(MuscallError, match="featurize"):
        A.AugmentPipeline(audio_cfg)(torch.zeros(1, 4000), A.seeded_generator(0))
    with pytest.raises(MuscallError, match="colour"):
        A.add_noise(torch.zeros(1, 100), A.seeded_generator(0), colors=("blue",))


def test_chroma_rows_pass_through_the_mel_augmentations():
    cfg = load_config("tiny", ["audio.chroma_n_fft=4096"]).audio
    rows = LogMel.from_config(cfg)(_tones([220.0, 440.0, 1000.0, 3000.0]))
    pipe = A.AugmentPipeline(cfg, A.AugmentConfig(p_pitch_shift=1.0, p_freq_mask=1.0, p_time_mask=1.0))
    view = pipe.mel(rows, A.seeded_generator(1), level_and_noise=True)
    assert view.shape == rows.shape
    assert not torch.equal(view[:, : cfg.n_mels], rows[:, : cfg.n_mels])
    assert torch.equal(view[:, cfg.n_mels:], rows[:, cfg.n_mels:])
    with pytest.raises(MuscallError, match="rows"):
        pipe.mel(rows[:, : cfg.n_mels], A.seeded_generator(1))
