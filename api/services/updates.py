"""Adding and removing tracks: embed, update the index, persist it; one update at a time, none ever lost.

An update is acknowledged only after the index was saved to the index folder (``save_catalog`` is atomic),
so a restart never loses an acknowledged add or remove; a failed save rolls the in-memory change back.
Updates are serialised by ``state.write_lock``; searches keep running beside them (the catalog's own
readers-writer lock guards FAISS and SQLite).
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from api.services.errors import ApiError, Conflict
from api.services.search import embed_wave, get_track, stored_vector
from api.services.state import ServiceState
from index import CatalogError, TrackMeta, TrackRecord, save_catalog
from index.fileio import atomic_write_bytes
from muscall.audio.windows import frames_to_seconds

log = logging.getLogger(__name__)
EXTENSIONS = {"WAV": ".wav", "FLAC": ".flac", "OGG": ".ogg", "MP3": ".mp3", "AIFF": ".aiff", "W64": ".w64",
              "CAF": ".caf", "RF64": ".wav", "mov,mp4,m4a,3gp,3g2,mj2": ".m4a", "asf": ".wma", "aac": ".aac",
              "ogg": ".ogg", "mp3": ".mp3", "matroska,webm": ".webm"}  # FFmpeg formats: the container before '/' 


def add_track(state: ServiceState, data: bytes, wave: np.ndarray, fmt: str, track_id: str | None, title: str,
              tags: list[str], attributes: dict[str, Any]) -> TrackRecord:
    """Store the audio, embed it and add it to the index; return its record (Conflict for a taken id)."""
    _check_writable(state)
    track_id = track_id or f"upload-{uuid.uuid4().hex[:12]}"
    emb = embed_wave(state, wave)
    cfg = state.audio_cfg
    starts = frames_to_seconds(emb.starts[0], cfg)
    path = state.settings.media / "audio" / f"{uuid.uuid4().hex}{EXTENSIONS.get(fmt.split('/')[0], '.audio')}"
    meta = TrackMeta(track_id, str(path), title or track_id, round(len(wave) / cfg.sample_rate, 3), list(tags),
                     {**attributes, "window_starts": starts})
    with state.write_lock:
        if state.catalog.db.ids_for([track_id]).size:
            raise Conflict(f"track {track_id!r} is already in the catalog; DELETE /tracks/{track_id} first to "
                           "replace it, or choose another track_id")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        state.windows.put(track_id, emb.windows[0])
        try:
            state.catalog.add(emb.tracks, [meta])
        except CatalogError as err:
            _forget_files(state, track_id, path)
            raise ApiError(422, str(err)) from err
        try:
            _persist(state)
        except Exception:
            state.catalog.remove([track_id])
            _forget_files(state, track_id, path)
            raise
    state.note_genre(attributes.get("genre"))
    return get_track(state, track_id)


def remove_track(state: ServiceState, track_id: str) -> TrackRecord:
    """Remove a track from the index (and its uploaded audio); NotFound for an unknown id."""
    _check_writable(state)
    with state.write_lock:
        record = get_track(state, track_id)
        vector = stored_vector(state, record)  # to put the track back if the save fails
        state.catalog.remove([track_id])
        try:
            _persist(state)
        except Exception:
            _restore(state, record, vector)
            raise
        if _is_upload(state, record):
            _forget_files(state, track_id, Path(record.path))
    return record


def _persist(state: ServiceState) -> None:
    """Save the index into its folder (atomic; the caller holds the write lock)."""
    if not state.settings.persist:
        return
    try:
        save_catalog(state.catalog, state.settings.index_dir)
    except CatalogError as err:
        if "another process updated" not in str(err):
            raise ApiError(503, f"the index could not be saved ({err}); the change was rolled back") from err
        log.error("index %s changed on disk under the service: %s", state.settings.index_dir, err)
        raise ApiError(409, "the index folder was changed by another process (e.g. 'muscall index add') while the "
                            "service was running; the change was rolled back: restart the service to load the "
                            "new index, then repeat the request") from err
    except Exception as err:
        log.exception("saving the index to %s failed", state.settings.index_dir)
        raise ApiError(503, f"the index could not be saved ({type(err).__name__}: {err}); the change was rolled "
                            "back, try again once the server's disk is writable") from err


def _restore(state: ServiceState, record: TrackRecord, vector: np.ndarray | None) -> None:
    """Put a removed track back after a failed save (its vector taken before the removal)."""
    if vector is None:
        log.error("could not restore track %r after a failed save", record.track_id)
        return
    meta = TrackMeta(record.track_id, record.path, record.title, record.duration, record.tags, record.attributes)
    state.catalog.add(np.asarray(vector, dtype=np.float32)[None], [meta])


def _is_upload(state: ServiceState, record: TrackRecord) -> bool:
    """Whether the track's audio lives in this service's media folder (then it is deleted with the track)."""
    try:
        return bool(record.path) and Path(record.path).resolve().is_relative_to(state.settings.media.resolve())
    except (OSError, ValueError):
        return False


def _forget_files(state: ServiceState, track_id: str, path: Path) -> None:
    """Delete an uploaded track's audio and window embeddings."""
    path.unlink(missing_ok=True)
    state.windows.drop(track_id)


def _check_writable(state: ServiceState) -> None:
    """Conflict when this server cannot change the index (several workers each hold their own copy)."""
    if not state.settings.writable:
        raise Conflict(f"this server runs {state.settings.serve.workers} workers, each with its own copy of the index; "
                       "adding and removing tracks needs a server started with --workers 1")
