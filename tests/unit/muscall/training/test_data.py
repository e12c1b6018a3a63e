"""MelSource caps clips at data.cache_max_seconds, cached or decoded, so one long clip cannot inflate the cache."""

from __future__ import annotations

import numpy as np

from muscall.audio.features import num_frames
from muscall.data.manifest import read_manifest
from muscall.training.data import MelSource


def test_cache_max_seconds_bounds_cache_rows_and_decoded_clips(tone_corpus, tiny_cfg, tmp_path):
    rows = read_manifest(tone_corpus)[:3]  # three-second clips
    cfg = tiny_cfg()
    cfg.data.cache_max_seconds = 1.0  # shorter than a crop: load_config refuses it, MelSource must still cap
    cap = num_frames(cfg.audio.sample_rate, cfg.audio.hop_length)
    cached = MelSource.build(rows, tone_corpus, cfg, use_cache=True, cache_dir=tmp_path / "capped", progress=False)
    assert cached.cache.max_frames == cap and cached.cache.features.shape == (3, cfg.audio.feature_rows, cap)
    decoded = MelSource.build(rows, tone_corpus, cfg, use_cache=False)
    for i in range(3):
        assert cached[i].shape == decoded[i].shape == (cfg.audio.feature_rows, cap)
        np.testing.assert_allclose(cached[i], decoded[i], rtol=1e-2, atol=1e-2)  # cache is float16
    whole = MelSource.build(rows, tone_corpus, tiny_cfg("data.cache_max_seconds=null"), use_cache=True,
                            cache_dir=tmp_path / "whole", progress=False)
    assert whole.cache.max_frames == num_frames(3 * cfg.audio.sample_rate, cfg.audio.hop_length) > cap
