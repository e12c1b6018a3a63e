"""QualityScorer paths that read signal features beside the frames: the pool, the alignment path, their padding."""

from __future__ import annotations

import pytest
import torch

from muscall.models.quality.heads import QualityScorer
from muscall.config.scoring import ScoringConfig


def _scorer(signal_dim: int, **kw) -> QualityScorer:
    torch.manual_seed(0)
    cfg = ScoringConfig(axes=["MI"], hidden=16, attention_hidden=8, segment_size=2, dropout=0.0, **kw)
    return QualityScorer(cfg, 12, None, signal_dim=signal_dim).eval()


@pytest.mark.parametrize("pooling", ["drasp", "asp", "mean"])
def test_scorer_reads_signal_features_and_ignores_their_padding(pooling):
    model = _scorer(5, pooling=pooling)
    gen = torch.Generator().manual_seed(0)
    frames, sig = torch.randn(3, 6, 12, generator=gen), torch.randn(3, 6, 5, generator=gen)
    mask = torch.arange(6).unsqueeze(0) < torch.tensor([[6], [4], [2]])
    with torch.no_grad():
        base = model(frames, mask, signal=sig)["MI"]
        pad = lambda x: torch.cat([x, torch.full((3, 3, x.shape[-1]), float("nan"))], dim=1)  # noqa: E731
        padded = model(pad(frames), torch.cat([mask, torch.zeros(3, 3, dtype=torch.bool)], dim=1), signal=pad(sig))
        changed = model(frames, mask, signal=sig + 1.0)["MI"]
    torch.testing.assert_close(padded["MI"], base)
    assert not torch.allclose(changed, base)  # the signal features reach the score
    with pytest.raises(ValueError, match="signal features"):
        model(frames, mask)


def test_signal_features_off_builds_the_frame_only_scorer():
    model = _scorer(5, signal_features=False)
    assert model.signal_dim == 0 and model.pool.out_dim == 2 * 12
    frames = torch.randn(2, 4, 12)
    assert model(frames, None)["MI"].shape == (2,)


def _ta_scorer(signal_dim: int, **kw) -> QualityScorer:
    torch.manual_seed(0)
    cfg = ScoringConfig(axes=["TA"], hidden=16, coattn_dim=8, coattn_heads=2, dropout=0.0, **kw)
    return QualityScorer(cfg, 12, 6, signal_dim=signal_dim).eval()


def test_alignment_path_reads_signal_features_when_asked():
    gen = torch.Generator().manual_seed(0)
    frames, sig = torch.randn(3, 6, 12, generator=gen), torch.randn(3, 6, 5, generator=gen)
    tokens = torch.randn(3, 4, 6, generator=gen)
    mask = torch.arange(6).unsqueeze(0) < torch.tensor([[6], [4], [2]])
    model = _ta_scorer(5, ta_signal_features=True)
    assert model.signal_dim == 5
    with torch.no_grad():
        base = model(frames, mask, tokens, None, signal=sig)["TA"]
        changed = model(frames, mask, tokens, None, signal=sig + 1.0)["TA"]
        pad = lambda x: torch.cat([x, torch.full((3, 2, x.shape[-1]), float("nan"))], dim=1)  # noqa: E731
        padded = model(pad(frames), torch.cat([mask, torch.zeros(3, 2, dtype=torch.bool)], dim=1), tokens, None,
                       signal=pad(sig))["TA"]
    assert not torch.allclose(changed, base)
    torch.testing.assert_close(padded, base)
    with pytest.raises(ValueError, match="signal features"):
        model(frames, mask, tokens, None)
    off = _ta_scorer(5)  # the default: frames only
    assert off.signal_dim == 0 and off(frames, mask, tokens, None)["TA"].shape == (3,)  # frames only, no signal needed
