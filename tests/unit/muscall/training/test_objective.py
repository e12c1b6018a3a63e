"""The training objective: SSL pairs for a fraction of the batch, the weighted sum of the two losses."""

from __future__ import annotations

import torch

from muscall.config import load_config
from muscall.losses import infonce_loss, nt_xent_loss
from muscall.models import create_model
from muscall.training.objective import Objective, TrainNet
from muscall.utils.distributed import DistInfo

ROWS = load_config("tiny").audio.feature_rows  # tiny's mel bands and chroma rows


def test_partial_ssl_views_and_loss_combination():
    cfg = load_config("tiny", ["loss.ssl=true", "loss.ssl_weight=0.25"])
    torch.manual_seed(0)
    net = TrainNet(create_model(cfg, vocab_size=40), cfg).eval()
    mel, view = torch.randn(6, ROWS, 80), torch.randn(3, ROWS, 80)
    tokens, mask = torch.randint(4, 40, (6, 9)), torch.ones(6, 9, dtype=torch.bool)
    out = net(mel, tokens, mask, view)
    assert out["audio"].shape[0] == 6 and out["text"].shape[0] == 6
    assert out["z1"].shape == out["z2"].shape == (3, cfg.loss.ssl_projection_dim)
    captions = [f"caption {i}" for i in range(6)]
    losses = Objective(cfg, captions)(out, torch.arange(6), DistInfo())
    contrastive = infonce_loss(out["audio"], out["text"], out["logit_scale"])
    ssl = nt_xent_loss(out["z1"], out["z2"], cfg.loss.ssl_temperature)
    torch.testing.assert_close(losses["contrastive"], contrastive)
    torch.testing.assert_close(losses["loss"], 0.75 * contrastive + 0.25 * ssl)


def test_without_ssl_the_loss_is_the_contrastive_one():
    cfg = load_config("tiny")
    net = TrainNet(create_model(cfg, vocab_size=40), cfg).eval()
    out = net(torch.randn(4, ROWS, 80), torch.randint(4, 40, (4, 5)), torch.ones(4, 5, dtype=torch.bool))
    assert "z1" not in out
    losses = Objective(cfg, ["a", "b", "c", "d"])(out, torch.arange(4), DistInfo())
    assert "ssl" not in losses and torch.equal(losses["loss"], losses["contrastive"])


def test_minilm_weighting_encodes_each_row_caption_once_with_the_per_batch_similarities(monkeypatch):
    from muscall.training import objective

    captions = [f"caption number {i}" for i in range(6)]
    encoded: list[str] = []

    def embed(texts):  # a deterministic stand-in for the sentence encoder
        emb = torch.stack([torch.tensor([len(t), sum(map(ord, t)) % 13, 1.0]) for t in texts])
        return torch.nn.functional.normalize(emb, dim=-1)

    monkeypatch.setattr(objective, "minilm_embeddings", lambda texts: encoded.extend(texts) or embed(texts))
    rows = objective.RowEmbeddings(captions)
    for batch in ([4, 1, 3], [1, 5, 4, 0], [3, 0]):
        expected = embed([captions[i] for i in batch])
        torch.testing.assert_close(rows.similarity(batch), expected @ expected.t())
    assert sorted(encoded) == sorted(captions[i] for i in (0, 1, 3, 4, 5))  # each caption once, on first use


def test_objective_uses_the_row_cache_only_for_minilm_weighting(monkeypatch):
    from muscall.training import objective

    monkeypatch.setattr(objective, "similarity_method", lambda method: "minilm")
    assert Objective(load_config("tiny", ["loss.caption_weighting=true"]), ["a", "b"]).minilm is not None
    assert Objective(load_config("tiny", ["loss.caption_weighting=false"]), ["a", "b"]).minilm is None
    monkeypatch.setattr(objective, "similarity_method", lambda method: "tfidf")
    assert Objective(load_config("tiny", ["loss.caption_weighting=true"]), ["a", "b"]).minilm is None


def test_key_contrast_adds_the_choice_between_a_caption_and_its_other_key():
    cfg = load_config("tiny", ["loss.key_contrast=0.5"])
    torch.manual_seed(0)
    net = TrainNet(create_model(cfg, vocab_size=40), cfg).eval()
    mel, tokens, mask = torch.randn(4, ROWS, 80), torch.randint(4, 40, (4, 9)), torch.ones(4, 9, dtype=torch.bool)
    other = (torch.tensor([1, 3]), torch.randint(4, 40, (2, 7)), torch.ones(2, 7, dtype=torch.bool))
    out = net(mel, tokens, mask, None, other)
    assert out["key_text"].shape == (2, out["text"].shape[1])
    losses = Objective(cfg, ["a", "b", "c", "d"])(out, torch.arange(4), DistInfo())
    audio, own = out["audio"][[1, 3]], out["text"][[1, 3]]
    logits = out["logit_scale"] * torch.stack([(audio * own).sum(-1), (audio * out["key_text"]).sum(-1)], 1)
    expected = torch.nn.functional.cross_entropy(logits, torch.zeros(2, dtype=torch.long))
    torch.testing.assert_close(losses["key_contrast"], expected)
    torch.testing.assert_close(losses["loss"], losses["contrastive"] + 0.5 * expected)
    none_named = Objective(cfg, ["a", "b", "c", "d"])(net(mel, tokens, mask), torch.arange(4), DistInfo())
    assert float(none_named["key_contrast"]) == 0.0  # a batch whose captions name no key adds nothing
