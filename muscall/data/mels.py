"""Whole-clip log-mels of manifest rows: from the memory-mapped feature cache, or decoded on demand.

Training crops them, evaluation and validation window them; all read them through :class:`MelSource` and decode
with :class:`muscall.audio.features.MelFrontEnd`. Training and validation see the first ``data.cache_max_seconds``
of each clip (``MelSource.build``); evaluation builds its source without that cap, so it sees whole clips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from muscall.audio.cache import FeatureCache, build_feature_cache
from muscall.audio.features import MelFrontEnd
from muscall.config import AudioConfig, Config
from muscall.data.manifest import ClipRow, resolve_audio_path


class MelSource:
    """Whole-clip log-mels by row: from a feature cache, or decoded on demand."""

    def __init__(self, rows: Sequence[ClipRow], manifest_path: str | Path, audio: AudioConfig,
                 cache: FeatureCache | None = None, max_seconds: float | None = None):
        self.rows, self.manifest_path, self.audio, self.cache = list(rows), Path(manifest_path), audio, cache
        self._positions = [cache.index_of(r.id) for r in self.rows] if cache is not None else None
        self._front = MelFrontEnd(audio, max_seconds=max_seconds)

    @classmethod
    def build(cls, rows: Sequence[ClipRow], manifest_path: str | Path, cfg: Config, use_cache: bool,
              cache_dir: str | Path | None = None, progress: bool = True) -> "MelSource":
        """A source over ``rows`` (first ``data.cache_max_seconds`` of each), cached when ``use_cache``."""
        cache, seconds = None, cfg.data.cache_max_seconds
        if use_cache:
            cache_dir = Path(cache_dir or Path(manifest_path).parent / "cache")
            paths = [resolve_audio_path(row, manifest_path) for row in rows]
            cache = build_feature_cache([row.id for row in rows], paths, cfg.audio, cache_dir, seconds=seconds,
                                        progress=progress, manifest=manifest_path)
        return cls(rows, manifest_path, cfg.audio, cache, max_seconds=seconds)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> np.ndarray:
        if self._positions is not None:
            return self.cache[self._positions[i]]
        return self._front(resolve_audio_path(self.rows[i], self.manifest_path))
