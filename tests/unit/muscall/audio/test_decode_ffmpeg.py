"""The FFmpeg fallback and block-wise decoding of muscall.audio.decode: M4A/AAC, ALAC, WMA, streaming blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import soxr

from muscall.audio.decode import BLOCK_SECONDS, audio_info, decode, decode_blocks
from muscall.audio.ffmpeg import encode
from muscall.config import AudioConfig
from muscall.errors import AudioLoadError

OPEN = AudioConfig(sample_rate=16000, min_seconds=0.0, max_seconds=math.inf)
SR = 44100


def sine(seconds: float, freq: float = 440.0, amplitude: float = 0.4, sr: int = SR) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)


def peak_hz(x: np.ndarray, sr: int) -> float:
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x)))))])


@pytest.mark.parametrize("name,codec,bit_rate", [("a.m4a", "aac", 128000), ("b.m4a", "alac", None),
                                                 ("c.wma", "wmav2", 128000)])
def test_files_libsndfile_cannot_open_decode_through_ffmpeg(tmp_path, name, codec, bit_rate):
    path = encode(tmp_path / name, sine(2.0), SR, codec, bit_rate)
    with pytest.raises(sf.LibsndfileError):
        sf.info(path)
    info = audio_info(path)
    assert info.sample_rate == SR and info.channels == 1 and codec in info.format
    wave = decode(path, OPEN)
    assert wave.dtype == np.float32 and abs(len(wave) / 16000 - 2.0) < 0.1
    assert abs(peak_hz(wave, 16000) - 440.0) < 5.0
    assert np.array_equal(decode(path.read_bytes(), OPEN, "up.m4a"), wave)  # an upload decodes the same


def test_ffmpeg_files_get_the_same_checks(tmp_path):
    silent = encode(tmp_path / "silent.m4a", np.zeros(SR), SR, "aac", 64000)
    with pytest.raises(AudioLoadError, match="silent"):
        decode(silent, OPEN)
    with pytest.raises(AudioLoadError, match="too long"):
        decode(encode(tmp_path / "long.m4a", sine(3.0), SR, "alac"), AudioConfig(16000, max_seconds=2.0))
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(b"\x00\x00\x00\x18ftypM4A " + b"garbage" * 50)
    with pytest.raises(AudioLoadError, match="not a readable audio file|corrupt"):
        decode(junk, OPEN)


def test_decoding_streams_in_blocks_equal_to_whole_file_resampling(tmp_path):
    x = sine(2.5 * BLOCK_SECONDS, freq=330.0)
    path = tmp_path / "long.flac"
    sf.write(path, np.stack([x, 0.5 * x], axis=1), SR)
    blocks = list(decode_blocks(path, OPEN, str(path)))
    assert len(blocks) >= 3 and max(len(b) for b in blocks) <= BLOCK_SECONDS * 16000 + 1000
    wave = decode(path, OPEN)
    assert np.array_equal(np.concatenate(blocks), wave)
    whole = soxr.resample(sf.read(path, dtype="float32")[0].mean(axis=1), SR, 16000, quality="HQ")
    assert abs(len(wave) - len(whole)) <= 1
    n = min(len(wave), len(whole))
    assert np.max(np.abs(wave[:n] - whole[:n])) < 1e-3
