"""MusCALL dual encoder: every shipped config builds and runs, pooling handles any length, padding invariance."""

from __future__ import annotations

import math

import pytest
import torch

from muscall.config import load_config
from muscall.errors import MuscallError
from muscall.models import count_parameters, create_model, list_models, minilm_available
from muscall.models.audio_encoder import pooled_length
from muscall.models.pooling import AttentionPool, MeanPool

# Short inputs for the big configs keep the forward pass fast; the tiny config uses its real crop.
FRAMES = {"paper": 64, "resnet50": 40, "small": 96, "tiny": 251}
ROWS = load_config("tiny").audio.feature_rows  # tiny's 32 mel bands and 12 chroma rows


def _text_batch(vocab: int, lengths: list[int], pad_to: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    tokens = torch.zeros(len(lengths), pad_to, dtype=torch.long)
    mask = torch.zeros(len(lengths), pad_to, dtype=torch.bool)
    for i, n in enumerate(lengths):
        tokens[i, :n] = torch.randint(4, vocab, (n,), generator=gen)
        mask[i, :n] = True
    return tokens, mask


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model(load_config("tiny")).eval()


def test_list_models_names_every_shipped_config():
    assert {"paper", "resnet50", "small", "tiny"} <= set(list_models())


@pytest.mark.parametrize("name", ["paper", "resnet50", "small", "tiny"])
def test_shipped_config_builds_and_embeds(name):
    cfg = load_config(name)
    torch.manual_seed(0)
    model = create_model(cfg, vocab_size=50).eval()
    mel = torch.randn(2, cfg.audio.feature_rows, FRAMES[name]) * 10 - 40
    tokens, mask = _text_batch(50, [5, 9], 9)
    with torch.no_grad():
        out = model(mel, tokens, mask)
    for key in ("audio_embeds", "text_embeds"):
        assert out[key].shape == (2, cfg.model.embed_dim)
        assert torch.allclose(out[key].norm(dim=-1), torch.ones(2), atol=1e-5)
        assert torch.isfinite(out[key]).all()
    assert out["logit_scale"].item() == pytest.approx(1 / cfg.model.init_temperature, rel=1e-5)
    assert model.embed_dim == cfg.model.embed_dim
    facts = cfg.model.audio.fact_width if cfg.audio.chroma_n_fft or cfg.model.audio.rhythm else 0
    assert model.audio_embed_dim == 32 * cfg.model.audio.base_width + facts
    assert model.text_encoder.vocab_size == 50


def test_vocab_size_defaults_to_config(tiny):
    assert tiny.text_encoder.vocab_size == load_config("tiny").model.text.vocab_size


@pytest.mark.parametrize("frames", [31, 64, 100, 333])
def test_audio_tower_accepts_any_number_of_frames(tiny, frames):
    mel = torch.randn(2, ROWS, frames)
    with torch.no_grad():
        emb = tiny.encode_audio(mel)
        feats, mask = tiny.audio_frames(mel)
    assert emb.shape == (2, 32) and torch.isfinite(emb).all()
    assert feats.shape == (2, pooled_length(frames), tiny.audio_encoder.output_dim - tiny.audio_encoder.facts.output_dim)
    assert mask.shape == (2, pooled_length(frames)) and mask.all()


def test_audio_frame_mask_follows_lengths(tiny):
    mel = torch.randn(2, ROWS, 320)  # 10 pooled frames
    _, mask = tiny.audio_frames(mel, lengths=torch.tensor([320, 96]))
    assert mask.sum(dim=1).tolist() == [10, 3]


def test_too_short_or_wrong_mels_raise(tiny):
    with pytest.raises(MuscallError, match="at least 31"):
        tiny.encode_audio(torch.randn(1, ROWS, 20))
    with pytest.raises(MuscallError, match=str(ROWS)):
        tiny.encode_audio(torch.randn(1, 64, 100))


@pytest.mark.parametrize("pool", [AttentionPool(16, 2, freq_bins=2), MeanPool()])
def test_pooling_ignores_masked_frames(pool):
    torch.manual_seed(0)
    fmap = torch.randn(3, 16, 2, 7)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 4:] = False
    mask[2, 1:] = False
    changed = fmap.clone()
    changed[1, :, :, 4:] = 100.0
    changed[2, :, :, 1:] = -5.0
    with torch.no_grad():
        assert torch.allclose(pool(fmap, mask), pool(changed, mask), atol=1e-5)
        assert not torch.allclose(pool(fmap, mask), pool(changed, torch.ones_like(mask)), atol=1e-3)


def test_attention_pool_result_depends_on_content_not_time_position():
    pool = AttentionPool(16, 4, freq_bins=1).eval()
    fmap = torch.randn(1, 16, 1, 6)
    rolled = fmap.roll(2, dims=-1)
    mask = torch.ones(1, 6, dtype=torch.bool)
    with torch.no_grad():
        assert torch.allclose(pool(fmap, mask), pool(rolled, mask), atol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "eos"])
def test_text_padding_does_not_change_embedding(pooling):
    from muscall.models.text_encoder import TransformerTextEncoder

    cfg = load_config("tiny")
    torch.manual_seed(0)
    model = create_model(cfg).eval()
    model.text_encoder = TransformerTextEncoder(cfg.model.text, 300, pooling=pooling).eval()
    tokens, mask = _text_batch(300, [4, 7, 3], 7)
    padded = torch.cat([tokens, torch.randint(4, 300, (3, 12))], dim=1)  # garbage ids under the pad mask
    padded_mask = torch.cat([mask, torch.zeros(3, 12, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        short = model.encode_text(tokens, mask)
        long = model.encode_text(padded, padded_mask)
        alone = model.encode_text(tokens[2:, :3], mask[2:, :3])
    assert torch.allclose(short, long, atol=1e-5)
    assert torch.allclose(short[2:], alone, atol=1e-5)
    assert model.text_tokens(padded, padded_mask).shape == (3, 19, cfg.model.text.width)


def test_text_errors_are_clear(tiny):
    tokens, mask = _text_batch(300, [40], 40)
    with pytest.raises(MuscallError, match="max_tokens"):
        tiny.encode_text(tokens, mask)
    tokens, mask = _text_batch(300, [3], 3)
    with pytest.raises(MuscallError, match="out of range"):
        tiny.encode_text(tokens + 1000, mask)


def test_eval_is_deterministic_and_train_uses_dropout():
    cfg = load_config("tiny", ["model.text.dropout=0.5", "model.audio.dropout=0.5"])
    torch.manual_seed(0)
    model = create_model(cfg)
    mel = torch.randn(4, ROWS, 80)
    tokens, mask = _text_batch(300, [5, 6, 7, 8], 8)
    model.train()
    with torch.no_grad():
        assert not torch.allclose(model.encode_text(tokens, mask), model.encode_text(tokens, mask))
    model.eval()
    with torch.no_grad():
        first = model(mel, tokens, mask)
        second = model(mel[:, :, :], tokens, mask)
    assert torch.equal(first["audio_embeds"], second["audio_embeds"])
    assert torch.equal(first["text_embeds"], second["text_embeds"])


def test_gradients_reach_both_towers_and_the_scale():
    torch.manual_seed(0)
    model = create_model(load_config("tiny")).train()
    tokens, mask = _text_batch(300, [5, 6, 7], 7)
    out = model(torch.randn(3, ROWS, 64), tokens, mask)
    logits = out["logit_scale"] * out["audio_embeds"] @ out["text_embeds"].t()
    torch.nn.functional.cross_entropy(logits, torch.arange(3)).backward()
    assert model.logit_scale.grad is not None and model.logit_scale.grad.abs() > 0
    assert model.audio_encoder.stem[0].weight.grad.abs().sum() > 0
    assert model.text_encoder.token_embedding.weight.grad.abs().sum() > 0
    assert count_parameters(model, trainable_only=True) == count_parameters(model)


def test_logit_scale_is_clamped():
    model = create_model(load_config("tiny"))
    assert model.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert model.scale().item() == pytest.approx(100.0)
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == pytest.approx(math.log(100.0))
    with torch.no_grad():
        model.logit_scale.fill_(-1.0)  # temperature above 1
    model.clamp_logit_scale_()
    assert model.logit_scale.item() == 0.0


def test_bad_audio_config_raises():
    with pytest.raises(MuscallError, match="attention_heads"):
        create_model(load_config("tiny", ["model.audio.attention_heads=3"]))
    with pytest.raises(MuscallError, match="layers"):
        create_model(load_config("tiny", ["model.audio.layers=[1, 1, 1]"]))


@pytest.mark.skipif(minilm_available(), reason="MiniLM is installed")
def test_minilm_without_package_says_how_to_install():
    with pytest.raises(MuscallError, match=r"muscall\[minilm\]"):
        create_model(load_config("tiny", ["model.text.encoder=minilm"]))


@pytest.mark.slow
@pytest.mark.skipif(not minilm_available(), reason="optional MiniLM package not installed")
def test_minilm_text_encoder_frozen_and_padding_invariant():
    from muscall.models import build_tokenizer

    cfg = load_config("tiny", ["model.text.encoder=minilm"])
    model = create_model(cfg).train()
    tokenizer = build_tokenizer(cfg, [])
    tokens, mask = tokenizer.encode_batch(["calm piano", "loud distorted electric guitar riff"], 32)
    padded = torch.cat([tokens, torch.zeros(2, 5, dtype=torch.long)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(2, 5, dtype=torch.bool)], dim=1)
    emb = model.encode_text(tokens, mask)
    assert emb.shape == (2, cfg.model.embed_dim)
    assert torch.allclose(emb, model.encode_text(padded, padded_mask), atol=1e-5)
    assert not any(p.requires_grad for p in model.text_encoder.parameters())
    assert model.text_projection.weight.requires_grad


def test_compiled_audio_tower_is_used_only_for_training_crops(monkeypatch):
    calls = []

    def fake_compile(module, **kwargs):  # stands in for inductor: records the calls, runs the module eagerly
        def run(mel):
            calls.append(tuple(mel.shape))
            return module(mel)
        return run

    monkeypatch.setattr(torch, "compile", fake_compile)
    model = create_model(load_config("tiny"))
    keys = set(model.state_dict())
    model.compile_audio_tower()
    assert set(model.state_dict()) == keys  # checkpoints are unchanged
    mel = torch.randn(2, model.feature_rows, 251)
    model.train()
    model.encode_audio(mel)
    assert calls == [(2, model.feature_rows, 251)]
    model.eval()
    model.encode_audio(mel)  # evaluation: eager, so other shapes never trigger a recompile
    model.train()
    model.encode_audio(mel, lengths=torch.tensor([251, 100]))  # padded input: eager (the mask needs lengths)
    assert len(calls) == 1


def test_a_failing_compile_falls_back_to_eager(monkeypatch, caplog):
    def broken_compile(module, **kwargs):
        def run(mel):
            raise RuntimeError("no C++ compiler")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    model = create_model(load_config("tiny")).train()
    model.compile_audio_tower()
    mel = torch.randn(2, model.feature_rows, 251)
    torch.manual_seed(0)
    out = model.encode_audio(mel)
    assert out.shape == (2, model.embed_dim)
    assert "training on without it" in caplog.text
    assert model.__dict__["_compiled_audio"] is None
