"""The embed job stores each track's recording fingerprint row-aligned, per part (so resumption keeps them), and
``muscall index duplicates`` confirms vector candidates with them."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import soundfile as sf

from index.shards import load_catalog
from muscall.audio.fingerprint import fingerprint
from muscall.catalog.indexing import build_index
from muscall.catalog.reader import TrackReader, load_inputs
from muscall.cli.main import main

SR = 16000


def melody(seed: int, seconds: float = 12.0) -> np.ndarray:
    """Random notes of random timbre, a new one every 0.25 s: music enough for a fingerprint."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.25 * SR)) / SR
    notes = []
    for _ in range(int(seconds * 4)):
        f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
        partials = sum(rng.uniform(0, 1) / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 8))
        notes.append(rng.uniform(0.2, 1.0) * np.exp(-t * rng.uniform(2, 12)) * partials)
    wave = np.concatenate(notes)
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def test_catalog_fingerprints_are_row_aligned(ckpt, tone_manifest, manifest_catalog):
    inputs = load_inputs(tone_manifest)
    reader = TrackReader(inputs, ckpt.config.audio)
    shards = list(load_catalog(manifest_catalog).iter_shards())
    stored = [s.track_fingerprint(r) for s in shards for r in range(len(s.metadata))]
    assert len(stored) == len(inputs) and all(s.fingerprints is not None for s in shards)
    for i, got in enumerate(stored):
        np.testing.assert_array_equal(got, fingerprint(reader[i].mel, ckpt.config.audio))


def test_a_resumed_job_keeps_every_parts_fingerprints(ckpt, tone_dir, tmp_path, embed):
    def crash(part: int) -> None:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        embed(ckpt, tone_dir / "b", tmp_path / "cat", on_part_done=crash)
    embed(ckpt, tone_dir / "b", tmp_path / "cat")
    catalog = load_catalog(tmp_path / "cat")
    assert [s.fingerprints is not None for s in catalog.shards] == [True, True]


def test_index_duplicates_confirms_with_fingerprints(ckpt, tmp_path, embed, caplog):
    src = tmp_path / "music"
    src.mkdir()
    for seed in range(3):
        sf.write(src / f"song{seed}.wav", melody(seed), SR)
    sf.write(src / "song0-quiet.wav", melody(0) * 0.5, SR)
    sf.write(src / "song0-trimmed.wav", melody(0)[int(2.45 * SR):], SR)
    embed(ckpt, src, tmp_path / "cat", shard_size=2)
    build_index(tmp_path / "cat", tmp_path / "idx", "Flat", target_recall=0, progress=False)
    out = tmp_path / "pairs.json"
    assert main(["index", "duplicates", str(tmp_path / "idx"), "--threshold", "-1", "--catalog",
                 str(tmp_path / "cat"), "--out", str(out)]) == 0
    pairs = json.loads(out.read_text())
    assert {(p["track_a"], p["track_b"]) for p in pairs} == {
        ("song0-quiet.wav", "song0-trimmed.wav"), ("song0-quiet.wav", "song0.wav"), ("song0-trimmed.wav", "song0.wav")}
    trimmed = next(p for p in pairs if p["track_a"] == "song0-trimmed.wav")
    assert trimmed["fingerprint"] >= 0.75 and abs(trimmed["offset_s"] + 2.45) <= 0.1
    with caplog.at_level(logging.WARNING):  # no fingerprints to read: the vectors alone, and a line saying so
        assert main(["index", "duplicates", str(tmp_path / "idx"), "--threshold", "-1", "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())) == 10 and "re-embed" in caplog.text


def test_copies_and_other_masters_are_told_apart_by_their_level_profiles(ckpt, tmp_path, embed):
    src = tmp_path / "music"
    src.mkdir()
    song = melody(0, seconds=16.0)
    sf.write(src / "song.wav", song, SR)
    sf.write(src / "song-quiet-trimmed.wav", 0.4 * song[int(1.35 * SR):], SR)  # a copy: gain and trim
    remaster = np.concatenate([[0.0], song[1:] - 0.9 * song[:-1]]).astype(np.float32)  # another EQ: +19 dB tilt
    sf.write(src / "song-remaster.wav", remaster, SR)
    sf.write(src / "other.wav", melody(5, seconds=16.0), SR)
    embed(ckpt, src, tmp_path / "cat", shard_size=3)
    shards = list(load_catalog(tmp_path / "cat").iter_shards())
    for shard in shards:  # one level row per LEVEL_WORDS fingerprint words, per track
        for row in range(len(shard.metadata)):
            assert len(shard.track_levels(row)) == -(-len(shard.track_fingerprint(row)) // 10)
    build_index(tmp_path / "cat", tmp_path / "idx", "Flat", target_recall=0, progress=False)
    out = tmp_path / "pairs.json"
    assert main(["index", "duplicates", str(tmp_path / "idx"), "--threshold", "-1", "--catalog",
                 str(tmp_path / "cat"), "--out", str(out)]) == 0
    kinds = {(p["track_a"], p["track_b"]): (p["kind"], p["level_spread_db"]) for p in json.loads(out.read_text())}
    assert set(kinds) == {("song-quiet-trimmed.wav", "song.wav"), ("song-remaster.wav", "song.wav"),
                          ("song-quiet-trimmed.wav", "song-remaster.wav")}
    assert kinds[("song-quiet-trimmed.wav", "song.wav")][0] == "copy"
    assert kinds[("song-quiet-trimmed.wav", "song.wav")][1] <= 0.5
    assert kinds[("song-remaster.wav", "song.wav")][0] == "version"
    assert kinds[("song-remaster.wav", "song.wav")][1] >= 2.0
    assert main(["index", "duplicates", str(tmp_path / "idx"), "--threshold", "-1", "--catalog",
                 str(tmp_path / "cat"), "--kind", "copy", "--out", str(out)]) == 0
    assert [(p["track_a"], p["track_b"]) for p in json.loads(out.read_text())] == [("song-quiet-trimmed.wav",
                                                                                    "song.wav")]
