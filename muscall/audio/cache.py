"""Optional log-mel feature cache: decode every clip once, then train from one memory-mapped array.

Layout of ``cache_dir``::

    features.npy   float16 (N, rows, max_frames), row i zero-padded after lengths[i] frames (rows: the mel
                   bands, then 12 chroma rows when audio.chroma_n_fft > 0)
    lengths.npy    int64 (N,) valid frames per row
    index.json     format version, ids, audio-config hash, seconds, shapes and file sizes (written last)

Rows may be segments of their files (``segments``, e.g. a MusicCaps caption's 10 s of a whole video); the
index records a checksum of the segments, so changing one rebuilds the cache.

A cache is valid only when ``index.json`` exists and agrees with the files beside it. A build writes into
``cache_dir/.building`` (resumable: progress is saved every chunk), deletes the old ``index.json``, moves
the arrays in and writes the new ``index.json`` atomically, so an interrupted build never looks valid.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm import tqdm

from index.fileio import atomic_write_json, fsync_file, read_versioned_json
from muscall.audio.decode import Segment, audio_info
from muscall.audio.features import FEATURE_FIELDS, LogMel, MelFrontEnd, feature_config_hash
from muscall.audio.windows import num_frames, seconds_to_samples
from muscall.config import AudioConfig
from muscall.errors import MuscallError

FORMAT_VERSION = 1
INDEX, FEATURES, LENGTHS, BUILD_DIR, PROGRESS = "index.json", "features.npy", "lengths.npy", ".building", "progress.json"
log = logging.getLogger(__name__)


class FeatureCache:
    """Read-only view of a built cache: ``cache[i]`` is the ``(n_mels, frames_i)`` float32 log-mel of row i."""

    def __init__(self, directory: str | Path, index: dict[str, Any]):
        self.directory = Path(directory)
        self.index = index
        self.ids: list[str] = list(index["ids"])
        self.config_hash: str = index["config_hash"]
        self.n_mels: int = int(index["n_mels"])
        self.max_frames: int = int(index["max_frames"])
        self.lengths: np.ndarray = np.load(self.directory / LENGTHS)
        self._positions = {clip_id: i for i, clip_id in enumerate(self.ids)}
        self._features: np.ndarray | None = None

    @classmethod
    def open(cls, directory: str | Path, audio_cfg: AudioConfig | None = None,
             ids: Sequence[str] | None = None) -> "FeatureCache":
        """Open a cache; with ``audio_cfg`` / ``ids`` given, refuse one built for other settings or clips."""
        directory = Path(directory)
        index = _read_index(directory)
        if audio_cfg is not None and index["config_hash"] != feature_config_hash(audio_cfg):
            raise MuscallError(f"feature cache '{directory}' was built with other audio settings ({index['audio']}); "
                               "rebuild it (build_feature_cache) or delete the folder")
        if ids is not None and list(ids) != index["ids"]:
            raise MuscallError(f"feature cache '{directory}' holds different clips than the manifest; "
                               "rebuild it (build_feature_cache) or delete the folder")
        return cls(directory, index)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.features[i, :, : self.lengths[i]], dtype=np.float32)

    def index_of(self, clip_id: str) -> int:
        """Row of ``clip_id``; raises MuscallError when it is not cached."""
        try:
            return self._positions[clip_id]
        except KeyError:
            raise MuscallError(f"clip '{clip_id}' is not in feature cache '{self.directory}'; rebuild the cache "
                               "after changing the manifest") from None

    def get(self, clip_id: str) -> np.ndarray:
        """Log-mel of ``clip_id``."""
        return self[self.index_of(clip_id)]

    @property
    def features(self) -> np.ndarray:
        """The memory-mapped float16 ``(N, n_mels, max_frames)`` array (opened lazily, per process)."""
        if self._features is None:
            self._features = np.load(self.directory / FEATURES, mmap_mode="r")
        return self._features

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers reopen the memmap themselves
        state = self.__dict__.copy()
        state["_features"] = None
        return state


def build_feature_cache(ids: Sequence[str], paths: Sequence[str | Path], audio_cfg: AudioConfig,
                        cache_dir: str | Path, seconds: float | None = None, chunk: int = 32, progress: bool = True,
                        device: str = "cpu", manifest: str | Path = "",
                        segments: Sequence[Segment | None] | None = None) -> FeatureCache:
    """Build (or reuse, or resume) the log-mel cache of the clips ``ids`` whose audio files are ``paths``.

    ``seconds`` keeps only the first ``seconds`` of each clip (``None``: whole clips). A cache already in
    ``cache_dir`` with the same audio settings, seconds and ids is returned as is; any other is rebuilt.
    ``manifest`` (where the clips came from) is recorded in the index; ``segments`` (one per clip, None: the
    whole file) cache only that part of each file. Raises AudioLoadError naming the first clip that cannot
    be decoded.
    """
    cache_dir, ids, paths = Path(cache_dir), list(ids), [Path(p) for p in paths]
    segments = list(segments) if segments is not None else [None] * len(ids)
    if len(segments) != len(ids):
        raise ValueError(f"{len(ids)} ids but {len(segments)} segments; give one segment (or None) per id")
    digest = segments_digest(segments)
    if len(set(ids)) != len(ids):
        raise MuscallError("manifest ids are not unique; a feature cache needs one row per id")
    if len(paths) != len(ids):
        raise ValueError(f"{len(ids)} ids but {len(paths)} audio paths; give one path per id")
    existing = _reusable(cache_dir, audio_cfg, ids, seconds, digest)
    if existing is not None:
        return existing
    max_frames = _max_frames(paths, audio_cfg, seconds, segments)
    key = _build_key(audio_cfg, ids, seconds, max_frames, digest)
    feats, lengths, done = _open_build(cache_dir / BUILD_DIR, key, (len(ids), audio_cfg.feature_rows, max_frames))
    front = MelFrontEnd(audio_cfg, max_seconds=seconds, device=device)
    with tqdm(total=len(ids), initial=done, desc="feature cache", unit="clip", disable=not progress) as bar:
        for lo in range(done, len(ids), chunk):
            hi = min(lo + chunk, len(ids))
            _store(front.logmel, [front.wave(p, segment=g) for p, g in zip(paths[lo:hi], segments[lo:hi])], feats,
                   lengths, lo)
            _save_progress(cache_dir / BUILD_DIR, key, feats, lengths, hi)
            bar.update(hi - lo)
    del feats, lengths
    return _commit(cache_dir, audio_cfg, ids, seconds, max_frames, manifest, digest)


def segments_digest(segments: Sequence[Segment | None]) -> str | None:
    """Checksum of the clips' segments; None when every clip is a whole file (as caches before segments)."""
    if all(g is None for g in segments):
        return None
    blob = json.dumps([None if g is None else [g.start, g.duration] for g in segments]).encode()
    return hashlib.sha256(blob).hexdigest()


def _store(logmel: LogMel, waves: list[np.ndarray], feats: np.ndarray, lengths: np.ndarray, offset: int) -> None:
    """Log-mel of each wave into ``feats[offset + j]``, batching waves of equal length (exact, no padding)."""
    by_length: dict[int, list[int]] = {}
    for j, wave in enumerate(waves):
        by_length.setdefault(wave.shape[0], []).append(j)
    for group in by_length.values():
        batch = torch.from_numpy(np.stack([waves[j] for j in group]))
        with torch.inference_mode():
            mel = logmel(batch).cpu().numpy()
        frames = min(mel.shape[-1], feats.shape[-1])
        for k, j in enumerate(group):
            feats[offset + j, :, :frames] = mel[k, :, :frames]
            lengths[offset + j] = frames


def _max_frames(paths: list[Path], cfg: AudioConfig, seconds: float | None, segments: list[Segment | None]) -> int:
    """Frame count that fits every clip, from headers (soxr output length is round(n * ratio) <= ceil)."""
    longest = 0
    for path, segment in zip(paths, segments):
        info = audio_info(path)
        frames = info.frames
        if segment is not None:
            first, count = segment.frames(info.sample_rate)
            frames = max(0, frames - first) if count is None else count
        samples = -(-frames * cfg.sample_rate // info.sample_rate)
        longest = max(longest, samples)
    if seconds is not None:
        longest = min(longest, seconds_to_samples(seconds, cfg.sample_rate))
    return num_frames(longest, cfg.hop_length)


def _build_key(cfg: AudioConfig, ids: list[str], seconds: float | None, max_frames: int, segments: str | None) -> str:
    blob = json.dumps([FORMAT_VERSION, feature_config_hash(cfg), seconds, max_frames, ids, segments]).encode()
    return hashlib.sha256(blob).hexdigest()


def _open_build(build: Path, key: str, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, int]:
    """Memmaps of a build in progress with the same key (resume), else of a fresh one."""
    try:
        state = json.loads((build / PROGRESS).read_text())
        if state["key"] == key:
            feats = np.load(build / FEATURES, mmap_mode="r+")
            lengths = np.load(build / LENGTHS, mmap_mode="r+")
            if feats.shape == shape and lengths.shape == shape[:1]:
                log.info("resuming feature cache build at clip %d of %d", state["done"], shape[0])
                return feats, lengths, int(state["done"])
    except (OSError, ValueError, KeyError):
        pass
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    feats = np.lib.format.open_memmap(build / FEATURES, mode="w+", dtype=np.float16, shape=shape)
    lengths = np.lib.format.open_memmap(build / LENGTHS, mode="w+", dtype=np.int64, shape=shape[:1])
    return feats, lengths, 0


def _save_progress(build: Path, key: str, feats: np.ndarray, lengths: np.ndarray, done: int) -> None:
    feats.flush()
    lengths.flush()
    for name in (FEATURES, LENGTHS):
        fsync_file(build / name)
    atomic_write_json(build / PROGRESS, {"key": key, "done": done})


def _commit(cache_dir: Path, cfg: AudioConfig, ids: list[str], seconds: float | None, max_frames: int,
            manifest_path: str | Path, segments: str | None = None) -> FeatureCache:
    build = cache_dir / BUILD_DIR
    (cache_dir / INDEX).unlink(missing_ok=True)  # from here until the new index exists, no cache is valid
    for name in (FEATURES, LENGTHS):
        os.replace(build / name, cache_dir / name)
    index = {
        "format_version": FORMAT_VERSION,
        "config_hash": feature_config_hash(cfg),
        "audio": {k: getattr(cfg, k) for k in (*FEATURE_FIELDS, "chroma_n_fft")},
        "seconds": seconds,
        "n_mels": cfg.n_mels,
        "rows": cfg.feature_rows,
        "max_frames": max_frames,
        "count": len(ids),
        "dtype": "float16",
        "sizes": {name: (cache_dir / name).stat().st_size for name in (FEATURES, LENGTHS)},
        "manifest": str(manifest_path),
        "ids": ids,
    }
    if segments is not None:
        index["segments_sha256"] = segments
    atomic_write_json(cache_dir / INDEX, index)
    shutil.rmtree(build, ignore_errors=True)
    return FeatureCache(cache_dir, index)


def _reusable(cache_dir: Path, cfg: AudioConfig, ids: list[str], seconds: float | None,
              segments: str | None = None) -> FeatureCache | None:
    if not (cache_dir / INDEX).exists():
        return None
    try:
        index = _read_index(cache_dir)
    except MuscallError as err:
        log.warning("rebuilding feature cache: %s", err)
        return None
    if index["config_hash"] != feature_config_hash(cfg) or index["seconds"] != seconds or index["ids"] != ids \
            or index.get("segments_sha256") != segments:
        log.warning("rebuilding feature cache in %s: audio settings, seconds, clips or segments changed", cache_dir)
        return None
    return FeatureCache(cache_dir, index)


def _read_index(directory: Path) -> dict[str, Any]:
    """The index, checked against the arrays beside it; MuscallError when missing, stale or damaged."""
    index = read_versioned_json(directory / INDEX, version=FORMAT_VERSION, what="feature cache",
                                fix=f"delete '{directory}' and rebuild the cache",
                                missing_fix="build one with build_feature_cache", error=MuscallError)
    for name, size in index.get("sizes", {}).items():
        actual = (directory / name).stat().st_size if (directory / name).exists() else None
        if actual != size:
            raise MuscallError(f"feature cache file '{directory / name}' is missing or has the wrong size "
                               f"({actual} bytes, expected {size}); delete '{directory}' and rebuild the cache")
    return index

