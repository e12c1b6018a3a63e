"""decode(..., segment=): only the asked part of a file, by seeking (libsndfile) or by dropping frames (FFmpeg)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from muscall.audio.decode import Segment, decode
from muscall.audio.ffmpeg import encode
from muscall.config import AudioConfig
from muscall.errors import AudioLoadError

SR = 16000
OPEN = AudioConfig(sample_rate=SR, min_seconds=0.5, max_seconds=math.inf)


def three_parts(seconds: float = 10.0) -> np.ndarray:
    """220 Hz, then 880 Hz, then 440 Hz, ``seconds`` each."""
    t = np.arange(int(seconds * SR)) / SR
    return np.concatenate([0.3 * np.sin(2 * np.pi * f * t) for f in (220.0, 880.0, 440.0)]).astype(np.float32)


def peak_hz(x: np.ndarray) -> float:
    return float(np.fft.rfftfreq(len(x), 1 / SR)[np.abs(np.fft.rfft(x)).argmax()])


def test_a_wav_segment_is_exactly_that_slice(tmp_path):
    wave = three_parts()
    sf.write(tmp_path / "long.wav", wave, SR, subtype="FLOAT")
    middle = decode(tmp_path / "long.wav", OPEN, segment=Segment(10.0, 10.0))
    np.testing.assert_array_equal(middle, wave[10 * SR: 20 * SR])
    tail = decode(tmp_path / "long.wav", OPEN, segment=Segment(25.0))
    np.testing.assert_array_equal(tail, wave[25 * SR:])


def test_an_ffmpeg_segment_drops_what_comes_before(tmp_path):
    encode(tmp_path / "long.m4a", three_parts(), SR, "aac", 96_000)  # libsndfile cannot open AAC
    middle = decode(tmp_path / "long.m4a", OPEN, segment=Segment(10.0, 10.0))
    assert len(middle) == 10 * SR and peak_hz(middle[SR: -SR]) == pytest.approx(880.0, abs=2.0)


def test_the_length_checks_apply_to_the_segment(tmp_path):
    sf.write(tmp_path / "long.wav", three_parts(), SR)
    with pytest.raises(AudioLoadError, match="too long: 10.0 s"):
        decode(tmp_path / "long.wav", AudioConfig(sample_rate=SR, min_seconds=0.5, max_seconds=5.0),
               segment=Segment(10.0, 10.0))
    assert len(decode(tmp_path / "long.wav", AudioConfig(sample_rate=SR, min_seconds=0.5, max_seconds=12.0),
                      segment=Segment(3.0, 10.0))) == 10 * SR  # the whole 30 s file would be refused
    with pytest.raises(AudioLoadError, match="starts at 40 s but the file is 30.0 s long"):
        decode(tmp_path / "long.wav", OPEN, segment=Segment(40.0, 10.0))
    with pytest.raises(ValueError, match="start >= 0"):
        Segment(-1.0, 10.0)
