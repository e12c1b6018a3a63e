"""Training: the loss falls, checkpoints round-trip, a resumed run equals an uninterrupted one."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from muscall.checkpoint import load_checkpoint
from muscall.config import ConfigError
from muscall.data.manifest import read_manifest
from muscall.data.mels import MelSource
from muscall.embedding import embed_mels
from muscall.errors import MuscallError
from muscall.training.trainer import Trainer


def _steps(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_tiny_model_loss_falls(tiny_cfg, tmp_path):
    cfg = tiny_cfg("train.epochs=5", "train.lr=0.003", "train.early_stop_patience=100", "train.val_pool_size=2")
    Trainer(cfg, tmp_path, progress=False).fit()
    losses = [r["contrastive"] for r in _steps(tmp_path) if r["kind"] == "step"]
    assert len(losses) == 5 * 4
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4])


def test_checkpoint_round_trip_gives_identical_embeddings(tiny_cfg, tmp_path, tone_corpus):
    cfg = tiny_cfg("train.epochs=1")
    trainer = Trainer(cfg, tmp_path, progress=False)
    trainer.fit()
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "last")
    rows = read_manifest(tone_corpus, split="test")
    source = MelSource(rows, tone_corpus, cfg.audio)
    mels = [source[i] for i in range(len(source))]
    trainer.model.eval()
    before = embed_mels(trainer.model, mels, cfg.audio).tracks
    after = embed_mels(ckpt.model, mels, cfg.audio).tracks
    again = embed_mels(ckpt.model, mels, cfg.audio).tracks
    np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(after, again)
    assert np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)


def test_checkpoint_with_a_retired_config_key_still_loads(tiny_cfg, tmp_path, monkeypatch):
    import muscall.checkpoint as checkpoint_module
    from muscall.config import config_to_dict

    def with_old_key(cfg):  # what a checkpoint written before train.batch_clusters was removed holds
        raw = config_to_dict(cfg)
        raw["train"]["batch_clusters"] = 0
        return raw

    trainer = Trainer(tiny_cfg("train.epochs=1"), tmp_path, progress=False)
    trainer.fit()
    monkeypatch.setattr(checkpoint_module, "config_to_dict", with_old_key)
    trainer._save("old")
    assert "batch_clusters" in (tmp_path / "checkpoints" / "old" / "config.yaml").read_text()
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "old")
    assert not hasattr(ckpt.config.train, "batch_clusters")


def test_resumed_run_matches_uninterrupted(tiny_cfg, tmp_path, monkeypatch):
    overrides = ("train.epochs=2", "train.checkpoint_every=1", "loss.ssl=true", "loss.caption_weighting=true",
                 "model.text.dropout=0.1")
    Trainer(tiny_cfg(*overrides), tmp_path / "straight", progress=False).fit()

    calls = {"n": 0}
    original = Trainer._step

    def crashing_step(self, net, batch):
        if calls["n"] == 5:  # killed in the middle of epoch 2 (4 batches per epoch)
            raise KeyboardInterrupt
        calls["n"] += 1
        return original(self, net, batch)

    monkeypatch.setattr(Trainer, "_step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        Trainer(tiny_cfg(*overrides), tmp_path / "killed", progress=False).fit()
    monkeypatch.setattr(Trainer, "_step", original)
    Trainer(tiny_cfg(*overrides), tmp_path / "killed", resume=True, progress=False).fit()

    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last").model.state_dict()
    b = load_checkpoint(tmp_path / "killed" / "checkpoints" / "last").model.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)


def test_too_few_training_clips_is_a_clear_error(tiny_cfg, tmp_path):
    with pytest.raises(MuscallError, match="fewer than one batch"):
        Trainer(tiny_cfg("train.batch_size=64"), tmp_path, progress=False)


def test_a_small_validation_pool_selects_on_mean_reciprocal_rank(tiny_cfg, tmp_path):
    # 8 validation clips: R@10 is 1.0 whatever the model, so it cannot pick a checkpoint; MRR can
    cfg = tiny_cfg("train.epochs=3", "train.lr=0.003", "train.early_stop_patience=100", "train.val_pool_size=8")
    result = Trainer(cfg, tmp_path, progress=False).fit()
    epochs = [r for r in _steps(tmp_path) if r["kind"] == "epoch"]
    assert [e["val_r10"] for e in epochs] == [1.0] * 3
    assert {e["val_metric"] for e in epochs} == {"mrr"}
    scores = [e["val_score"] for e in epochs]
    assert all(0 < s < 1 for s in scores)  # four captions repeat, so no clip's own caption ranks it alone first
    assert result.best_epoch == int(np.argmax(scores)) and result.best_r10 == max(scores)


def test_the_selection_metric_can_be_named(tiny_cfg, tmp_path):
    cfg = tiny_cfg("train.epochs=1", "train.val_pool_size=8", "train.val_metric=r10")
    Trainer(cfg, tmp_path, progress=False).fit()
    epoch = [r for r in _steps(tmp_path) if r["kind"] == "epoch"][0]
    assert epoch["val_metric"] == "r10" and epoch["val_score"] == epoch["val_r10"]
    with pytest.raises(ConfigError, match="train.val_metric='map'"):
        Trainer(tiny_cfg("train.val_metric=map"), tmp_path / "bad", progress=False)


def test_key_contrast_draws_its_other_keys_by_the_step(tiny_cfg, tmp_path):
    trainer = Trainer(tiny_cfg("loss.key_contrast=0.5", "train.epochs=1"), tmp_path, progress=False)
    captions = ["low calm sine tone in C major", "noisy high hiss", "high bright sine tone in a minor key"]
    rows, tokens, mask = trainer._other_keys(captions)
    assert rows.tolist() == [0, 2] and tokens.shape[0] == mask.shape[0] == 2
    assert torch.equal(trainer._other_keys(captions)[1], tokens)  # the same step draws the same keys
    assert trainer.tokenizer.decode(tokens[1]) == "high bright sine tone in a major key"
    assert trainer._other_keys(["noisy high hiss"]) is None
    trainer.fit()  # the tone captions name no key: the term is 0 and training runs as before
    assert Trainer(tiny_cfg(), tmp_path / "off", progress=False)._other_keys(captions) is None
