"""Whole-clip log-mels of manifest rows: from the memory-mapped feature cache, or decoded on demand.

Training crops them, evaluation and validation window them; all read them through :class:`MelSource` and decode
with :class:`muscall.audio.features.MelFrontEnd`. Training and validation see the first ``data.cache_max_seconds``
of each clip (``MelSource.build``); evaluation builds its source without that cap, so it sees whole clips.
A row whose ``attributes`` carry ``offset_s`` / ``clip_seconds`` (a MusicCaps caption of 10 s of a longer
video) is read as that segment only, decoded or cached, so its caption meets the audio it describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from muscall.audio.cache import FeatureCache, build_feature_cache
from muscall.audio.decode import Segment
from muscall.audio.features import MelFrontEnd
from muscall.config import AudioConfig, Config
from muscall.data.manifest import ClipRow, clip_segment, resolve_audio_path
from muscall.keys import chroma_profile


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
                                        progress=progress, manifest=manifest_path, segments=_segments(rows))
        return cls(rows, manifest_path, cfg.audio, cache, max_seconds=seconds)

    def __len__(self) -> int:
        return len(self.rows)

    def chroma(self, i: int) -> np.ndarray:
        """Row ``i``'s chroma profile (:func:`muscall.keys.chroma_profile`), decoded from its audio."""
        return chroma_profile(self._wave(i), self.audio.sample_rate)

    def with_chroma(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Row ``i``'s log-mel and chroma profile from one decode (the log-mel from the cache when there is one)."""
        wave = self._wave(i)
        mel = self.cache[self._positions[i]] if self._positions is not None else self._front.mel(wave)
        return mel, chroma_profile(wave, self.audio.sample_rate)

    def _wave(self, i: int) -> np.ndarray:
        row = self.rows[i]
        return self._front.wave(resolve_audio_path(row, self.manifest_path), segment=_segments([row])[0])

    def __getitem__(self, i: int) -> np.ndarray:
        if self._positions is not None:
            return self.cache[self._positions[i]]
        return self._front.mel(self._wave(i))


def _segments(rows: Sequence[ClipRow]) -> list[Segment | None]:
    """Each row's segment of its file (None: the whole file)."""
    return [clip_segment(row.attributes, f"manifest row '{row.id}': ") for row in rows]
