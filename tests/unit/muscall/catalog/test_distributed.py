"""Two gloo ranks under torchrun write the same embedding catalog and tag table as one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[4]


def _cli(args: list[str], nproc: int) -> None:
    """Run ``muscall ARGS`` in a fresh process, or under torchrun with ``nproc`` gloo ranks."""
    if nproc == 1:
        cmd = [sys.executable, "-m", "muscall.cli.main", *args]
    else:
        # --standalone: torchrun binds its rendezvous and worker stores to port 0 itself, so no free-port race
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
               f"--nproc_per_node={nproc}", "-m", "muscall.cli.main", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}  # torchrun sets 1 thread per rank too
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)
    assert proc.returncode == 0, (f"exit {proc.returncode}\nstdout:\n{proc.stdout[-2000:]}\n"
                                  f"stderr:\n{proc.stderr[-3000:]}")


@pytest.mark.slow
def test_two_gloo_ranks_equal_one_process(ckpt_dir, tone_dir, tmp_path, signature):
    source = tmp_path / "src"
    shutil.copytree(tone_dir / "b", source)
    (source / "broken.wav").write_bytes(b"not audio at all")  # 5 inputs, 3 parts of 2, one failure
    labels = tmp_path / "genres.txt"
    labels.write_text("rock\njazz\nambient\n")
    for name, nproc in (("one", 1), ("two", 2)):
        out = tmp_path / name
        _cli(["embed", "--checkpoint", str(ckpt_dir), "--source", str(source), "--out", str(out), "--shard-size",
              "2", "--workers", "0", "--dtype", "float32", "--device", "cpu", "--no-progress"], nproc)
        _cli(["tag", "--catalog", str(out), "--checkpoint", str(ckpt_dir), "--labels", str(labels), "--mode", "multi",
              "--device", "cpu", "--no-progress"], nproc)
    assert signature(tmp_path / "two") == signature(tmp_path / "one")
    assert signature(tmp_path / "one")["n_rows"] == 4
    assert (tmp_path / "two" / "failures.jsonl").read_text() == (tmp_path / "one" / "failures.jsonl").read_text()
    plan = json.loads((tmp_path / "two" / "job.json").read_text())
    assert plan["complete"] and not (tmp_path / "two" / "parts").exists()
    tags = [pq.read_table(tmp_path / name / "tags-genres.parquet").to_pydict() for name in ("one", "two")]
    assert tags[0] == tags[1] and len(tags[0]["track_id"]) == 4
