"""Caption similarity: TF-IDF cosine values, corpus-fitted IDF, auto fallback."""

from __future__ import annotations

import pytest
import torch

from muscall.errors import MuscallError
from muscall.losses import TfidfSimilarity, caption_similarity
from muscall.models import minilm_available

CAPTIONS = ["calm piano ballad", "calm piano ballad", "loud metal guitar", "calm guitar"]


def test_tfidf_similarity_values():
    sim = caption_similarity(CAPTIONS, "tfidf")
    assert sim.shape == (4, 4) and sim.dtype == torch.float32
    assert torch.allclose(sim, sim.t())
    assert torch.allclose(sim.diagonal(), torch.ones(4))
    assert sim[0, 1].item() == pytest.approx(1.0, abs=1e-6)
    assert sim[0, 2].item() == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < sim[0, 3].item() < 1.0 and 0.0 < sim[2, 3].item() < 1.0


def test_corpus_fitted_tfidf_and_unknown_words():
    fitted = TfidfSimilarity(CAPTIONS + ["soft jazz"])
    sim = caption_similarity(["unheard words", "calm piano"], "tfidf", tfidf=fitted)
    assert torch.equal(sim, torch.eye(2))


def test_degenerate_batch_gives_identity():
    assert torch.equal(caption_similarity(["", "!!"], "tfidf"), torch.eye(2))


def test_auto_falls_back_to_tfidf():
    if minilm_available():
        pytest.skip("MiniLM installed: auto uses it")
    assert torch.equal(caption_similarity(CAPTIONS, "auto"), caption_similarity(CAPTIONS, "tfidf"))


@pytest.mark.skipif(minilm_available(), reason="MiniLM is installed")
def test_minilm_without_package_says_how_to_install():
    with pytest.raises(MuscallError, match=r"muscall\[minilm\]"):
        caption_similarity(CAPTIONS, "minilm")


def test_unknown_method():
    with pytest.raises(MuscallError, match="tfidf"):
        caption_similarity(CAPTIONS, "bert")


@pytest.mark.slow
@pytest.mark.skipif(not minilm_available(), reason="optional MiniLM package not installed")
def test_minilm_similarity_ranks_paraphrases_higher():
    captions = ["a calm solo piano piece", "gentle relaxing piano music", "aggressive heavy metal with screaming"]
    sim = caption_similarity(captions, "auto")
    assert torch.allclose(sim, caption_similarity(captions, "minilm"))
    assert torch.allclose(sim.diagonal(), torch.ones(3), atol=1e-4)
    assert sim[0, 1] > sim[0, 2] + 0.2
