"""The MiniLM text tower's training modes: frozen + adaptor, top layers tuned, the per-caption feature cache."""

from __future__ import annotations

import re

import pytest
import torch

from muscall.config import ConfigError, load_config
from muscall.models import create_model, minilm_available
from muscall.models.minilm import FeatureCache

needs_minilm = pytest.mark.skipif(not minilm_available(), reason="optional MiniLM package not installed")
CAPTIONS = ["calm piano", "loud distorted electric guitar riff", "calm piano"]


def _minilm(*overrides: str):
    from muscall.models import build_tokenizer

    cfg = load_config("tiny", ["model.text.encoder=minilm", *overrides])
    torch.manual_seed(0)
    model = create_model(cfg)
    tokens, mask = build_tokenizer(cfg, []).encode_batch(CAPTIONS, 32)
    return model, tokens, mask


def _after_backward(*overrides: str):
    """A MiniLM model after one backward pass of its text embeddings, in training mode."""
    model, tokens, mask = _minilm(*overrides)
    model.text_encoder.train()
    model.encode_text(tokens, mask).sum().backward()
    return model, tokens, mask


def _grads(module: torch.nn.Module) -> dict[str, bool]:
    return {name: p.grad is not None for name, p in module.named_parameters()}


def test_feature_cache_is_a_bounded_lru():
    cache = FeatureCache(2)
    a, b, c = (torch.full((2, 3), float(i)) for i in range(3))
    cache.put((1,), a)
    cache.put((2,), b)
    assert torch.equal(cache.get((1,)), a)  # (1,) is now the most recently used
    cache.put((3,), c)
    assert cache.get((2,)) is None and len(cache) == 2
    assert torch.equal(cache.get((3,)), c)
    a.add_(1.0)
    assert torch.equal(cache.get((1,)), torch.zeros(2, 3))  # stored copies, not views of the caller's tensor
    off = FeatureCache(0)
    off.put((1,), a)
    assert len(off) == 0


@pytest.mark.parametrize("overrides, problem", [
    (["model.text.minilm_trainable_layers=7"], "must be in [0, 6]"),
    (["model.text.minilm_trainable_layers=2", "model.text.freeze=false"], "set one of them"),
    (["model.text.encoder=minilm", "model.text.minilm_adaptor_layers=1", "model.text.heads=5",
      "model.text.width=35"], "384 wide"),
    (["train.text_lr_scale=0"], "text_lr_scale=0"),
])
def test_minilm_mode_checks(overrides, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_config("tiny", overrides)


def test_small_minilm_is_small_with_the_minilm_tower():
    small, minilm = load_config("small"), load_config("small-minilm")
    assert minilm.model.text.encoder == "minilm" and minilm.model.text.minilm_adaptor_layers == 1
    same = ("audio", "augment", "text_augment", "loss")
    assert [getattr(minilm, s) for s in same] == [getattr(small, s) for s in same]
    assert minilm.model.audio == small.model.audio


@pytest.mark.slow
@needs_minilm
def test_frozen_backbone_with_adaptor_trains_only_the_adaptor():
    model, _, _ = _after_backward("model.text.minilm_adaptor_layers=1")
    enc = model.text_encoder
    assert not any(_grads(enc.backbone).values())
    assert all(_grads(enc.adaptor).values()) and model.text_projection.weight.grad is not None
    assert len(enc.cache) == 2  # the repeated caption is stored once


@pytest.mark.slow
@needs_minilm
def test_cache_returns_identical_features_and_matches_the_uncached_path():
    model, tokens, mask = _minilm("model.text.minilm_adaptor_layers=1", "model.text.dropout=0.0")
    enc = model.text_encoder.train()
    first = enc.token_features(tokens, mask)
    cached = enc.token_features(tokens, mask)
    assert torch.equal(first[mask], cached[mask])
    assert torch.equal(first[0][mask[0]], first[2][mask[2]])  # the repeat came out of the cache
    enc.eval()  # evaluation computes afresh, without the cache
    fresh = enc.token_features(tokens, mask)
    assert torch.allclose(fresh[mask], cached[mask], atol=1e-5)
    enc.load_state_dict(enc.state_dict())
    assert len(enc.cache) == 0  # new weights: stale features are dropped


@pytest.mark.slow
@needs_minilm
def test_top_layers_tuned_and_lower_layers_frozen():
    model, tokens, mask = _after_backward("model.text.minilm_trainable_layers=2")
    enc = model.text_encoder
    layers = enc.backbone.encoder.layer
    assert not any(_grads(enc.backbone.embeddings).values())
    assert not any(g for layer in layers[:4] for g in _grads(layer).values())
    assert all(g for layer in layers[4:] for g in _grads(layer).values())
    enc.eval()  # the split path (frozen bottom, then the top layers one by one) is MiniLM's own forward
    whole = enc.backbone(input_ids=tokens, attention_mask=mask.long()).last_hidden_state
    assert torch.allclose(enc.token_features(tokens, mask)[mask], whole[mask], atol=1e-5)
