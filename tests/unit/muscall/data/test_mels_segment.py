"""A manifest row with attributes.offset_s / clip_seconds is trained, evaluated and embedded on that segment only."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from muscall.audio.features import MelFrontEnd
from muscall.catalog.reader import TrackReader, load_inputs
from muscall.config import load_config
from muscall.data.manifest import ClipRow, clip_segment, read_manifest, write_manifest
from muscall.data.mels import MelSource
from muscall.errors import MuscallError

SR = 16000


@pytest.fixture
def long_file_manifest(tmp_path):
    """A 30 s file (220 Hz, 880 Hz, 440 Hz, 10 s each); row ``mid`` captions its middle, ``whole`` all of it."""
    t = np.arange(10 * SR) / SR
    wave = np.concatenate([0.3 * np.sin(2 * np.pi * f * t) for f in (220.0, 880.0, 440.0)]).astype(np.float32)
    sf.write(tmp_path / "video.wav", wave, SR, subtype="FLOAT")
    rows = [ClipRow(id="mid", audio_path="video.wav", caption="a high tone",
                    attributes={"offset_s": 10.0, "clip_seconds": 10.0}),
            ClipRow(id="whole", audio_path="video.wav", caption="three tones")]
    write_manifest(tmp_path / "manifest.jsonl", rows)
    return tmp_path / "manifest.jsonl", wave


def test_training_and_evaluation_read_the_captioned_segment(long_file_manifest, tmp_path):
    manifest, wave = long_file_manifest
    cfg = load_config("tiny", ["data.cache_max_seconds=null"])
    rows = read_manifest(manifest)
    want = MelFrontEnd(cfg.audio).mel(wave[10 * SR: 20 * SR])
    decoded = MelSource.build(rows, manifest, cfg, use_cache=False)
    cached = MelSource.build(rows, manifest, cfg, use_cache=True, cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_allclose(decoded[0], want, atol=1e-4)
    np.testing.assert_allclose(cached[0], want, rtol=1e-2, atol=1e-2)  # the cache is float16
    assert decoded[1].shape[1] == cached[1].shape[1] > 2.9 * want.shape[1]  # the other row: the whole file
    rows[0].attributes["offset_s"] = 0.0  # another segment: the cache is rebuilt, not reused
    moved = MelSource.build(rows, manifest, cfg, use_cache=True, cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_allclose(moved[0], MelFrontEnd(cfg.audio).mel(wave[: 10 * SR]), rtol=1e-2, atol=1e-2)


def test_the_catalog_embeds_the_segment(long_file_manifest):
    manifest, _ = long_file_manifest
    reader = TrackReader(load_inputs(manifest), load_config("tiny").audio)
    assert reader[0].duration == pytest.approx(10.0) and reader[1].duration == pytest.approx(30.0)


def test_segment_attributes():
    assert clip_segment({}) is None and clip_segment({"genre": "jazz"}) is None
    segment = clip_segment({"offset_s": 30, "clip_seconds": 10})
    assert (segment.start, segment.duration) == (30.0, 10.0)
    assert clip_segment({"offset_s": 5}).duration is None
    with pytest.raises(MuscallError, match="row 'x': attributes.offset_s='soon'"):
        clip_segment({"offset_s": "soon"}, "row 'x': ")
    with pytest.raises(MuscallError, match="clip_seconds > 0"):
        clip_segment({"offset_s": 1, "clip_seconds": 0})
