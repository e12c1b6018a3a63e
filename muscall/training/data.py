"""Training data: seeded log-mel crops of manifest clips with their captions.

Log-mels come from a :class:`~muscall.data.mels.MelSource` (the memory-mapped feature cache, or decoding each
clip). Every crop is drawn from a generator seeded by (seed, epoch, clip index), so an epoch gives the same
batches whatever the number of workers, and a resumed run can skip batches exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from muscall.audio.windows import crop_frames, random_crop
from muscall.config.schema import TextAugmentConfig
from muscall.data.caption_augment import CaptionAugmenter
from muscall.data.manifest import captions_of
from muscall.data.mels import MelSource


class CropDataset(Dataset):
    """Items ``(mel crop [n_mels, frames], caption, index)``; call ``set_epoch`` before each epoch.

    A row with several captions gives one of them per epoch, drawn with its crop; ``text_augment`` (when
    enabled) then rewrites it, seeded by (seed, epoch, row) apart from the crop's draws.
    """

    def __init__(self, source: MelSource, seed: int, caption_field: str = "caption", all_captions: bool = True,
                 text_augment: TextAugmentConfig | None = None):
        self.source, self.seed, self.epoch = source, seed, 0
        self.n_frames = crop_frames(source.audio)
        self.captions = [captions_of(r, caption_field, all_captions) for r in source.rows]
        enabled = text_augment is not None and text_augment.enabled
        self.augment = CaptionAugmenter(text_augment, seed, [r.attributes for r in source.rows]) if enabled else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[np.ndarray, str, int]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        crop = random_crop(self.source[i], self.n_frames, rng)
        options = self.captions[i]
        caption = options[int(rng.integers(len(options)))] if len(options) > 1 else options[0]
        return crop, self.augment(caption, self.epoch, i) if self.augment else caption, i


@dataclass
class Batch:
    """A collated training batch."""

    mel: torch.Tensor  # (B, n_mels, frames)
    tokens: torch.Tensor  # (B, L)
    mask: torch.Tensor  # (B, L) True = real token
    index: torch.Tensor  # (B,) dataset rows
    captions: list[str]


class Collate:
    """Stack crops and tokenize captions (picklable, for DataLoader workers)."""

    def __init__(self, tokenizer, max_tokens: int):
        self.tokenizer, self.max_tokens = tokenizer, max_tokens

    def __call__(self, items: list[tuple[np.ndarray, str, int]]) -> Batch:
        mels, captions, idx = zip(*items)
        tokens, mask = self.tokenizer.encode_batch(list(captions), self.max_tokens)
        return Batch(torch.from_numpy(np.stack(mels)), tokens, mask, torch.tensor(idx), list(captions))


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The seeded permutation of ``n`` rows for ``epoch``."""
    return np.random.default_rng([seed, epoch, 7919]).permutation(n)


def rank_batches(order: np.ndarray, batch_size: int, rank: int, world: int) -> list[np.ndarray]:
    """Split an epoch's order into global batches (last partial one dropped) and keep this rank's slice."""
    n_batches = len(order) // batch_size
    per_rank = batch_size // world
    return [order[b * batch_size + rank * per_rank: b * batch_size + (rank + 1) * per_rank] for b in range(n_batches)]
