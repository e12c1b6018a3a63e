"""The feature cache round-trips, is reused when current, rebuilt or refused when stale, and resumes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import muscall.audio.features as features_mod
from muscall.audio.cache import FeatureCache, build_feature_cache
from muscall.audio.decode import decode
from muscall.audio.features import LogMel
from muscall.audio.windows import num_frames
from muscall.config import load_config
from muscall.data.manifest import ClipRow
from muscall.errors import AudioLoadError, MuscallError

SECONDS = [1.0, 1.5, 1.0, 0.75]  # two equal lengths exercise the batched path


@pytest.fixture
def corpus(tmp_path, tone):
    """Four clips at mixed rates/channels, a manifest path, and the tiny audio config."""
    for i, secs in enumerate(SECONDS):
        tone(f"audio/c{i}.flac", seconds=secs, sr=22050 if i % 2 else 16000, freq=300.0 + 200 * i,
             channels=1 + i % 2)
    rows = [ClipRow(id=f"c{i}", audio_path=f"audio/c{i}.flac", caption=f"clip {i}") for i in range(len(SECONDS))]
    return rows, tmp_path / "manifest.jsonl", load_config("tiny").audio


def expected(row: ClipRow, manifest_path, cfg, seconds=None) -> np.ndarray:
    wave = decode(manifest_path.parent / row.audio_path, cfg)
    if seconds is not None:
        wave = wave[: int(round(seconds * cfg.sample_rate))]
    return LogMel.from_config(cfg)(torch.from_numpy(wave)).numpy()


def build(rows: list[ClipRow], manifest, cfg, cache_dir, **kwargs) -> FeatureCache:
    """The cache of manifest rows, as the mel source builds it."""
    paths = [manifest.parent / row.audio_path for row in rows]
    return build_feature_cache([row.id for row in rows], paths, cfg, cache_dir, manifest=manifest, **kwargs)


def test_round_trip_within_float16(corpus, tmp_path):
    rows, manifest, cfg = corpus
    cache = build(rows, manifest, cfg, tmp_path / "cache", progress=False)
    reopened = FeatureCache.open(tmp_path / "cache", audio_cfg=cfg, ids=[r.id for r in rows])
    assert len(reopened) == 4 and reopened.features.dtype == np.float16
    assert reopened.features.shape == (4, cfg.feature_rows, num_frames(24000, cfg.hop_length))
    for i, row in enumerate(rows):
        ref = expected(row, manifest, cfg)
        assert reopened.lengths[i] == ref.shape[1] == num_frames(round(SECONDS[i] * 16000), cfg.hop_length)
        got = reopened[i]
        assert got.dtype == np.float32 and got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-3)  # float16: 11-bit mantissa
        np.testing.assert_array_equal(cache.get(row.id), got)
    assert reopened.index_of("c2") == 2
    with pytest.raises(MuscallError, match="not in feature cache"):
        reopened.index_of("nope")


def test_seconds_keeps_the_start_of_each_clip(corpus, tmp_path):
    rows, manifest, cfg = corpus
    cache = build(rows, manifest, cfg, tmp_path / "cache", seconds=0.8, progress=False)
    assert cache.max_frames == num_frames(12800, cfg.hop_length)
    assert cache.lengths.tolist() == [cache.max_frames] * 3 + [num_frames(12000, cfg.hop_length)]
    np.testing.assert_allclose(cache[1], expected(rows[1], manifest, cfg, seconds=0.8), rtol=1e-3, atol=1e-3)


def test_current_cache_is_reused_without_decoding(corpus, tmp_path, monkeypatch):
    rows, manifest, cfg = corpus
    build(rows, manifest, cfg, tmp_path / "cache", progress=False)
    monkeypatch.setattr(features_mod, "decode", lambda *a, **k: pytest.fail("decoded again"))
    assert len(build(rows, manifest, cfg, tmp_path / "cache", progress=False)) == 4


def test_config_or_id_mismatch_is_refused_on_open_and_rebuilt_on_build(corpus, tmp_path):
    rows, manifest, cfg = corpus
    build(rows, manifest, cfg, tmp_path / "cache", progress=False)
    other = load_config("tiny", ["audio.n_mels=24"]).audio
    with pytest.raises(MuscallError, match="other audio settings"):
        FeatureCache.open(tmp_path / "cache", audio_cfg=other)
    with pytest.raises(MuscallError, match="different clips"):
        FeatureCache.open(tmp_path / "cache", ids=["c0", "c1"])
    rebuilt = build(rows[:2], manifest, other, tmp_path / "cache", progress=False)
    assert rebuilt.ids == ["c0", "c1"] and rebuilt.features.shape[1] == other.feature_rows == 36
    np.testing.assert_allclose(rebuilt[1], expected(rows[1], manifest, other), rtol=1e-3, atol=1e-3)
    assert FeatureCache.open(tmp_path / "cache", audio_cfg=other).n_mels == 24


def test_interrupted_build_is_not_valid_and_resumes(corpus, tmp_path, monkeypatch):
    rows, manifest, cfg = corpus
    calls, crashed = [], []

    def flaky(path, *args, **kwargs):
        calls.append(path.name)
        if path.name == "c2.flac" and not crashed:
            crashed.append(path.name)
            raise AudioLoadError(path, "simulated crash")
        return decode(path, *args, **kwargs)

    monkeypatch.setattr(features_mod, "decode", flaky)
    with pytest.raises(AudioLoadError, match="simulated crash"):
        build(rows, manifest, cfg, tmp_path / "cache", chunk=1, progress=False)
    with pytest.raises(MuscallError, match="no feature cache"):
        FeatureCache.open(tmp_path / "cache")
    calls.clear()
    cache = build(rows, manifest, cfg, tmp_path / "cache", chunk=1, progress=False)
    assert calls == ["c2.flac", "c3.flac"]  # c0 and c1 were kept from the first attempt
    for i, row in enumerate(rows):
        np.testing.assert_allclose(cache[i], expected(row, manifest, cfg), rtol=1e-3, atol=1e-3)
    assert not (tmp_path / "cache" / ".building").exists()


def test_damaged_cache_is_refused(corpus, tmp_path):
    rows, manifest, cfg = corpus
    build(rows, manifest, cfg, tmp_path / "cache", progress=False)
    features = tmp_path / "cache" / "features.npy"
    features.write_bytes(features.read_bytes()[:-100])
    with pytest.raises(MuscallError, match="wrong size"):
        FeatureCache.open(tmp_path / "cache")


def test_cache_pickles_for_dataloader_workers(corpus, tmp_path):
    rows, manifest, cfg = corpus
    cache = build(rows, manifest, cfg, tmp_path / "cache", progress=False)
    _ = cache[0]  # opens the memmap
    clone = pickle.loads(pickle.dumps(cache))
    np.testing.assert_array_equal(clone[3], cache[3])
