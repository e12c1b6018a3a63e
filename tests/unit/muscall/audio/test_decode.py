"""Decoding, downmix, resampling and every rejection of muscall.audio.decode."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from muscall.audio.decode import audio_info, decode
from muscall.config import AudioConfig
from muscall.errors import AudioLoadError

OPEN = AudioConfig(sample_rate=16000, min_seconds=0.0, max_seconds=math.inf)  # no length limits
FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"), "mp3": ("MP3", None)}


def stereo(sr: int, seconds: float, left_hz: float = 440.0, right_hz: float = 1000.0) -> np.ndarray:
    """Left: 0.4 * sine(left_hz); right: 0.2 * sine(right_hz)."""
    t = np.arange(int(sr * seconds)) / sr
    return np.stack([0.4 * np.sin(2 * np.pi * left_hz * t), 0.2 * np.sin(2 * np.pi * right_hz * t)], axis=1)


def spectrum_peaks(x: np.ndarray, sr: int, k: int = 2) -> list[tuple[float, float]]:
    """The k strongest (frequency, amplitude) pairs of a Hann-windowed FFT."""
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x)))) * 4 / len(x)
    freqs = np.fft.rfftfreq(len(x), 1 / sr)
    peaks = []
    for _ in range(k):
        i = int(mag.argmax())
        peaks.append((float(freqs[i]), float(mag[i])))
        mag[max(i - 20, 0): i + 20] = 0
    return sorted(peaks)


def reason_of(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.reason


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_formats_load_resample_and_downmix(tmp_path, ext):
    fmt, subtype = FORMATS[ext]
    assert fmt in sf.available_formats()
    path = tmp_path / f"clip.{ext}"
    sf.write(path, stereo(44100, 2.0), 44100, format=fmt, subtype=subtype)
    x = decode(path, OPEN)
    assert x.dtype == np.float32 and x.ndim == 1 and x.flags.c_contiguous
    assert len(x) == round(2.0 * 44100 * 16000 / 44100) == 32000
    (f1, a1), (f2, a2) = spectrum_peaks(x, 16000)
    assert f1 == pytest.approx(440, abs=1.0) and f2 == pytest.approx(1000, abs=1.0)
    # downmix = mean of channels: 0.4 -> 0.2 and 0.2 -> 0.1 (lossy codecs get a looser tolerance)
    tol = 0.005 if ext in ("wav", "flac") else 0.02
    assert a1 == pytest.approx(0.2, abs=tol) and a2 == pytest.approx(0.1, abs=tol)


def test_downmix_is_the_mean_of_channels(tmp_path):
    data = stereo(16000, 1.0).astype(np.float32)
    sf.write(tmp_path / "lr.wav", data, 16000, subtype="FLOAT")
    np.testing.assert_allclose(decode(tmp_path / "lr.wav", OPEN), data.mean(axis=1), atol=1e-7)


def test_bytes_match_file(tmp_path):
    sf.write(tmp_path / "a.flac", stereo(22050, 1.5), 22050)
    from_file = decode(tmp_path / "a.flac", OPEN)
    from_bytes = decode((tmp_path / "a.flac").read_bytes(), OPEN)
    np.testing.assert_array_equal(from_file, from_bytes)


def test_same_file_same_samples(tone):
    path = tone("t.wav", seconds=1.0, sr=44100, channels=2)
    np.testing.assert_array_equal(decode(path, OPEN), decode(path, OPEN))


def test_audio_info_reads_header(tone):
    info = audio_info(tone("t.flac", seconds=1.5, sr=22050, channels=2))
    assert (info.sample_rate, info.channels, info.frames, info.format) == (22050, 2, 33075, "FLAC")
    assert info.duration == pytest.approx(1.5)


def test_corrupt_bytes_rejected(tmp_path):
    path = tmp_path / "noise.flac"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(AudioLoadError) as exc:
        decode(path, OPEN)
    assert "not a readable audio file" in reason_of(exc) and "convert it to" in reason_of(exc)
    assert exc.value.path == str(path)


def test_truncated_flac_rejected(tmp_path):
    sf.write(tmp_path / "full.flac", stereo(16000, 1.0), 16000)
    data = (tmp_path / "full.flac").read_bytes()
    damaged = data[:1000] + bytes(500) + data[1500:]
    with pytest.raises(AudioLoadError, match="corrupt or truncated"):
        decode(damaged, OPEN, name="damaged.flac")


def test_empty_file_rejected(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioLoadError, match="empty"):
        decode(tmp_path / "empty.wav", OPEN)
    with pytest.raises(AudioLoadError, match="upload is empty"):
        decode(b"", OPEN)


def test_zero_length_audio_rejected(tmp_path):
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1), dtype=np.float32), 16000)
    with pytest.raises(AudioLoadError, match="zero length"):
        decode(tmp_path / "zero.wav", replace(OPEN, min_seconds=1.0))


def test_text_named_wav_rejected(tmp_path):
    (tmp_path / "notes.wav").write_text("this is not audio, just some text\n" * 20)
    with pytest.raises(AudioLoadError, match="not a readable audio file"):
        decode(tmp_path / "notes.wav", OPEN)
    with pytest.raises(AudioLoadError, match="not a readable audio file"):
        audio_info(tmp_path / "notes.wav")


def test_missing_file_rejected(tmp_path):
    with pytest.raises(AudioLoadError, match="does not exist"):
        decode(tmp_path / "nope.wav", OPEN)


def test_silent_file_rejected_and_threshold_is_a_parameter(tmp_path, tone):
    sf.write(tmp_path / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(AudioLoadError) as exc:
        decode(tmp_path / "silent.wav", OPEN)
    assert "silent" in reason_of(exc) and "-inf dBFS" in reason_of(exc)
    quiet = tone("quiet.wav", amplitude=1e-3)  # about -60 dBFS: fine by default
    assert decode(quiet, OPEN).size == 16000
    with pytest.raises(AudioLoadError, match="silent"):
        decode(quiet, OPEN, silence_threshold=1e-2)


def test_channels_that_cancel_are_silent(tmp_path):
    x = stereo(16000, 1.0)[:, 0]
    sf.write(tmp_path / "cancel.wav", np.stack([x, -x], axis=1), 16000)
    with pytest.raises(AudioLoadError, match="after mixing to mono"):
        decode(tmp_path / "cancel.wav", OPEN)


def test_too_short_and_too_long_rejected(tone):
    short = tone("short.wav", seconds=0.5)
    with pytest.raises(AudioLoadError) as exc:
        decode(short, replace(OPEN, min_seconds=1.0))
    assert "too short: 0.500 s" in reason_of(exc) and "audio.min_seconds" in reason_of(exc)
    assert decode(short, replace(OPEN, min_seconds=0.5)).size == 8000
    with pytest.raises(AudioLoadError, match="too long: 3.0 s.*audio.max_seconds"):
        decode(tone("long.wav", seconds=3.0), replace(OPEN, max_seconds=2.0))


def test_non_finite_samples_rejected(tmp_path):
    x = stereo(16000, 1.0).astype(np.float32)
    x[100, 1] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioLoadError, match="NaN or infinite"):
        decode(tmp_path / "nan.wav", OPEN)
    x[100, 1] = np.inf
    sf.write(tmp_path / "inf.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioLoadError, match="NaN or infinite"):
        decode(Path(tmp_path / "inf.wav"), OPEN)
