"""Training data: seeded log-mel crops of manifest clips with their captions.

Log-mels come from the memory-mapped feature cache (no decoding during epochs) or, without it, from
decoding each clip. Every crop is drawn from a generator seeded by (seed, epoch, clip index), so an epoch
gives the same batches whatever the number of workers, and a resumed run can skip batches exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from muscall.audio.cache import FeatureCache, build_feature_cache
from muscall.audio.features import LogMel, num_frames
from muscall.audio.io import load_audio
from muscall.audio.windows import pad_to, random_frame_crop, seconds_to_samples, window_starts
from muscall.config import AudioConfig, Config
from muscall.data.manifest import ClipRow, resolve_audio_path


def caption_of(row: ClipRow, field: str = "caption") -> str:
    """The text a row is evaluated on: its caption, or ``attributes[field]`` when ``data.caption_field`` names one."""
    return row.caption if field == "caption" else str(row.attributes.get(field, row.caption))


def captions_of(row: ClipRow, field: str = "caption", every: bool = True) -> list[str]:
    """The texts a row is trained on: all its captions when ``every`` (and ``field`` is caption), else one."""
    return row.all_captions() if every and field == "caption" else [caption_of(row, field)]


def crop_frames(audio: AudioConfig) -> int:
    """Frames in one training crop / catalog window."""
    return num_frames(seconds_to_samples(audio.clip_seconds, audio.sample_rate), audio.hop_length)


def hop_frames(audio: AudioConfig) -> int:
    """Frames between full-track windows."""
    return max(1, int(round(audio.window_hop_seconds * audio.sample_rate / audio.hop_length)))


class MelSource:
    """Whole-clip log-mels by row: from a feature cache, or decoded on demand."""

    def __init__(self, rows: Sequence[ClipRow], manifest_path: str | Path, audio: AudioConfig,
                 cache: FeatureCache | None = None, max_seconds: float | None = None):
        self.rows, self.manifest_path, self.audio, self.cache = list(rows), Path(manifest_path), audio, cache
        self._positions = [cache.index_of(r.id) for r in self.rows] if cache is not None else None
        self._logmel: LogMel | None = None
        self._max_samples = None if max_seconds is None else seconds_to_samples(max_seconds, audio.sample_rate)

    @classmethod
    def build(cls, rows: Sequence[ClipRow], manifest_path: str | Path, cfg: Config, use_cache: bool,
              cache_dir: str | Path | None = None, progress: bool = True) -> "MelSource":
        """A source over ``rows`` (first ``data.cache_max_seconds`` of each), cached when ``use_cache``."""
        cache, seconds = None, cfg.data.cache_max_seconds
        if use_cache:
            cache_dir = Path(cache_dir or Path(manifest_path).parent / "cache")
            cache = build_feature_cache(rows, manifest_path, cfg.audio, cache_dir, seconds=seconds, progress=progress)
        return cls(rows, manifest_path, cfg.audio, cache, max_seconds=seconds)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> np.ndarray:
        if self._positions is not None:
            return self.cache[self._positions[i]]
        if self._logmel is None:
            self._logmel = LogMel.from_config(self.audio)
        a = self.audio
        wave = load_audio(resolve_audio_path(self.rows[i], self.manifest_path), a.sample_rate, a.min_seconds,
                          a.max_seconds)[: self._max_samples]
        with torch.no_grad():
            return self._logmel(torch.from_numpy(wave)[None]).numpy()[0]


class CropDataset(Dataset):
    """Items ``(mel crop [n_mels, frames], caption, index)``; call ``set_epoch`` before each epoch.

    A row with several captions gives one of them per epoch, drawn with its crop.
    """

    def __init__(self, source: MelSource, seed: int, caption_field: str = "caption", all_captions: bool = True):
        self.source, self.seed, self.epoch = source, seed, 0
        self.n_frames = crop_frames(source.audio)
        self.captions = [captions_of(r, caption_field, all_captions) for r in source.rows]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[np.ndarray, str, int]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        crop = random_frame_crop(self.source[i], self.n_frames, rng)
        options = self.captions[i]
        return crop, options[int(rng.integers(len(options)))] if len(options) > 1 else options[0], i


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


def track_windows(mel: np.ndarray, n_frames: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed full-track windows of a ``(n_mels, frames)`` log-mel: ``(n_windows, n_mels, n_frames)`` and their
    start frames.

    Same rule as :func:`muscall.audio.windows.window_starts` (windows from 0, the last one aligned to the end;
    a track shorter than one window is loop-padded).
    """
    mel = pad_to(mel, n_frames, "repeat")
    starts = window_starts(mel.shape[-1], n_frames, hop)
    return np.stack([mel[:, s:s + n_frames] for s in starts]), starts
