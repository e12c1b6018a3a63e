"""The recording-chain augmentation: seeded, each effect does what it says, chroma rows untouched, p=0 a no-op."""

from __future__ import annotations

import math

import pytest
import torch

from muscall import augment as A
from muscall.audio.features import LogMel
from muscall.config import AugmentConfig, ChainConfig, load_config


def _rows(chroma: bool) -> tuple[torch.Tensor, object]:
    cfg = load_config("tiny", [f"audio.chroma_n_fft={4096 if chroma else 0}"]).audio
    t = torch.arange(8000) / 16000
    waves = torch.stack([0.3 * torch.sin(2 * math.pi * f * t) + 0.01 * torch.randn(t.shape, generator=_gen(f))
                         for f in (220, 440, 1000, 3000)])
    return LogMel.from_config(cfg)(waves), cfg


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def test_chain_is_seeded_and_leaves_chroma_rows_alone():
    rows, cfg = _rows(chroma=True)
    pipe = A.AugmentPipeline(cfg, AugmentConfig(chain=ChainConfig(p=1.0)))
    first, again, other = pipe.chain(rows, _gen(5)), pipe.chain(rows, _gen(5)), pipe.chain(rows, _gen(6))
    assert first.shape == rows.shape and torch.isfinite(first).all()
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not torch.equal(first[:, :cfg.n_mels], rows[:, :cfg.n_mels])
    assert torch.equal(first[:, cfg.n_mels:], rows[:, cfg.n_mels:])
    off = A.AugmentPipeline(cfg, AugmentConfig(chain=ChainConfig(p=0.0)))
    assert torch.equal(off.chain(rows, _gen(5)), rows)


def test_tilt_is_a_linear_db_ramp():
    mel, _ = _rows(chroma=False)
    out = A.tilt_mel(mel, _gen(0), 1.0, 6.0, 6.0)
    diff = (out - mel)[:, :, 0]
    assert torch.allclose(diff[:, -1] - diff[:, 0], torch.full((4,), 6.0), atol=1e-4)
    assert torch.allclose(diff[:, 1:] - diff[:, :-1], torch.full_like(diff[:, 1:], 6.0 / (mel.shape[1] - 1)), atol=1e-4)


def test_band_limit_floors_the_bands_above_the_cutoff():
    mel, _ = _rows(chroma=False)
    out = A.band_limit_mel(mel, _gen(0), 1.0, 0.5, 0.5)
    half = mel.shape[1] // 2
    assert torch.equal(out[:, :half], mel[:, :half])
    assert torch.equal(out[:, half:], mel.amin(dim=(1, 2), keepdim=True).expand_as(out[:, half:]))


def test_noise_floor_raises_quiet_bins_and_keeps_loud_ones():
    mel, _ = _rows(chroma=False)
    out = A.noise_floor_mel(mel, _gen(0), 1.0, -40.0, -40.0)
    assert (out >= mel - 1e-4).all()
    floor = (mel.amax(dim=(1, 2)) - 40.0)[:, None, None].expand_as(mel)
    quiet, loud = mel < floor - 20.0, mel > floor + 20.0
    assert quiet.any() and loud.any()
    assert (out[quiet] - floor[quiet]).median().abs() < 3.0  # quiet bins sit on the floor (chi-square spread)
    assert (out[loud] - mel[loud]).abs().max() < 0.1


def test_reverb_smear_adds_a_decaying_tail_after_an_impulse():
    silence = torch.full((1, 3, 40), -120.0)
    mel = silence.clone()
    mel[:, :, 10] = 0.0  # one loud frame

    def smear(x: torch.Tensor) -> torch.Tensor:
        return A.reverb_smear_mel(x, _gen(0), frame_rate=31.25, p=1.0, seconds=(0.5, 0.5), wet=(0.5, 0.5))

    out = smear(mel)
    assert torch.equal(out[:, :, :10], smear(silence)[:, :, :10])  # causal: nothing before the impulse moves
    assert out[0, 0, 10].item() == pytest.approx(0.0, abs=1e-4)
    tail = out[0, 0, 11:20]
    assert tail[0].item() == pytest.approx(10 * math.log10(0.5) - 60 / (0.5 * 31.25), abs=1e-3)
    assert (tail[1:] < tail[:-1]).all() and (tail > -100.0).all()
