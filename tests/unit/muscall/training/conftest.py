"""A tiny (audio, caption) manifest of generated tones for training tests."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from muscall.config import load_config
from muscall.data.manifest import ClipRow, write_manifest

KINDS = {  # caption words -> (frequency Hz, noise level)
    "low calm sine tone": (110.0, 0.0),
    "high bright sine tone": (1760.0, 0.0),
    "noisy low rumble": (80.0, 0.3),
    "noisy high hiss": (3000.0, 0.3),
}


@pytest.fixture(scope="session")
def tone_corpus(tmp_path_factory):
    """48 three-second clips in four audibly different kinds: 32 train, 8 val, 8 test."""
    root = tmp_path_factory.mktemp("tones")
    rng = np.random.default_rng(0)
    rows = []
    sr = 16000
    t = np.arange(3 * sr) / sr
    for i in range(48):
        caption, (freq, noise) = list(KINDS.items())[i % 4]
        wave = 0.3 * np.sin(2 * np.pi * freq * (1 + 0.02 * rng.standard_normal()) * t) + noise * rng.standard_normal(t.size)
        path = root / "audio" / f"t{i:03d}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, (0.5 * wave / np.abs(wave).max()).astype(np.float32), sr)
        split = "train" if i < 32 else ("val" if i < 40 else "test")
        rows.append(ClipRow(id=f"t{i:03d}", audio_path=f"audio/t{i:03d}.wav", caption=caption, split=split,
                            attributes={"genre": caption.split()[1]}))
    write_manifest(root / "manifest.jsonl", rows)
    return root / "manifest.jsonl"


@pytest.fixture
def tiny_cfg(tone_corpus):
    """The tiny config pointed at the tone corpus."""
    def make(*overrides: str):
        return load_config("tiny", [f"data.manifest={tone_corpus}", "train.val_pool_size=8", *overrides])
    return make
