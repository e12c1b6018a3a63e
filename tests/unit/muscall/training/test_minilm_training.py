"""Training with the MiniLM text tower: both modes take steps, checkpoints round-trip, optimizer groups' rates."""

from __future__ import annotations

import pytest
import torch

from muscall.checkpoint import load_checkpoint
from muscall.models import minilm_available
from muscall.training.trainer import Trainer, _param_groups

needs_minilm = pytest.mark.skipif(not minilm_available(), reason="optional MiniLM package not installed")
MINILM = ("model.text.encoder=minilm", "train.epochs=1", "train.val_pool_size=4")
CAPTIONS = ["low calm sine tone", "a caption the corpus never had"]


def test_param_groups_without_pretrained_weights_are_unchanged():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    groups = _param_groups([net], 0.1, text_lr_scale=0.1)
    assert [(len(g["params"]), g["weight_decay"], g["lr_scale"]) for g in groups] == [(1, 0.1, 1.0), (3, 0.0, 1.0)]


@pytest.mark.slow
@needs_minilm
@pytest.mark.parametrize("mode", [("model.text.minilm_adaptor_layers=1",),
                                  ("model.text.minilm_trainable_layers=2", "train.text_lr_scale=0.1")])
def test_minilm_modes_train_and_round_trip(tiny_cfg, tmp_path, mode):
    trainer = Trainer(tiny_cfg(*MINILM, *mode), tmp_path, progress=False)
    before = {n: p.detach().clone() for n, p in trainer.model.text_encoder.named_parameters()}
    trainer.fit()
    changed = {n for n, p in trainer.model.text_encoder.named_parameters() if not torch.equal(p, before[n])}
    trainable = {n for n, p in trainer.model.text_encoder.named_parameters() if p.requires_grad}
    assert changed and changed <= trainable  # trained weights moved, frozen ones did not
    assert all(n.startswith(("adaptor.", "backbone.encoder.layer.4.", "backbone.encoder.layer.5.")) for n in trainable)
    assert len(trainer.model.text_encoder.cache) > 0
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "last")
    assert ckpt.tokenizer.bos == "[CLS]" and ckpt.tokenizer.vocab_size == trainer.tokenizer.vocab_size
    tokens, mask = ckpt.tokenizer.encode_batch(CAPTIONS, 32)
    trainer.model.eval()
    with torch.no_grad():
        assert torch.equal(trainer.model.encode_text(tokens, mask), ckpt.model.encode_text(tokens, mask))


@pytest.mark.slow
@needs_minilm
def test_tuned_minilm_layers_learn_at_the_scaled_rate(tiny_cfg, tmp_path):
    trainer = Trainer(tiny_cfg(*MINILM, "model.text.minilm_trainable_layers=1", "train.text_lr_scale=0.25"),
                      tmp_path, progress=False)
    trainer.global_step = 5
    trainer._set_lr()
    backbone = {id(p) for p in trainer.model.text_encoder.backbone.parameters() if p.requires_grad}
    rates = {}
    for group in trainer.optimizer.param_groups:
        pretrained = {id(p) in backbone for p in group["params"]}
        assert len(pretrained) == 1  # a group is all MiniLM or none of it
        rates.setdefault(pretrained.pop(), set()).add(group["lr"])
    assert len(rates[False]) == 1 and len(rates[True]) == 1
    assert rates[True].pop() == pytest.approx(0.25 * rates[False].pop())
    optimized = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert backbone <= optimized
    assert not optimized & {id(p) for p in trainer.model.text_encoder.backbone.embeddings.parameters()}
