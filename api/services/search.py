"""The service's work, callable without HTTP: embed queries, search, look up tracks and their vectors.

Everything here is blocking (model forward passes, FAISS, SQLite); routes call it through
``starlette.concurrency.run_in_threadpool`` so the event loop never waits on it. The catalog's own
readers-writer lock makes searches safe beside adds and removes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from api.services.errors import ApiError, NotFound
from api.services.state import ServiceState, thread_setup
from api.services.windows import Moment, best_moment, window_start_seconds
from index import CatalogError, Hit, TrackFilter, TrackRecord
from muscall.embedding import TrackEmbeddings, embed_mels, embed_texts
from muscall.errors import MuscallError
from muscall.keys import rerank_depth, rerank_hits
from muscall.reading import query_readings

log = logging.getLogger(__name__)


@dataclass
class ScoredTrack:
    """One search result."""

    track: TrackRecord
    score: float
    moment: Moment | None = None


def embed_text(state: ServiceState, text: str) -> tuple[np.ndarray, bool]:
    """Unit text embedding ``(D,)`` of a query and whether it came from the LRU cache."""

    def compute() -> np.ndarray:
        vec = embed_many(state, [text])[0]
        vec.setflags(write=False)  # shared by every request that hits the cache
        return vec

    return state.text_cache.get_or_compute(text, compute)


def embed_many(state: ServiceState, texts: Sequence[str]) -> np.ndarray:
    """Unit text embeddings ``(N, D)`` of queries in one forward pass (no cache)."""
    ckpt = state.checkpoint
    return embed_texts(ckpt.model, ckpt.tokenizer, list(texts), ckpt.config.model.text.max_tokens,
                       device=state.device)


@torch.no_grad()
def embed_wave(state: ServiceState, wave: np.ndarray) -> TrackEmbeddings:
    """Track vector, window vectors and window starts of a mono waveform (the catalog's full-track windows)."""
    mel = state.front.mel(np.ascontiguousarray(wave, dtype=np.float32))
    emb = embed_mels(state.checkpoint.model, [mel], state.audio_cfg, batch_size=16, device=state.device)
    if not np.isfinite(emb.tracks).all() or not np.linalg.norm(emb.tracks[0]) > 0:
        raise MuscallError("the model produced no usable embedding for this clip; try another clip")
    return emb


def search(state: ServiceState, query: np.ndarray, k: int, offset: int = 0, flt: TrackFilter | None = None,
           with_moment: bool = False, exclude: str | None = None, text: str | None = None) -> list[ScoredTrack]:
    """Results ``offset .. offset + k`` for a unit query vector, optionally excluding one track id; ``text``:
    the query's words, for the key it may state (:func:`search_depth`)."""
    thread_setup()
    want = search_depth(state, offset + k + (1 if exclude is not None else 0), text)
    hits = state.catalog.search_tracks(np.asarray(query, dtype=np.float32)[None], want, flt)[0]
    return page_of(state, hits, query, k, offset, with_moment, exclude, text)


def readings_of(state: ServiceState, texts: Sequence[str]) -> list[dict[str, Any]]:
    """How search reads each text query (``SearchResponse.reading``, :func:`muscall.reading.query_readings`)."""
    return query_readings(state.checkpoint.tokenizer, texts, state.settings.serve.key_weight)


def search_depth(state: ServiceState, want: int, text: str | None) -> int:
    """Nearest tracks to fetch for a page ending at ``want`` (more when ``text`` names a key or mode)."""
    return rerank_depth(want, text, state.settings.serve.key_weight)


def page_of(state: ServiceState, hits: list[Hit], query: np.ndarray, k: int, offset: int = 0,
            with_moment: bool = False, exclude: str | None = None, text: str | None = None) -> list[ScoredTrack]:
    """The page ``offset .. offset + k`` of ranked ``hits`` (without ``exclude``; re-ranked by the key or mode
    ``text`` states), with moments when asked."""
    if exclude is not None:
        hits = [h for h in hits if h.track.track_id != exclude]
    if text is not None:
        hits = rerank_hits(hits, text, state.settings.serve.key_weight)
    page = [ScoredTrack(h.track, h.score) for h in hits[offset:offset + k]]
    if with_moment:
        for item in page:
            item.moment = moment_of(state, item.track, query)
    return page


def moment_of(state: ServiceState, track: TrackRecord, query: np.ndarray) -> Moment | None:
    """The best-matching window of a track, when its window embeddings are stored."""
    windows = state.windows.get(track.track_id)
    if windows is None or not len(windows):
        return None
    starts = window_start_seconds(track.attributes, track.duration, len(windows), state.audio_cfg)
    if starts is None:
        return None
    return best_moment(windows, query, starts, track.duration, state.audio_cfg.clip_seconds)


def get_track(state: ServiceState, track_id: str) -> TrackRecord:
    """The live track with this id; NotFound (404) otherwise."""
    records = state.catalog.tracks(state.catalog.db.ids_for([track_id]))
    if not records or records[0] is None:
        raise NotFound(f"no track with id {track_id!r} in the catalog; check the id (search results list them)")
    return records[0]


def track_vector(state: ServiceState, track: TrackRecord) -> np.ndarray:
    """A track's unit embedding: from the index, else its stored windows, else by embedding its audio file."""
    vec = stored_vector(state, track)
    return _embed_file(state, track) if vec is None else vec


def stored_vector(state: ServiceState, track: TrackRecord) -> np.ndarray | None:
    """A track's unit embedding from the index or its stored windows, without touching audio; None if neither."""
    vec = _indexed_vector(state, track.track_id)
    if vec is None:
        windows = state.windows.get(track.track_id)
        if windows is not None and len(windows):
            vec = windows.mean(axis=0)  # a track vector is the normalised mean of its window vectors
    if vec is None:
        return None
    vec = np.asarray(vec, dtype=np.float32)
    return vec / max(float(np.linalg.norm(vec)), 1e-12)


def _indexed_vector(state: ServiceState, track_id: str) -> np.ndarray | None:
    """The indexed vector where the index type can give it back (Flat, HNSW, IVF-Flat); None otherwise.

    ``Catalog.vectors`` reads under the catalog's read lock, so a concurrent add/remove cannot change the index
    mid-read; it raises for lossy indexes (IVF-PQ) and for a track removed meanwhile.
    """
    thread_setup()
    try:
        return state.catalog.vectors([track_id])[0]
    except CatalogError as err:
        log.debug("no stored vector for %r: %s", track_id, err)
        return None


def _embed_file(state: ServiceState, track: TrackRecord) -> np.ndarray:
    """Embed the track's audio file (slow path for index types that cannot give vectors back)."""
    if not track.path:
        raise ApiError(409, f"track {track.track_id!r} has no stored vector or audio file to compare with; "
                            "rebuild the index as Flat, HNSW or IVF-Flat, or start the service with --windows")
    return embed_wave(state, state.front.wave(track.path)).tracks[0]


def make_filter(genre: str | Sequence[str] | None = None, tags_any: Sequence[str] | None = None,
                tags_all: Sequence[str] | None = None, duration_min: float | None = None,
                duration_max: float | None = None, attributes: dict[str, Any] | None = None) -> TrackFilter | None:
    """A TrackFilter from request fields (genre is the 'genre' attribute); None when nothing is set."""
    if duration_min is not None and duration_max is not None and duration_min > duration_max:
        raise ApiError(422, f"duration_min={duration_min:g} is above duration_max={duration_max:g}; swap them")
    attrs = dict(attributes or {})
    if genre:
        attrs["genre"] = list(genre) if isinstance(genre, (list, tuple)) else genre
    flt = TrackFilter(tags_any=list(tags_any) if tags_any else None, tags_all=list(tags_all) if tags_all else None,
                      duration_min=duration_min, duration_max=duration_max, attributes=attrs)
    return None if flt.is_empty() else flt
