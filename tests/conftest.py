"""Shared fixtures: tiny generated audio, no network, no GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from muscall.errors import MuscallError


def write_tone(path: Path, seconds: float = 1.0, sr: int = 16000, freq: float = 440.0,
               channels: int = 1, amplitude: float = 0.3, **sf_kwargs) -> Path:
    """Write a sine tone (same signal on every channel) and return its path."""
    t = np.arange(int(seconds * sr)) / sr
    x = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sr, **sf_kwargs)
    return path


@pytest.fixture
def tone(tmp_path):
    """Factory: ``tone("a.wav", seconds=2, sr=44100, channels=2)`` writes a tone under tmp_path."""
    def make(name: str = "tone.wav", **kwargs) -> Path:
        return write_tone(tmp_path / name, **kwargs)
    return make


@pytest.fixture(scope="session")
def soundfont() -> str:
    """Path of the installed GM soundfont; tests that render are skipped when there is none."""
    from muscall.data.synth.render import find_soundfont
    try:
        return str(find_soundfont())
    except MuscallError as err:
        pytest.skip(f"no GM soundfont installed ({err})")
