"""Adding and removing tracks: embed, update the index, save it; none ever lost, also across workers.

Every update goes through ``index.LiveCatalog.edit``: under the index folder's exclusive lock it loads the newest
save (so a change another worker made a moment ago is kept), applies this one and saves the next generation,
which every worker of ``muscall serve --workers N`` maps on its next request. An update is acknowledged only
after that save (atomic), so a restart never loses an acknowledged add or remove; when anything fails before
it, nothing is saved. ``state.write_lock`` orders the updates of one process; searches keep running beside them
on the mapped catalog.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from api.services.errors import ApiError, Conflict, NotFound
from api.services.search import embed_wave
from api.services.state import ServiceState
from index import Catalog, CatalogError, TrackMeta, TrackRecord
from index.fileio import atomic_write_bytes
from muscall.audio.windows import frames_to_seconds
from muscall.keys import chroma_attribute, chroma_profile

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
                     {**attributes, "window_starts": starts, **chroma_attribute(chroma_profile(wave, cfg.sample_rate))})
    stored = False
    try:
        with state.write_lock, _editing(state) as catalog:
            if catalog.db.ids_for([track_id]).size:
                raise Conflict(f"track {track_id!r} is already in the catalog; DELETE /tracks/{track_id} first to "
                               "replace it, or choose another track_id")
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
            state.windows.put(track_id, emb.windows[0])
            stored = True
            try:
                record = catalog.tracks(catalog.add(emb.tracks, [meta]))[0]
            except CatalogError as err:
                raise ApiError(422, str(err)) from err
    except BaseException:
        if stored:  # nothing was saved: drop the files of the track that was not added
            _forget_files(state, track_id, path)
        raise
    state.note_genre(attributes.get("genre"))
    return record


def remove_track(state: ServiceState, track_id: str) -> TrackRecord:
    """Remove a track from the index (and its uploaded audio); NotFound for an unknown id."""
    _check_writable(state)
    with state.write_lock, _editing(state) as catalog:
        records = catalog.tracks(catalog.db.ids_for([track_id]))
        if not records or records[0] is None:
            raise NotFound(f"no track with id {track_id!r} in the catalog (removed already?); check the id")
        catalog.remove([track_id])
    if _is_upload(state, records[0]):
        _forget_files(state, track_id, Path(records[0].path))
    return records[0]


@contextmanager
def _editing(state: ServiceState) -> Iterator[Catalog]:
    """The newest saved catalog, writable, saved as the next generation when the block succeeds (503 when the
    index cannot be loaded or saved; nothing is changed then)."""
    try:
        with state.live.edit() as catalog:
            yield catalog
    except ApiError:
        raise
    except (CatalogError, OSError) as err:
        log.exception("updating the index in %s failed", state.settings.index_dir)
        raise ApiError(503, f"the index could not be updated ({type(err).__name__}: {err}); nothing was changed, "
                            "try again once the server's index folder is readable and writable") from err


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
    """Conflict when this server was started not to change its index folder (``Settings.persist`` off)."""
    if not state.settings.writable:
        raise Conflict("this server was started with persist=False, so it never writes its index folder and cannot "
                       "add or remove tracks; start it with persist on (as 'muscall serve' does)")
