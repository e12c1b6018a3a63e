"""Per-track window embeddings, for the best-matching moment of each search result.

A saved index holds one vector per track; the window vectors live in the embedding catalog that
``muscall embed`` wrote (``shard-*.windows.npy``), which the service reads when started with ``--windows``.
Tracks added through the API keep theirs next to their audio in the media folder.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from index import CatalogError, load_catalog
from index.fileio import atomic_path
from index.shards import Shard
from muscall.audio.windows import crop_frames, frames_to_seconds, hop_frames, seconds_to_frames, window_starts
from muscall.config import AudioConfig
from muscall.errors import MuscallError

log = logging.getLogger(__name__)


@dataclass
class Moment:
    """The window of a track that best matches a query."""

    start: float  # seconds
    end: float
    score: float  # cosine of the window with the query


class WindowStore:
    """Window embeddings by track id: an embedding catalog's shards (read-only) plus tracks added here."""

    def __init__(self, media_dir: Path, shard_dir: Path | None = None, model_hash: str = "", dim: int | None = None):
        self.media_dir = media_dir / "windows"
        self._shards: list[Shard] = []
        self._rows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._added: bool | None = None  # whether the media folder holds windows of added tracks (None: unknown)
        self._checked_at: int | None = None  # the catalog generation the media folder was last looked at
        if shard_dir is not None:
            self._open_shards(shard_dir, model_hash, dim)

    def _open_shards(self, shard_dir: Path, model_hash: str, dim: int | None) -> None:
        """Map every track of the catalog's shards to its window rows (arrays stay memory-mapped)."""
        try:
            catalog = load_catalog(shard_dir, verify=False)
        except CatalogError as err:
            raise MuscallError(f"--windows: {err}") from err
        if model_hash and catalog.model_hash and catalog.model_hash != model_hash:
            raise MuscallError(f"--windows '{shard_dir}' was embedded with another model ({catalog.model_hash[:12]}); "
                               "give the embedding catalog made with this checkpoint")
        if dim is not None and catalog.dim != dim:
            raise MuscallError(f"--windows '{shard_dir}' holds {catalog.dim}-d vectors, the model makes {dim}-d")
        for shard in catalog.iter_shards():
            if shard.windows is None:
                continue
            pos = len(self._shards)
            self._shards.append(shard)
            for row, meta in enumerate(shard.metadata):
                self._rows[meta.track_id] = (pos, row)
        if not self._rows:
            log.warning("%s stores no window embeddings (embedded with keep_window_embeddings off): "
                        "search results will carry no moments", shard_dir)

    def available(self, generation: int = 0) -> bool:
        """Whether any track has stored window embeddings, with the catalog at save ``generation``. Another worker's
        first add shows as a new generation, so the media folder is looked at again only then (not per search)."""
        if self._rows:
            return True
        if self._added is None or generation != self._checked_at:
            self._added = self.media_dir.is_dir() and any(self.media_dir.glob("*.npy"))
            self._checked_at = generation
        return self._added

    def get(self, track_id: str) -> np.ndarray | None:
        """``(W, dim)`` float32 window embeddings of a track, or None when none are stored."""
        path = self._path(track_id)
        if path.exists():
            return np.load(path).astype(np.float32)
        where = self._rows.get(track_id)
        if where is None:
            return None
        shard, row = self._shards[where[0]], where[1]
        return np.asarray(shard.track_windows(row), dtype=np.float32)

    def put(self, track_id: str, windows: np.ndarray) -> None:
        """Store the windows of a track added through the API (atomic write)."""
        with self._lock:
            self.media_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(self._path(track_id)) as tmp, open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(windows, dtype=np.float32), allow_pickle=False)
            self._added = True

    def drop(self, track_id: str) -> None:
        """Forget an added track's windows (shard rows are read-only and simply never asked for again)."""
        self._path(track_id).unlink(missing_ok=True)
        self._added = None

    def _path(self, track_id: str) -> Path:
        return self.media_dir / f"{hashlib.sha1(track_id.encode('utf-8')).hexdigest()}.npy"


def window_start_seconds(attributes: dict[str, Any], duration: float | None, n_windows: int,
                         audio: AudioConfig) -> list[float] | None:
    """Start second of each window: the catalog's ``window_starts`` attribute, else derived from the duration."""
    stored = attributes.get("window_starts")
    if isinstance(stored, list) and len(stored) == n_windows:
        return [float(s) for s in stored]
    if duration is None:
        return None
    starts = window_starts(seconds_to_frames(duration, audio), crop_frames(audio), hop_frames(audio))
    if len(starts) != n_windows:
        return None
    return frames_to_seconds(starts, audio)


def best_moment(windows: np.ndarray, query: np.ndarray, starts: Sequence[float], duration: float | None,
                clip_seconds: float) -> Moment:
    """The window most similar to ``query`` (unit vectors) with its start and end seconds."""
    scores = windows @ np.asarray(query, dtype=np.float32).ravel()
    best = int(np.argmax(scores))
    start = float(starts[best])
    end = start + clip_seconds if duration is None else min(start + clip_seconds, float(duration))
    return Moment(start=round(start, 3), end=round(max(end, start), 3), score=float(scores[best]))
