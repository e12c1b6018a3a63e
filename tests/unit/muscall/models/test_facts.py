"""The fact branch: chroma statistics and onset autocorrelation, masked, and wired into the audio tower."""

from __future__ import annotations

import pytest
import torch

from muscall.config import ConfigError, load_config, validate_config
from muscall.errors import MuscallError
from muscall.models import create_model
from muscall.models.facts import FactBranch, chroma_statistics, onset_autocorrelation, tempo_lags


def _clicks(period: int, frames: int = 250, n_mels: int = 16) -> torch.Tensor:
    """A dB log-mel with a broadband 30 dB click every ``period`` frames."""
    mel = torch.full((1, n_mels, frames), -50.0)
    mel[..., ::period] = -20.0
    return mel


def test_tempo_lags_cover_40_to_240_bpm():
    lo, hi = tempo_lags(62.5)  # 16 kHz, hop 256
    assert (lo, hi) == (15, 94)
    assert 60 * 62.5 / lo >= 240 and 60 * 62.5 / hi <= 40


@pytest.mark.parametrize("period", [20, 31, 47])
def test_onset_autocorrelation_peaks_at_the_click_period(period):
    lo, hi = tempo_lags(62.5)
    ac = onset_autocorrelation(_clicks(period), torch.ones(1, 250, dtype=torch.bool), (lo, hi))
    assert ac.shape == (1, hi - lo + 1)
    assert lo + int(ac[0].argmax()) == period


def test_lags_longer_than_the_clip_read_zero():
    ac = onset_autocorrelation(_clicks(10, frames=40), torch.ones(1, 40, dtype=torch.bool), (15, 94))
    assert ac.shape == (1, 80) and torch.all(ac[0, 40 - 15:] == 0)


def test_chroma_statistics_of_a_steady_chord():
    chroma = torch.full((1, 12, 50), -60.0)
    chroma[:, [0, 4, 7]] = 0.0  # C, E, G at the peak, everything else 60 dB down (floored at -40)
    stats = chroma_statistics(chroma, torch.ones(1, 50, dtype=torch.bool))
    mean, std, co = stats[0, :12], stats[0, 12:24], stats[0, 24:]
    assert stats.shape == (1, 12 + 12 + 78)
    torch.testing.assert_close(mean, torch.tensor([1.0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0]))
    assert float(std.max()) < 1e-3
    rows, cols = torch.triu_indices(12, 12)
    pairs = {(int(r), int(c)) for r, c, v in zip(rows, cols, co) if v > 0.5}
    assert pairs == {(0, 0), (0, 4), (0, 7), (4, 4), (4, 7), (7, 7)}


def test_statistics_ignore_padding():
    torch.manual_seed(0)
    branch = FactBranch(n_mels=16, chroma=True, rhythm=True, frame_rate=62.5, width=32).eval()
    x = torch.randn(2, 28, 200) * 10
    mask = torch.ones(2, 200, dtype=torch.bool)
    padded = torch.cat([x, torch.randn(2, 28, 37) * 10], dim=-1)  # garbage after the end
    pmask = torch.cat([mask, torch.zeros(2, 37, dtype=torch.bool)], dim=-1)
    torch.testing.assert_close(branch(padded, pmask), branch(x, mask), atol=1e-5, rtol=1e-5)


def test_tower_appends_fact_features_that_ignore_padding():
    cfg = load_config("tiny", ["audio.chroma_n_fft=1024", "model.audio.rhythm=true"])
    torch.manual_seed(0)
    model = create_model(cfg).eval()
    rows = cfg.audio.n_mels + 12
    assert model.audio_encoder.rows == rows and model.audio_encoder.facts is not None
    mel = torch.randn(1, rows, 120) * 10
    padded = torch.cat([mel, torch.zeros(1, rows, 40)], dim=-1)
    width = cfg.model.audio.fact_width
    with torch.no_grad():
        a = model.audio_encoder(mel)
        b = model.audio_encoder(padded, lengths=torch.tensor([120]))
        frames, _ = model.audio_frames(mel)
        assert model.encode_audio(mel).shape == (1, cfg.model.embed_dim)
    assert frames.shape[-1] == model.audio_encoder.output_dim - width  # scoring heads read the CNN frames only
    torch.testing.assert_close(a[:, -width:], b[:, -width:], atol=1e-5, rtol=1e-5)
    with pytest.raises(MuscallError, match=f"\\(batch, {rows}, frames\\)"):
        model.encode_audio(mel[:, : cfg.audio.n_mels])


def test_facts_change_the_embedding_and_get_gradients():
    cfg = load_config("tiny", ["audio.chroma_n_fft=1024", "model.audio.rhythm=true"])
    torch.manual_seed(0)
    model = create_model(cfg).train()
    mel = torch.randn(4, cfg.audio.feature_rows, 120) * 10
    model.encode_audio(mel).sum().backward()
    assert model.audio_encoder.facts.mlp[0].weight.grad.abs().sum() > 0
    model.eval()
    moved = mel.clone()
    moved[:, cfg.audio.n_mels:] = moved[:, cfg.audio.n_mels:].roll(1, dims=1)  # the same music a semitone up
    with torch.no_grad():
        assert not torch.allclose(model.encode_audio(mel), model.encode_audio(moved))


def test_chroma_fft_shorter_than_the_mel_fft_is_refused():
    cfg = load_config("small")
    cfg.audio.chroma_n_fft = 256
    problems = validate_config(cfg)
    assert len(problems) == 1 and "audio.chroma_n_fft=256" in problems[0]
    assert validate_config(load_config("small", ["audio.chroma_n_fft=4096"])) == []
    with pytest.raises(ConfigError, match="audio.chroma_n_fft=256"):
        load_config("small", ["audio.chroma_n_fft=256"])
