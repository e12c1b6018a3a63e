"""A tiny service world for the API and browser tests: random-init tiny model, tone tracks, a saved index.

Nothing is downloaded: the model is randomly initialised (seeded), the audio is generated sine tones.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from index import ShardWriter, TrackMeta, build_catalog, save_catalog
from muscall.audio.features import MelFrontEnd
from muscall.audio.windows import frames_to_seconds
from muscall.checkpoint import load_checkpoint, save_checkpoint
from muscall.config import load_config
from muscall.config.scoring import ScoringConfig
from muscall.data.manifest import ClipRow, write_manifest
from muscall.embedding import embed_mels
from muscall.keys import chroma_attribute, chroma_profile
from muscall.models import create_model
from muscall.models.tokenizer import train_tokenizer
from muscall.scoring.pipeline import features_for, rated_rows
from muscall.scoring.store import save_heads
from muscall.scoring.train import TrainSettings, fit_alignment_calibration, train_heads

GENRES = ["jazz", "rock", "ambient"]
TINY_HEADS = ScoringConfig(hidden=16, attention_hidden=8, coattn_dim=16, coattn_heads=2, segment_size=2,
                           sinkhorn_iters=10, dropout=0.0)
RATED_CAPTIONS = ["calm jazz music with a low tone", "bright rock music with a high tone",
                  "ambient music with a calm tone", "jazz music with a bright tone"]


def wav_bytes(seconds: float = 1.0, sr: int = 16000, channels: int = 1, freq: float = 440.0,
              amplitude: float = 0.3, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    """An in-memory sine tone file."""
    t = np.arange(int(seconds * sr)) / sr
    x = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    buf = io.BytesIO()
    sf.write(buf, data, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def make_tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    """Save a randomly initialised model of the ``tiny`` config with a tokenizer trained on a few captions."""
    cfg = load_config("tiny")
    captions = [f"{g} music with a {w} tone" for g in GENRES for w in ("low", "high", "calm", "bright")]
    tokenizer = train_tokenizer(captions, cfg.model.text.vocab_size)
    torch.manual_seed(seed)
    return save_checkpoint(path, create_model(cfg, vocab_size=tokenizer.vocab_size), cfg, tokenizer)


def build_tone_index(root: Path, checkpoint: Path, n_tracks: int = 8) -> tuple[Path, Path]:
    """Tones -> ``embed_mels`` -> shards with window embeddings -> a saved Flat index.

    Track ``i`` is ``GENRES[i % 3]/tone{i}.wav``: 1.5 + 0.5 i seconds of a 110 (i + 1) Hz sine, tagged with its
    genre, "tone" and "low" (first half) or "high". Returns ``(index_dir, shard_dir)`` under ``root``.
    """
    ckpt = load_checkpoint(checkpoint)
    cfg = ckpt.config.audio
    front = MelFrontEnd(cfg)
    metas, mels = [], []
    for i in range(n_tracks):
        seconds, genre = 1.5 + 0.5 * i, GENRES[i % 3]
        path = root / "audio" / genre / f"tone{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wav_bytes(seconds, freq=110.0 * (i + 1)))
        wave = front.wave(path)
        mels.append(front.mel(wave))
        metas.append(TrackMeta(f"{genre}/tone{i}.wav", str(path), f"Tone {i}", seconds,
                               [genre, "tone", "low" if i < n_tracks // 2 else "high"],
                               {"genre": genre, **chroma_attribute(chroma_profile(wave, cfg.sample_rate))}))
    emb = embed_mels(ckpt.model, mels, cfg, batch_size=8)
    for meta, starts in zip(metas, emb.starts):
        meta.attributes["window_starts"] = frames_to_seconds(starts, cfg)
    shards = root / "catalog"
    writer = ShardWriter(shards, shard_size=n_tracks, dtype="float32", model_hash=ckpt.sha256)
    writer.write_shard(0, emb.tracks, metas, windows=emb.windows)
    writer.finalize()
    index_dir = root / "index"
    with build_catalog(shards, "Flat", attribute_fields=("genre",), target_recall=0) as catalog:
        save_catalog(catalog, index_dir)
    return index_dir, shards


def make_tiny_heads(root: Path, checkpoint: Path) -> Path:
    """Quality heads (a tiny ensemble trained for one epoch on 8 rated tones) with an alignment calibration."""
    rows = []
    for i in range(8):
        name = f"clip{i}.wav"
        (root / name).write_bytes(wav_bytes(1.0, freq=150.0 + 60 * i, amplitude=0.05 + 0.05 * i))
        rows.append(ClipRow(id=f"c{i}", audio_path=name, caption=RATED_CAPTIONS[i % 4], split="train",
                            system=f"s{i % 2}", ratings={"MI": 1.0 + i * 0.5, "TA": 5.0 - i * 0.5},
                            attributes={"source_id": f"src{i}", "changed": [], "level_split": "train"}))
    manifest = root / "manifest.jsonl"
    write_manifest(manifest, rows)
    ckpt = load_checkpoint(checkpoint)
    feats = features_for(ckpt, rated_rows(manifest, "train", "all"), manifest, seconds=None)
    heads, _ = train_heads(TINY_HEADS, feats, feats, TrainSettings(epochs=1, batch_size=4, poolings=["mean"]))
    heads.checkpoint = {"path": str(checkpoint), "sha256": ckpt.sha256}
    heads.calibration = fit_alignment_calibration(feats)
    return save_heads(root / "heads", heads)
