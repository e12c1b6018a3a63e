"""Mapper stage: the same vectors as embed_mels, window start times in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from muscall.catalog.mapper import TrackMapper
from muscall.embedding import embed_mels


def _mels(ckpt, rng, lengths=(100, 300, 520)):
    return [rng.standard_normal((ckpt.config.audio.feature_rows, n)).astype(np.float32) for n in lengths]


def test_embed_equals_embed_mels(ckpt):
    mels = _mels(ckpt, np.random.default_rng(0))
    mapper = TrackMapper(ckpt.model, ckpt.config.audio, batch_size=3)
    got = mapper.embed(iter(mels))  # consumed lazily, like the job's stream
    ref = embed_mels(ckpt.model, mels, ckpt.config.audio, batch_size=3)
    np.testing.assert_array_equal(got.tracks, ref.tracks)
    for a, b in zip(got.windows, ref.windows):
        np.testing.assert_array_equal(a, b)
    assert got.tracks.shape == (3, mapper.dim)
    np.testing.assert_allclose(np.linalg.norm(got.tracks, axis=1), 1.0, atol=1e-5)


def test_batch_size_does_not_change_the_vectors(ckpt):
    mels = _mels(ckpt, np.random.default_rng(1))
    small = TrackMapper(ckpt.model, ckpt.config.audio, batch_size=1).embed(mels)
    big = TrackMapper(ckpt.model, ckpt.config.audio, batch_size=16).embed(mels)
    np.testing.assert_allclose(small.tracks, big.tracks, atol=1e-5)


def test_window_starts_in_seconds(ckpt):
    mapper = TrackMapper(ckpt.model, ckpt.config.audio)
    audio = ckpt.config.audio
    emb = mapper.embed(_mels(ckpt, np.random.default_rng(2), lengths=(520,)))
    seconds = mapper.start_seconds(emb.starts[0])
    assert seconds[0] == 0.0 and len(seconds) == len(emb.windows[0]) > 1
    hop = audio.window_hop_seconds
    assert seconds[1] == pytest.approx(hop, abs=audio.hop_length / audio.sample_rate)
    last_end = seconds[-1] + audio.clip_seconds
    assert last_end == pytest.approx(519 * audio.hop_length / audio.sample_rate, abs=0.02)


def test_bad_batch_size(ckpt):
    with pytest.raises(ValueError):
        TrackMapper(ckpt.model, ckpt.config.audio, batch_size=0)
