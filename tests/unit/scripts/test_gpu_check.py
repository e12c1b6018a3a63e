"""scripts/gpu_check.sh without a CUDA device: one clear 'skipped' line and exit 0 (CPU machines, `make test`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_gpu_check_skips_cleanly_without_cuda(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": "",  # hides any GPU: the skip path
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path / "out")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "gpu_check: skipped: no CUDA device (torch.cuda.is_available() is false)"
    assert not (tmp_path / "out").exists()  # nothing generated, nothing trained


def test_gpu_check_fails_loudly_when_python_cannot_import_torch(tmp_path):
    env = {**os.environ, "PYTHON": str(tmp_path / "no-such-python")}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "cannot import torch" in out.stderr and "skipped" not in out.stdout
