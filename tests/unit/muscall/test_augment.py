"""Log-mel augmentations: deterministic per seed, change the input when applied, leave it alone when p=0."""

from __future__ import annotations

import math

import pytest
import torch

from muscall import augment as A
from muscall.audio.features import LogMel
from muscall.config import AugmentConfig, MaskConfig, load_config
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


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _all_calls(centres):
    return {
        "gain_mel": lambda x, g, p: A.gain_mel(x, g, p),
        "noise_mel": lambda x, g, p: A.add_noise_mel(x, g, centres, p),
        "pitch": lambda x, g, p: A.pitch_shift_mel(x, g, centres, p),
        "time_mask": lambda x, g, p: A.time_mask(x, g, p, max_fraction=0.3),
        "freq_mask": lambda x, g, p: A.freq_mask(x, g, p, max_fraction=0.3),
    }


@pytest.mark.parametrize("name", ["gain_mel", "noise_mel", "pitch", "time_mask", "freq_mask"])
def test_each_augmentation_is_seeded_and_changes_input(name, audio_cfg, logmel):
    centres = A.mel_centres_hz(audio_cfg.n_mels, SR, audio_cfg.f_min, audio_cfg.f_max)
    fn = _all_calls(centres)[name]
    x = _mel(logmel)
    first = fn(x, _gen(3), 1.0)
    again = fn(x, _gen(3), 1.0)
    other = fn(x, _gen(4), 1.0)
    assert first.shape == x.shape and torch.isfinite(first).all()
    assert torch.equal(first, again)
    assert not torch.equal(first, x)
    assert not torch.equal(first, other)
    assert torch.equal(fn(x, _gen(3), 0.0), x)


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
    out = A.time_mask(mel, _gen(0), 1.0, max_fraction=0.2, n_masks=2)
    masked = (out != mel).any(dim=1)  # (B, frames)
    assert masked.any()
    assert (masked.sum(dim=1) <= 2 * int(0.2 * mel.shape[-1])).all()
    b, t = masked.nonzero()[0]
    assert torch.allclose(out[b, :, t], mel[b].mean().expand(mel.shape[1]))


def test_pipeline_views_are_seeded_distinct_and_shaped(audio_cfg, logmel):
    pipe = A.AugmentPipeline(audio_cfg, AugmentConfig())
    m = _mel(logmel)
    gen = _gen(6)
    c1, c2 = pipe.mel(m, gen, level_and_noise=True), pipe.mel(m, gen, level_and_noise=True)
    assert torch.equal(c1, pipe.mel(m, _gen(6), level_and_noise=True))
    assert c1.shape == m.shape and not torch.equal(c1, c2) and not torch.equal(c1, m)


def test_pipeline_config_errors(audio_cfg, logmel):
    with pytest.raises(MuscallError, match="p_noise"):
        A.AugmentPipeline(audio_cfg, AugmentConfig(p_noise=1.5))
    with pytest.raises(MuscallError, match="colour"):
        A.AugmentPipeline(audio_cfg, AugmentConfig(noise_colors=["blue"]))
    centres = A.mel_centres_hz(audio_cfg.n_mels, SR, audio_cfg.f_min, audio_cfg.f_max)
    with pytest.raises(MuscallError, match="colour"):
        A.add_noise_mel(_mel(logmel), _gen(0), centres, colors=("blue",))


def test_chroma_rows_pass_through_the_mel_augmentations():
    cfg = load_config("tiny", ["audio.chroma_n_fft=4096"]).audio
    rows = LogMel.from_config(cfg)(_tones([220.0, 440.0, 1000.0, 3000.0]))
    masks = {"time_mask": MaskConfig(p=1.0, max_fraction=0.1), "freq_mask": MaskConfig(p=1.0, max_fraction=0.15)}
    pipe = A.AugmentPipeline(cfg, AugmentConfig(p_pitch_shift=1.0, **masks))
    view = pipe.mel(rows, _gen(1), level_and_noise=True)
    assert view.shape == rows.shape
    assert not torch.equal(view[:, : cfg.n_mels], rows[:, : cfg.n_mels])
    assert torch.equal(view[:, cfg.n_mels:], rows[:, cfg.n_mels:])
    with pytest.raises(MuscallError, match="rows"):
        pipe.mel(rows[:, : cfg.n_mels], _gen(1))
