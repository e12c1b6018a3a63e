"""Training draws among a clip's captions; evaluation keeps the first."""

from __future__ import annotations

import numpy as np

from muscall.config import load_config
from muscall.data.manifest import ClipRow, captions_of
from muscall.training.data import CropDataset


def test_training_draws_each_clip_caption_and_evaluation_keeps_the_first():
    row = ClipRow(id="a", audio_path="a.wav", caption="first", captions=["second", "third"])
    assert captions_of(row) == ["first", "second", "third"]
    assert captions_of(row, every=False) == ["first"]

    class Source:  # one 10-frame clip
        rows, audio = [row], load_config("tiny").audio

        def __len__(self):
            return 1

        def __getitem__(self, i):
            return np.zeros((4, 400), dtype=np.float32)

    data = CropDataset(Source(), seed=0)
    seen = set()
    for epoch in range(30):
        data.set_epoch(epoch)
        seen.add(data[0][1])
        assert data[0][1] == data[0][1]  # the same draw for the same (seed, epoch, index)
    assert seen == {"first", "second", "third"}
    assert CropDataset(Source(), seed=0, all_captions=False)[0][1] == "first"
