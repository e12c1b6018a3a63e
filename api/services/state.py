"""What the service loads once at start-up: model, tokenizer, index + metadata DB, label sets, scorer, caches.

The index and its metadata are memory-mapped read-only (``index.LiveCatalog``): the workers of ``muscall serve
--workers N`` share one copy, and each picks up the others' adds and removes through ``ServiceState.follow``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from api.services.cache import LRUCache
from api.services.windows import WindowStore
from api.settings import Settings
from index import Catalog, CatalogError, LiveCatalog, configure_faiss
from index.duplicates import Confirm
from muscall.audio.features import MelFrontEnd
from muscall.catalog.duplicates import fingerprint_stage
from muscall.checkpoint import Checkpoint, load_checkpoint
from muscall.embedding import prime_bridge
from muscall.errors import MuscallError
from muscall.scoring.predict import ScorerBundle, scorer_for
from muscall.scoring.store import load_heads
from muscall.utils.accel import faiss_gpu
from muscall.zeroshot import load_label_sets

log = logging.getLogger(__name__)
_THREADS: int | None = None  # set by configure_threads (muscall serve); None leaves the libraries' defaults
_local = threading.local()


@dataclass
class ServiceState:
    """The loaded resources every route reaches through ``api.deps``."""

    settings: Settings
    checkpoint: Checkpoint
    live: LiveCatalog  # the index folder's newest save, mapped; writes go through ``live.edit()``
    windows: WindowStore
    label_sets: dict[str, list[str]]
    scorer: ScorerBundle
    front: MelFrontEnd  # file -> log-mel, the catalog's front end
    text_cache: LRUCache[np.ndarray]
    classifier_cache: LRUCache[np.ndarray] = field(default_factory=lambda: LRUCache(64))
    write_lock: threading.Lock = field(default_factory=threading.Lock)  # this process's adds/removes, one at a time
    started_at: float = field(default_factory=time.time)
    fingerprints: Confirm | None = None  # the --windows catalog's recording fingerprints, when it stores them
    _genres: set[str] | None = None
    _genres_at: int = -1  # the catalog generation _genres was read at: another worker's save makes it stale
    _genres_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def catalog(self) -> Catalog:
        """The catalog now open: one object for the length of a call, replaced (not changed) by ``follow``."""
        return self.live.catalog

    def behind(self) -> bool:
        """True when the index folder holds a newer save than the one open (one small read, microseconds)."""
        try:
            return self.live.changed()
        except OSError:
            return True  # let follow() log what is wrong

    def follow(self) -> None:
        """Reopen the index if another worker or process saved a newer generation (a few microseconds if not)."""
        try:
            self.live.refresh()
        except (OSError, CatalogError, sqlite3.DatabaseError) as err:  # e.g. the folder vanished: keep serving
            log.error("cannot check %s for a newer index: %s", self.live.directory, err)

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        return next(self.checkpoint.model.parameters()).device

    @property
    def windows_available(self) -> bool:
        """Whether search results can carry moments."""
        return self.windows.available(self.live.generation)

    @property
    def audio_cfg(self) -> Any:
        """The checkpoint's audio front-end config."""
        return self.checkpoint.config.audio

    def snapshot(self) -> dict[str, float]:
        """Live numbers for /metrics."""
        stats = self.catalog.stats()
        return {"index_tracks": stats["live"], "index_vectors": stats["vectors"], "cache_entries": len(self.text_cache),
                "cache_hits": self.text_cache.hits, "cache_misses": self.text_cache.misses}

    def genres(self) -> list[str]:
        """Genre names for the page's menu: the 'genres' label set and the catalog's 'genre' attribute values, read
        again whenever the catalog open is a newer save (another worker's add shows here too)."""
        with self._genres_lock:
            generation = self.live.generation
            if self._genres is None or self._genres_at != generation:
                self._genres = set(self.label_sets.get("genres", [])) | _attribute_values(self.catalog, "genre")
                self._genres_at = generation
            return sorted(self._genres, key=str.casefold)

    def note_genre(self, value: Any) -> None:
        """Add the genre of a track this process added to the menu (an index kept in memory has no generations)."""
        if isinstance(value, str) and value:
            with self._genres_lock:
                if self._genres is not None:
                    self._genres.add(value)

    def close(self) -> None:
        """Close the open catalog."""
        self.live.close()


def load_state(settings: Settings) -> ServiceState:
    """Load checkpoint, index, window embeddings, label sets and scorer; raise MuscallError naming what is wrong."""
    device = _device(settings.device)
    ckpt = load_checkpoint(settings.checkpoint, device=device)
    dim = int(ckpt.model.embed_dim)
    try:
        # with --device cuda and faiss-gpu, FAISS searches on that GPU too (each reopened generation as well)
        live = LiveCatalog(settings.index_dir, expected_dim=dim, expected_model_hash=ckpt.sha256,
                           gpu=faiss_gpu(device))
    except CatalogError as err:
        raise MuscallError(f"--catalog: {err}") from err
    try:
        windows = WindowStore(settings.media, settings.windows_dir, ckpt.sha256, dim)
        labels = load_label_sets(settings.labels) if settings.labels else {}
        scorer = load_scorer(ckpt, settings.heads, device)
        fingerprints = fingerprint_stage(settings.windows_dir) if settings.windows_dir is not None else None
    except BaseException:
        live.close()
        raise
    front = MelFrontEnd(ckpt.config.audio, device=device)
    front.logmel  # built now, not on the first request
    prime_bridge(ckpt.model, ckpt.tokenizer, ckpt.config.model.text.max_tokens, device=device)
    log.info("serving %d tracks from %s with %s (%s)", live.catalog.ntotal, settings.index_dir, settings.checkpoint,
             device)
    return ServiceState(settings=settings, checkpoint=ckpt, live=live, windows=windows, label_sets=labels,
                        scorer=scorer, front=front, text_cache=LRUCache(settings.serve.query_cache_size),
                        fingerprints=fingerprints)


def load_scorer(ckpt: Checkpoint, heads: Path | None, device: torch.device) -> ScorerBundle:
    """A ScorerBundle around the already loaded checkpoint, with trained heads when given."""
    return scorer_for(ckpt, load_heads(heads, device) if heads is not None else None, heads, device)


def configure_threads(threads: int) -> None:
    """Torch and FAISS thread counts for serving (``serve.threads_per_request``).

    A service answers many small requests at once: one thread each avoids OpenMP teams oversubscribing the
    cores (FAISS opens a parallel region even for a single query). Torch's setting is process-wide; OpenMP's
    is per thread, so ``thread_setup`` applies it in each thread-pool thread before it searches (measured:
    a 2k Flat search took 30 ms from a pool thread at the OpenMP default on a busy 2-core box, 3 ms at 1).
    """
    global _THREADS
    if threads < 1:
        raise MuscallError(f"serve.threads_per_request={threads}: use 1 or more")
    _THREADS = threads
    torch.set_num_threads(threads)
    configure_faiss(omp_threads=threads)


def thread_setup() -> None:
    """Apply the configured FAISS thread count in the calling thread (once per thread; cheap after)."""
    if _THREADS is not None and getattr(_local, "threads", None) != _THREADS:
        configure_faiss(omp_threads=_THREADS)
        _local.threads = _THREADS


def _device(name: str) -> torch.device:
    """``auto`` is the GPU when there is one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _attribute_values(catalog: Catalog, key: str, chunk: int = 20_000) -> set[str]:
    """Distinct string values of a filterable attribute over the live tracks."""
    if key not in catalog.db.attribute_fields:
        return set()
    ids = catalog.db.live_ids()
    values: set[str] = set()
    for lo in range(0, len(ids), chunk):
        for rec in catalog.tracks(ids[lo:lo + chunk]):
            value = rec.attributes.get(key) if rec is not None else None
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str) and v:
                    values.add(v)
    return values
