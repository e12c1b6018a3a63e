"""A job killed with SIGKILL (as the OOM killer does) takes its worker processes with it, and a rerun resumes it.

Each test starts a CLI job with two workers on tiny generated data, kills the parent once its workers run and
some work is committed, checks that no process it started is still alive a few seconds later, then reruns the
same command and checks that the result is complete with nothing lost or duplicated.
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from muscall.data.manifest import ClipRow, read_manifest, write_manifest
from tests.support.orphans import finish, kill_mid_run
from tests.support.tiny_service import build_tone_index, make_tiny_checkpoint

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux only")]

N_CLIPS = 12


def _parts(folder: Path) -> bool:
    return any((folder / "parts").glob("shard-*.jsonl"))


@pytest.fixture(scope="module")
def synth(tmp_path_factory, soundfont) -> tuple[Path, set[int]]:
    """A corpus whose first run was killed mid-way and whose second run finished it; the first run's survivors."""
    out = tmp_path_factory.mktemp("synth") / "corpus"
    args = ["data", "synth", "--out", str(out), "--n", str(N_CLIPS), "--seconds", "2", "--seed", "3",
            "--shard-size", "1", "--workers", "2", "--soundfont", soundfont, "--no-progress"]
    log = out.parent / "log.txt"
    survivors = kill_mid_run(args, log, workers=2, ready=lambda: _parts(out))
    assert not (out / "manifest.jsonl").exists(), "the first run finished before it was killed"
    finish(args, log)
    return out, survivors


def test_killed_synth_leaves_no_workers_and_resumes(synth):
    out, survivors = synth
    assert survivors == set()
    rows = read_manifest(out / "manifest.jsonl")
    assert len(rows) == N_CLIPS and len({r.id for r in rows}) == N_CLIPS
    assert json.loads((out / "corpus.json").read_text())["last_run"]["reused"] > 0


def test_killed_degrade_leaves_no_workers_and_resumes(synth, tmp_path):
    corpus, _ = synth
    out = tmp_path / "quality"
    args = ["data", "degrade", "--corpus", str(corpus), "--out", str(out), "--clips", str(N_CLIPS), "--workers", "2",
            "--shard-size", "1", "--types", "white,clip,lowpass", "--no-progress"]
    survivors = kill_mid_run(args, tmp_path / "log.txt", workers=2, ready=lambda: _parts(out))
    assert survivors == set()
    assert not (out / "manifest.jsonl").exists(), "the first run finished before it was killed"
    finish(args, tmp_path / "log.txt")
    rows = read_manifest(out / "manifest.jsonl")
    assert len({r.id for r in rows}) == len(rows)
    assert {r.id.split("__")[0] for r in rows} == {r.id for r in read_manifest(corpus / "manifest.jsonl")}
    assert json.loads((out / "degrade.json").read_text())["last_run"]["reused"] > 0


def _tones(root: Path, n: int, seconds: float = 3.0, sr: int = 16000) -> list[Path]:
    """``n`` sine tones of different pitch under ``root``."""
    t = np.arange(int(seconds * sr)) / sr
    paths = []
    for i in range(n):
        path = root / f"t{i:03d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.3 * np.sin(2 * np.pi * 110.0 * (1 + i / 8) * t)).astype(np.float32), sr)
        paths.append(path)
    return paths


def test_killed_embed_leaves_no_workers_and_resumes(tmp_path):
    source, out = tmp_path / "songs", tmp_path / "catalog"
    _tones(source, 40)
    ckpt = make_tiny_checkpoint(tmp_path / "ckpt")
    args = ["embed", "--checkpoint", str(ckpt), "--source", str(source), "--out", str(out), "--shard-size", "2",
            "--workers", "2", "--device", "cpu", "--no-progress"]
    survivors = kill_mid_run(args, tmp_path / "log.txt", workers=2, ready=lambda: _parts(out))
    assert survivors == set()
    assert not json.loads((out / "job.json").read_text()).get("complete"), "the first run finished before the kill"
    finish(args, tmp_path / "log.txt")
    ids = [json.loads(line)["track_id"] for shard in sorted(out.glob("shard-*.jsonl")) for line in shard.open()]
    assert sorted(ids) == sorted(p.name for p in source.iterdir())


def test_killed_training_leaves_no_workers_and_resumes(tmp_path):
    rows = [ClipRow(id=p.stem, audio_path=f"audio/{p.name}", caption=("low" if i % 2 else "high") + " sine tone",
                    split="train" if i < 32 else "val") for i, p in enumerate(_tones(tmp_path / "audio", 40))]
    write_manifest(tmp_path / "manifest.jsonl", rows)
    out = tmp_path / "run"
    args = ["train", "tiny", f"data.manifest={tmp_path / 'manifest.jsonl'}", "train.epochs=3", "train.num_workers=2",
            "train.checkpoint_every=1", "train.early_stop_patience=100", "train.val_pool_size=8", "--out", str(out),
            "--no-progress"]
    survivors = kill_mid_run(args, tmp_path / "log.txt", workers=2,
                             ready=lambda: (out / "checkpoints" / "last").is_dir())
    assert survivors == set()
    text = finish([*args, "--resume"], tmp_path / "log.txt")
    result = json.loads(text[text.rindex("{\n"):])
    assert (result["epochs"], result["steps"]) == (3, 12)  # 32 clips, 4 batches of 8 per epoch, none twice


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def test_killed_server_leaves_no_workers(tmp_path):
    ckpt = make_tiny_checkpoint(tmp_path / "ckpt")
    index_dir, _ = build_tone_index(tmp_path, ckpt)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["serve", "--catalog", str(index_dir), "--checkpoint", str(ckpt), "--workers", "2", "--port", str(port)]
    survivors = kill_mid_run(args, tmp_path / "log.txt", workers=2,
                             ready=lambda: _answers(f"http://127.0.0.1:{port}/healthz"))
    assert survivors == set()
