"""Two gloo processes under torchrun give the same loss and gradients as one process on the global batch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from muscall.config import load_config

ROWS = load_config("tiny").audio.feature_rows  # tiny's mel bands and chroma rows

SCRIPT = textwrap.dedent('''
    import os, sys, torch
    from torch.nn.parallel import DistributedDataParallel
    from muscall.config import load_config
    from muscall.models import create_model
    from muscall.utils import distributed as D
    from muscall.training.objective import Objective, TrainNet

    torch.set_num_threads(1)
    payload, out_path = sys.argv[1], sys.argv[2]
    data = torch.load(payload)
    cfg = load_config("tiny", ["loss.ssl=true", "loss.caption_weighting=true"])
    torch.manual_seed(0)
    net = TrainNet(create_model(cfg, vocab_size=64), cfg).eval()  # eval: no dropout, BatchNorm on running stats
    info = D.init_distributed(torch.device("cpu"))
    model = DistributedDataParallel(net) if info.enabled else net
    n = data["mel"].shape[0] // info.world_size
    part = slice(info.rank * n, (info.rank + 1) * n)
    out = model(data["mel"][part], data["tokens"][part], data["mask"][part], data["view"][part])
    losses = Objective(cfg, data["captions"])(out, data["index"][part], info)
    losses["loss"].backward()
    if info.is_main:
        torch.save({"loss": losses["loss"].detach(), "contrastive": losses["contrastive"].detach(),
                    "ssl": losses["ssl"].detach(),
                    "grads": {k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None}}, out_path)
    D.cleanup(info)
''')


def _run(tmp_path, nproc: int) -> dict:
    script, out = tmp_path / "step.py", tmp_path / f"out{nproc}.pt"
    script.write_text(SCRIPT)
    if nproc == 1:
        cmd = [sys.executable, str(script)]
    else:
        # --standalone: torchrun binds its rendezvous and worker stores to port 0 itself, so no free-port race
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
               f"--nproc_per_node={nproc}", str(script)]
    proc = subprocess.run(cmd + [str(tmp_path / "batch.pt"), str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (f"exit {proc.returncode}\nstdout:\n{proc.stdout[-2000:]}\n"
                                  f"stderr:\n{proc.stderr[-3000:]}")
    return torch.load(out)


@pytest.mark.slow
def test_two_gloo_ranks_equal_one_process(tmp_path):
    g = torch.Generator().manual_seed(1)
    b = 8
    captions = ["rock song with guitar", "calm piano piece", "fast techno beat", "sad jazz ballad",
                "loud metal riff", "soft ambient pad", "reggae groove", "rock song with drums"]
    batch = {"mel": torch.randn(b, ROWS, 126, generator=g), "view": torch.randn(b, ROWS, 126, generator=g),
             "tokens": torch.randint(4, 64, (b, 12), generator=g), "mask": torch.ones(b, 12, dtype=torch.bool),
             "index": torch.arange(b), "captions": captions}
    batch["mask"][::2, 9:] = False
    torch.save(batch, tmp_path / "batch.pt")
    single, double = _run(tmp_path, 1), _run(tmp_path, 2)
    for key in ("loss", "contrastive", "ssl"):
        torch.testing.assert_close(double[key], single[key], rtol=1e-5, atol=1e-6)
    assert single["grads"].keys() == double["grads"].keys() and len(single["grads"]) > 10
    for name, grad in single["grads"].items():
        torch.testing.assert_close(double["grads"][name], grad, rtol=1e-4, atol=1e-6, msg=name)
