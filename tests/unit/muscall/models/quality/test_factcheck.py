"""FactCheck: key/tempo distributions from the signal features, and a TA head that learns to check them."""

from __future__ import annotations

import pytest
import torch

from muscall.audio.signal import CHROMA_AT, SIGNAL_DIM, TEMPO_AT
from muscall.keys import MAJOR_PROFILE, MINOR_PROFILE, N_KEYS
from muscall.losses.quality import QualityLoss
from muscall.models.quality.factcheck import N_TEMPO, FactCheck, key_correlation
from muscall.models.quality.heads import QualityScorer
from muscall.config.scoring import ScoringConfig

AUDIO_DIM, TEXT_DIM = 8, 16


def _profile(key: int) -> torch.Tensor:
    """Chroma of key index ``key`` (0-11 major, 12-23 minor), normalised to sum 1 like the signal features."""
    base = torch.tensor(MAJOR_PROFILE if key < 12 else MINOR_PROFILE)
    p = torch.roll(base, key % 12)
    return p / p.sum()


def _signal(keys: list[int], tempo_bands: list[int], frames: int = 5, noise: float = 0.0,
            gen: torch.Generator | None = None) -> torch.Tensor:
    """Raw signal features ``[B, frames, SIGNAL_DIM]`` whose chroma and tempo columns state the given facts."""
    sig = torch.randn(len(keys), frames, SIGNAL_DIM, generator=gen)
    for i, (k, t) in enumerate(zip(keys, tempo_bands)):
        chroma = _profile(k) + noise * torch.rand(frames, 12, generator=gen) / 12
        sig[i, :, CHROMA_AT:CHROMA_AT + 12] = chroma / chroma.sum(dim=-1, keepdim=True)
        sig[i, :, TEMPO_AT:TEMPO_AT + N_TEMPO] = 0.1
        sig[i, :, TEMPO_AT + t] = 0.8
    return sig


def test_key_correlation_finds_the_key_of_its_own_profile():
    chroma = torch.stack([_profile(k) for k in range(N_KEYS)])
    corr = key_correlation(chroma)
    assert corr.shape == (N_KEYS, N_KEYS)
    assert torch.equal(corr.argmax(dim=1), torch.arange(N_KEYS))
    torch.testing.assert_close(corr.diagonal(), torch.ones(N_KEYS))
    assert key_correlation(torch.full((1, 12), 1 / 12)).abs().max() < 1e-5  # a flat chroma favours no key


def test_audio_facts_read_the_raw_chroma_and_tempo_and_ignore_padding():
    check = FactCheck(TEXT_DIM)
    sig = _signal([4, 14], [2, 6])  # E major at band 2, D minor at band 6
    mask = torch.ones(2, 5, dtype=torch.bool)
    p_key, p_tempo = check.audio_facts(sig, mask)
    assert p_key.argmax(dim=1).tolist() == [4, 14] and p_tempo.argmax(dim=1).tolist() == [2, 6]
    torch.testing.assert_close(p_key.sum(dim=1), torch.ones(2))
    padded = torch.cat([sig, torch.full((2, 3, SIGNAL_DIM), float("nan"))], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    again = check.audio_facts(padded, padded_mask)
    torch.testing.assert_close(again[0], p_key)
    torch.testing.assert_close(again[1], p_tempo)


def test_the_ta_head_learns_to_check_a_stated_key_against_the_chroma():
    """Frames and token features are noise and the key word is an arbitrary token id: only the fact check can
    tell a prompt naming the clip's key from one naming another key, and it has to learn which word means which
    key (like a frozen text tower that has learned to ignore key names)."""
    gen = torch.Generator().manual_seed(0)

    def batch(n: int):
        audio = torch.randint(0, N_KEYS, (n,), generator=gen)
        other = (audio + torch.randint(1, N_KEYS, (n,), generator=gen)) % N_KEYS
        stated = torch.cat([audio, other])
        keys = torch.cat([audio, audio]).tolist()
        sig = _signal(keys, [3] * len(keys), noise=0.5, gen=gen)
        tokens = torch.randn(2 * n, 3, TEXT_DIM, generator=gen)
        ids = torch.cat([100 + stated.unsqueeze(1), torch.randint(200, 300, (2 * n, 2), generator=gen)], dim=1)
        frames = torch.randn(2 * n, 5, AUDIO_DIM, generator=gen)
        target = torch.cat([torch.ones(n), torch.zeros(n)])
        return frames, tokens, ids, sig, target

    torch.manual_seed(0)
    cfg = ScoringConfig(axes=["TA"], ta_fact_check=True, hidden=16, coattn_dim=8, coattn_heads=2, dropout=0.0,
                        loss="mse", ot_weight=0.0)
    model = QualityScorer(cfg, AUDIO_DIM, TEXT_DIM, signal_dim=SIGNAL_DIM)
    objective = QualityLoss(cfg)
    assert model.fact_check and model.signal_dim == SIGNAL_DIM
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        frames, tokens, ids, sig, target = batch(48)
        scores, _ = model.forward_with_ot(frames, None, tokens, None, signal=(sig - 0.5) * 3, signal_raw=sig,
                                          token_ids=ids)
        loss, _ = objective(scores, {"TA": target})
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    frames, tokens, ids, sig, target = batch(200)
    with torch.no_grad():
        ta = model(frames, None, tokens, None, signal=(sig - 0.5) * 3, signal_raw=sig, token_ids=ids)["TA"]
    right_above_wrong = (ta[:200] > ta[200:]).float().mean().item()
    assert right_above_wrong > 0.9, right_above_wrong


def test_fact_check_needs_the_signal_features_and_the_token_ids():
    cfg = ScoringConfig(axes=["TA"], ta_fact_check=True, hidden=16, coattn_dim=8, coattn_heads=2)
    model = QualityScorer(cfg, AUDIO_DIM, TEXT_DIM, signal_dim=SIGNAL_DIM)
    objective = QualityLoss(cfg)
    frames, tokens = torch.randn(2, 5, AUDIO_DIM), torch.randn(2, 3, TEXT_DIM)
    with pytest.raises(ValueError, match="signal features"):
        model(frames, None, tokens, None, token_ids=torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="token ids"):
        model(frames, None, tokens, None, signal=_signal([0, 1], [0, 1]))
    assert not QualityScorer(cfg, AUDIO_DIM, TEXT_DIM, signal_dim=0).fact_check  # no signal computed: no check
