"""The catalog pipeline through the CLI: tiny checkpoint -> embed -> index build -> text search -> tag."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pyarrow.parquet as pq
import soundfile as sf
import torch

from muscall.checkpoint import save_checkpoint
from muscall.cli.main import main
from muscall.config import load_config
from muscall.models import create_model
from muscall.models.tokenizer import train_tokenizer

GENRES = ["jazz", "rock", "ambient"]


def _checkpoint(path):
    cfg = load_config("tiny")
    tokenizer = train_tokenizer([f"{g} music with a {w} tone" for g in GENRES for w in ("low", "high")],
                                cfg.model.text.vocab_size)
    torch.manual_seed(0)
    return save_checkpoint(path, create_model(cfg, vocab_size=tokenizer.vocab_size), cfg, tokenizer)


def _songs(root, n=5):
    for i in range(n):
        t = np.arange(int((1.0 + 0.4 * i) * 16000)) / 16000
        (root / GENRES[i % 3]).mkdir(parents=True, exist_ok=True)
        sf.write(root / GENRES[i % 3] / f"song{i}.flac", (0.3 * np.sin(2 * np.pi * 150 * (i + 1) * t)), 16000)
    (root / "jazz" / "broken.mp3").write_bytes(b"ID3 but nothing else")


@pytest.mark.slow
def test_embed_index_search_tag(tmp_path, capsys):
    ckpt, songs, cat, idx = tmp_path / "ckpt", tmp_path / "songs", tmp_path / "cat", tmp_path / "idx"
    _checkpoint(ckpt)
    _songs(songs)
    capsys.readouterr()
    assert main(["embed", "--checkpoint", str(ckpt), "--source", str(songs), "--out", str(cat), "--shard-size", "2",
                 "--workers", "0", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tracks"] == 5 and summary["failed"] == 1 and summary["shards"] == 3
    assert "broken.mp3" in (cat / "failures.jsonl").read_text()

    assert main(["index", "build", "--catalog", str(cat), "--out", str(idx), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["index", "search", "--index", str(idx), "--checkpoint", str(ckpt), "--text", "jazz music in D minor",
                 "--k", "3"]) == 0
    out = capsys.readouterr()
    table = out.out.splitlines()  # the reading goes to stderr, so stdout stays the table
    assert out.err.strip().endswith("read as: key D minor; words as written (this model has no vocabulary bridge to "
                                    "check them)")
    assert len(table) == 5 and table[0].split()[:3] == ["#", "score", "title"] and "song" in table[2]

    labels = tmp_path / "genres.txt"
    labels.write_text("\n".join(GENRES) + "\n")
    assert main(["tag", "--catalog", str(cat), "--checkpoint", str(ckpt), "--labels", str(labels),
                 "--write-db", str(idx), "--no-progress"]) == 0
    tags = pq.read_table(cat / "tags-genres.parquet").to_pydict()
    assert len(tags["track_id"]) == 5 and set(tags["top_label"]) <= set(GENRES)
    top = tags["top_label"][0]
    capsys.readouterr()
    assert main(["index", "search", "--index", str(idx), "--checkpoint", str(ckpt), "--text", "music",
                 "--tag", top, "--json"]) == 0
    out = capsys.readouterr()
    hits = json.loads(out.out)
    assert out.err.strip().endswith("read as: words as written (this model has no vocabulary bridge to check them)")
    assert hits and all(top in h["tags"] for h in hits)
    assert tags["track_id"][0] in {h["track_id"] for h in hits}
