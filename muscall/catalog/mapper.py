"""Mapper stage: whole-track log-mels -> track vectors, window vectors and window start times.

It runs :func:`muscall.embedding.embed_mels` (fixed windows, batched across tracks, track = normalised mean of
its windows), so a catalog vector is exactly what ``embed_mels`` gives for the same audio and batching.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from muscall.audio.windows import frames_to_seconds
from muscall.config import AudioConfig
from muscall.embedding import TrackEmbeddings, embed_mels


class TrackMapper:
    """Embeds batches of tracks with ``model`` on ``device``."""

    def __init__(self, model: torch.nn.Module, audio: AudioConfig, batch_size: int = 32,
                 device: str | torch.device = "cpu"):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.audio, self.batch_size, self.device = model, audio, batch_size, device

    @property
    def dim(self) -> int:
        """Embedding size."""
        return int(self.model.embed_dim)

    def embed(self, mels: Iterable[np.ndarray]) -> TrackEmbeddings:
        """Track and window embeddings of the log-mels, consumed lazily (windows batched across tracks)."""
        with torch.no_grad():
            return embed_mels(self.model, mels, self.audio, batch_size=self.batch_size, device=self.device)

    def start_seconds(self, start_frames: np.ndarray) -> list[float]:
        """Window start frames -> seconds (rounded to the millisecond)."""
        return frames_to_seconds(start_frames, self.audio)
