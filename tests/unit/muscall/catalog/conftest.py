"""A tiny random checkpoint and a folder / manifest of generated tones for the catalog jobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from muscall.checkpoint import load_checkpoint, save_checkpoint
from muscall.config import load_config
from muscall.data.manifest import ClipRow, write_manifest
from muscall.models import create_model
from muscall.models.tokenizer import train_tokenizer

CAPTIONS = ["calm low sine tone", "bright high sine tone", "noisy rock rumble", "jazz piano tune",
            "ambient pad with hiss", "fast techno beat"]
GENRES = ["ambient", "rock", "jazz"]


def make_checkpoint(path: Path, seed: int = 0) -> Path:
    """Save a randomly initialised tiny model with a tokenizer trained on a few captions."""
    cfg = load_config("tiny")
    tokenizer = train_tokenizer(CAPTIONS + [f"{g} music" for g in GENRES], cfg.model.text.vocab_size)
    torch.manual_seed(seed)
    model = create_model(cfg, vocab_size=tokenizer.vocab_size)
    return save_checkpoint(path, model, cfg, tokenizer)


SECONDS = [0.8, 1.0, 1.2, 2.6, 1.0, 1.4, 0.9]  # track 3 spans two 2 s windows; the rest one


def write_tones(root: Path, n: int = 7) -> list[Path]:
    """``n`` (<= 7) tones of different pitch and length under ``root/a`` and ``root/b``."""
    paths = []
    for i in range(n):
        sr = 16000 if i % 3 else 22050
        t = np.arange(int(SECONDS[i] * sr)) / sr
        wave = (0.3 * np.sin(2 * np.pi * (110.0 * (i + 1)) * t)).astype(np.float32)
        path = root / ("a" if i % 2 else "b") / f"tone{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wave, sr)
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def ckpt_dir(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="session")
def ckpt(ckpt_dir):
    return load_checkpoint(ckpt_dir)


@pytest.fixture(scope="session")
def tone_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tones")
    write_tones(root)
    return root


@pytest.fixture(scope="session")
def tone_manifest(tmp_path_factory) -> Path:
    """A manifest of 6 tones with genres, tags and captions."""
    root = tmp_path_factory.mktemp("manifest")
    paths = write_tones(root / "audio", 6)
    rows = [ClipRow(id=f"clip{i}", audio_path=str(p.relative_to(root)), caption=CAPTIONS[i], split="test",
                    tags=[GENRES[i % 3], "tone"], attributes={"genre": GENRES[i % 3], "tempo": 100 + i})
            for i, p in enumerate(paths)]
    write_manifest(root / "manifest.jsonl", rows)
    return root / "manifest.jsonl"


def embed(ckpt, source: Path, out: Path, **kwargs):
    """Run the embedding job quietly (inline decoding, float32 shards unless told)."""
    from muscall.catalog.job import EmbedJob, run_embed_job

    options = {"shard_size": 2, "dtype": "float32", "workers": 0, "progress": False, **kwargs}
    hook = options.pop("on_part_done", None)
    return run_embed_job(ckpt, EmbedJob(source=str(source), out=str(out), **options), on_part_done=hook)


def signature(catalog_dir: Path) -> dict:
    """A catalog's manifest with every file checksum: equal signatures mean byte-identical catalogs."""
    from index.shards import load_catalog

    manifest = load_catalog(catalog_dir, verify=True).to_dict()
    return {k: v for k, v in manifest.items() if k != "directory"}


@pytest.fixture(scope="session")
def manifest_catalog(ckpt, tone_manifest, tmp_path_factory) -> Path:
    """The 6-track manifest embedded into shards of 4 (float32, windows kept)."""
    out = tmp_path_factory.mktemp("catalog") / "cat"
    embed(ckpt, tone_manifest, out, shard_size=4)
    return out


@pytest.fixture(name="embed")
def embed_fixture():
    """The ``embed`` helper (test modules cannot import conftest under --import-mode=importlib)."""
    return embed


@pytest.fixture(name="signature")
def signature_fixture():
    """The ``signature`` helper."""
    return signature


@pytest.fixture(name="make_ckpt")
def make_ckpt_fixture():
    """The ``make_checkpoint`` helper."""
    return make_checkpoint
