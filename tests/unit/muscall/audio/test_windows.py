"""Full-track windows cover every frame deterministically; crops are seeded; short clips padded per rule;
frames and seconds convert one way each."""

from __future__ import annotations

import numpy as np
import pytest

from muscall.audio.windows import (crop_frames, frames_to_seconds, hop_frames, pad_to, random_crop, seconds_to_frames,
                                   track_windows, window_starts)
from muscall.config import load_config


def test_window_starts_rule():
    assert window_starts(100, 30, 20).tolist() == [0, 20, 40, 60, 70]  # last one aligned to the end
    assert window_starts(90, 30, 30).tolist() == [0, 30, 60]  # exact fit: no extra window
    assert window_starts(30, 30, 10).tolist() == [0]
    assert window_starts(10, 30, 10).tolist() == [0]  # shorter than a window
    assert window_starts(100, 30, 50).tolist() == [0, 50, 70]  # hop > window: tail still covered


@pytest.mark.parametrize("n", [51, 99, 100, 101, 257, 1000])
@pytest.mark.parametrize("window,hop", [(30, 10), (30, 30), (50, 20), (16, 40)])
def test_windows_cover_every_frame_and_stay_inside(n, window, hop):
    wave = np.arange(n, dtype=np.float32)
    windows, starts = track_windows(wave[None], window, hop)
    windows = windows[:, 0]
    np.testing.assert_array_equal(starts, window_starts(n, window, hop))
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
    a, b = track_windows(wave[None], 1000, 400)[0], track_windows(wave[None], 1000, 400)[0]
    np.testing.assert_array_equal(a, b)
    a[0, 0] = 99.0
    assert wave[0] != 99.0  # a copy, not a view into the track


def test_short_clip_is_loop_padded_by_default_or_zero_padded():
    clip = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    windows, starts = track_windows(clip[None], 8, 4)
    np.testing.assert_array_equal(windows[:, 0], [[1, 2, 3, 1, 2, 3, 1, 2]])
    assert starts.tolist() == [0]
    np.testing.assert_array_equal(pad_to(clip, 8, "zero"), [1, 2, 3, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="pad mode"):
        pad_to(clip, 8, "reflect")


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


def test_random_crop_crops_frames_only():
    mel = np.random.default_rng(0).standard_normal((16, 200)).astype(np.float32)
    crop = random_crop(mel, 50, np.random.default_rng(2))
    assert crop.shape == (16, 50)
    start = int(np.flatnonzero((mel[0] == crop[0, 0]))[0])
    np.testing.assert_array_equal(crop, mel[:, start:start + 50])
    assert random_crop(mel[:, :20], 50, np.random.default_rng(2)).shape == (16, 50)


def test_crop_and_hop_frames_from_config():
    assert (crop_frames(load_config("tiny").audio), hop_frames(load_config("tiny").audio)) == (251, 125)
    assert (crop_frames(load_config("paper").audio), hop_frames(load_config("paper").audio)) == (626, 312)


def test_frames_and_seconds_convert_both_ways():
    audio = load_config("tiny").audio  # 16 kHz, hop 128
    assert frames_to_seconds(np.array([0, 125, 250]), audio) == [0.0, 1.0, 2.0]
    assert frames_to_seconds([1], audio) == [0.008]
    assert seconds_to_frames(2.0, audio) == crop_frames(audio) == 1 + 32000 // 128
    assert seconds_to_frames(0.0, audio) == 1
