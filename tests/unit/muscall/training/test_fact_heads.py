"""Fact heads in training: their losses fall on tiny data, unknown facts stay masked, and they stay out of the
inference checkpoint; the recording chain runs on the contrastive crops."""

from __future__ import annotations

import json

import numpy as np
import torch

from muscall.checkpoint import load_checkpoint
from muscall.training.trainer import Trainer


def _records(run_dir, kind):
    return [r for r in map(json.loads, (run_dir / "log.jsonl").read_text().splitlines()) if r["kind"] == kind]


def test_fact_head_loss_falls_and_unknown_facts_are_masked(tiny_cfg, tmp_path):
    cfg = tiny_cfg("train.epochs=6", "train.lr=0.01", "train.early_stop_patience=100", "loss.facts.weight=1.0",
                   "augment.chain.p=0")
    trainer = Trainer(cfg, tmp_path, progress=False)
    assert trainer.facts.heads == ("key", "mode", "tempo", "genre")  # the tone corpus names no instrument
    trainer.fit()
    steps = _records(tmp_path, "step")
    for tower in ("text", "audio"):  # four genres, one per caption and tone kind (ln 4 = 1.39 at chance)
        genre = [r[f"fact_{tower}_genre"] for r in steps]
        assert np.mean(genre[-4:]) < 0.8 * np.mean(genre[:4]), tower
    assert all(r["fact_audio_key"] == 0.0 and "fact_audio_key_acc" not in r for r in steps)  # no key attributes
    assert all("fact_text_genre_acc" in r for r in steps)
    epoch = _records(tmp_path, "epoch")[-1]
    assert 0.0 <= epoch["val_fact_audio_genre_acc"] <= 1.0 and "val_fact_text_genre_acc" in epoch


def test_fact_heads_stay_out_of_the_inference_checkpoint(tiny_cfg, tmp_path):
    trainer = Trainer(tiny_cfg("train.epochs=1"), tmp_path, progress=False)
    trainer.fit()
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "last", with_train_state=True)
    assert not any("fact" in k and "head" in k for k in ckpt.model.state_dict())
    assert set(ckpt.model.state_dict()) == set(trainer.model.state_dict())
    assert any(k.startswith("fact_heads.") for k in ckpt.train_state["net"])
    resumed = Trainer(tiny_cfg("train.epochs=1"), tmp_path, resume=True, progress=False)  # heads restore
    for name, p in resumed.net.fact_heads.state_dict().items():
        torch.testing.assert_close(p, trainer.net.fact_heads.state_dict()[name])


def test_facts_off_trains_as_before(tiny_cfg, tmp_path):
    trainer = Trainer(tiny_cfg("train.epochs=1", "loss.facts.weight=0", "augment.chain.p=0"), tmp_path,
                      progress=False)
    assert trainer.facts is None and trainer.net.fact_heads is None and trainer.chain is None
    trainer.fit()
    assert not any(k.startswith("fact") for k in _records(tmp_path, "step")[0])
