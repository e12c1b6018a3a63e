"""MelSource caps clips at data.cache_max_seconds, cached or decoded, so one long clip cannot inflate the cache."""

from __future__ import annotations

import numpy as np
import pytest

from muscall.audio.windows import num_frames
from muscall.config import load_config
from muscall.data.manifest import ClipRow, read_manifest, write_manifest
from muscall.data.mels import MelSource


@pytest.fixture
def three_second_clips(tone, tmp_path):
    """A manifest of three three-second tones."""
    rows = []
    for i in range(3):
        tone(f"audio/t{i}.wav", seconds=3.0, freq=220.0 * (i + 1))
        rows.append(ClipRow(id=f"t{i}", audio_path=f"audio/t{i}.wav", caption=f"tone {i}"))
    write_manifest(tmp_path / "manifest.jsonl", rows)
    return tmp_path / "manifest.jsonl"


def test_cache_max_seconds_bounds_cache_rows_and_decoded_clips(three_second_clips, tmp_path):
    rows = read_manifest(three_second_clips)
    cfg = load_config("tiny")
    cfg.data.cache_max_seconds = 1.0  # shorter than a crop: load_config refuses it, MelSource must still cap
    cap = num_frames(cfg.audio.sample_rate, cfg.audio.hop_length)
    cached = MelSource.build(rows, three_second_clips, cfg, use_cache=True, cache_dir=tmp_path / "capped",
                             progress=False)
    assert cached.cache.max_frames == cap and cached.cache.features.shape == (3, cfg.audio.feature_rows, cap)
    decoded = MelSource.build(rows, three_second_clips, cfg, use_cache=False)
    for i in range(3):
        assert cached[i].shape == decoded[i].shape == (cfg.audio.feature_rows, cap)
        np.testing.assert_allclose(cached[i], decoded[i], rtol=1e-2, atol=1e-2)  # cache is float16
    whole = MelSource.build(rows, three_second_clips, load_config("tiny", ["data.cache_max_seconds=null"]),
                            use_cache=True, cache_dir=tmp_path / "whole", progress=False)
    assert whole.cache.max_frames == num_frames(3 * cfg.audio.sample_rate, cfg.audio.hop_length) > cap


def test_with_chroma_gives_the_same_mel_and_chroma_as_reading_them_apart(three_second_clips, tmp_path):
    rows = read_manifest(three_second_clips)
    cfg = load_config("tiny")
    for source in (MelSource.build(rows, three_second_clips, cfg, use_cache=False),
                   MelSource.build(rows, three_second_clips, cfg, use_cache=True, cache_dir=tmp_path / "c",
                                   progress=False)):
        for i in range(3):
            mel, chroma = source.with_chroma(i)
            np.testing.assert_array_equal(mel, source[i])
            np.testing.assert_array_equal(chroma, source.chroma(i))
    profiles = [MelSource(rows, three_second_clips, cfg.audio).with_chroma(i)[1] for i in range(3)]
    assert [int(np.argmax(p)) for p in profiles] == [9, 9, 4]  # 220 Hz and 440 Hz are A, 660 Hz is E
