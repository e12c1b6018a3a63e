"""Full-track windows cover every sample deterministically; crops are seeded; short clips padded per rule."""

from __future__ import annotations

import numpy as np
import pytest

from muscall.audio.windows import (full_track_windows, pad_to, random_crop, random_frame_crop, window_params,
                                   window_starts)
from muscall.config import load_config


def test_window_starts_rule():
    assert window_starts(100, 30, 20).tolist() == [0, 20, 40, 60, 70]  # last one aligned to the end
    assert window_starts(90, 30, 30).tolist() == [0, 30, 60]  # exact fit: no extra window
    assert window_starts(30, 30, 10).tolist() == [0]
    assert window_starts(10, 30, 10).tolist() == [0]  # shorter than a window
    assert window_starts(100, 30, 50).tolist() == [0, 50, 70]  # hop > window: tail still covered


@pytest.mark.parametrize("n", [51, 99, 100, 101, 257, 1000])
@pytest.mark.parametrize("window,hop", [(30, 10), (30, 30), (50, 20), (16, 40)])
def test_windows_cover_every_sample_and_stay_inside(n, window, hop):
    wave = np.arange(n, dtype=np.float32)
    windows = full_track_windows(wave, window, hop)
    starts = window_starts(n, window, hop)
    assert windows.shape == (len(starts), window)
    np.testing.assert_array_equal(windows, wave[starts[:, None] + np.arange(window)])
    assert starts[0] == 0 and starts[-1] + window == n and np.all(np.diff(starts) > 0)
    covered = np.zeros(n, dtype=bool)
    for s in starts:
        covered[s:s + window] = True
    if hop <= window:
        assert covered.all()


def test_windows_are_deterministic_and_fresh():
    wave = np.random.default_rng(0).standard_normal(12345).astype(np.float32)
    a, b = full_track_windows(wave, 1000, 400), full_track_windows(wave, 1000, 400)
    np.testing.assert_array_equal(a, b)
    a[0, 0] = 99.0
    assert wave[0] != 99.0  # a copy, not a view into the track


def test_short_clip_is_loop_padded_by_default_or_zero_padded():
    clip = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    np.testing.assert_array_equal(full_track_windows(clip, 8, 4), [[1, 2, 3, 1, 2, 3, 1, 2]])
    np.testing.assert_array_equal(full_track_windows(clip, 8, 4, pad_mode="zero"), [[1, 2, 3, 0, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match="pad mode"):
        pad_to(clip, 8, "reflect")
    with pytest.raises(ValueError, match="1-D"):
        full_track_windows(np.zeros((2, 10)), 4, 2)


def test_random_crop_is_seeded_and_contiguous():
    wave = np.arange(1000, dtype=np.float32)
    crops = [random_crop(wave, 100, np.random.default_rng(7)) for _ in range(2)]
    np.testing.assert_array_equal(crops[0], crops[1])
    rng = np.random.default_rng(7)
    starts = {int(random_crop(wave, 100, rng)[0]) for _ in range(50)}
    assert len(starts) > 10 and min(starts) >= 0 and max(starts) <= 900
    crop = random_crop(wave, 100, np.random.default_rng(3))
    np.testing.assert_array_equal(np.diff(crop), np.ones(99))


def test_random_crop_pads_short_clips_and_draws_once():
    clip = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    np.testing.assert_array_equal(random_crop(clip, 7, rng_a), [1, 2, 3, 1, 2, 3, 1])
    np.testing.assert_array_equal(random_crop(clip, 7, np.random.default_rng(1), "zero"), [1, 2, 3, 0, 0, 0, 0])
    random_crop(np.arange(50.0), 7, rng_b)
    assert rng_a.integers(1 << 30) == rng_b.integers(1 << 30)  # both consumed one draw


def test_random_frame_crop_crops_frames_only():
    mel = np.random.default_rng(0).standard_normal((16, 200)).astype(np.float32)
    crop = random_frame_crop(mel, 50, np.random.default_rng(2))
    assert crop.shape == (16, 50)
    start = int(np.flatnonzero((mel[0] == crop[0, 0]))[0])
    np.testing.assert_array_equal(crop, mel[:, start:start + 50])
    assert random_frame_crop(mel[:, :20], 50, np.random.default_rng(2)).shape == (16, 50)


def test_window_params_from_config():
    assert window_params(load_config("tiny").audio) == (32000, 16000)
    assert window_params(load_config("paper").audio) == (320000, 160000)
