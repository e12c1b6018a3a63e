"""Song Describer: its CSV (``caption_id, track_id, caption, path, ..., is_valid_subset``) and audio folder.

All captions of a track become one row: the first caption (by caption_id) is ``caption``, the others
``captions``. ``is_valid_subset`` is kept per track as true only when every caption of it is valid, and the
ids of its captions as ``caption_ids``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muscall.data.formats.base import FormatOptions, Reject, SourceRows, audio_file, truthy
from muscall.data.formats.musiccaps import read_csv

COLUMNS = ("caption_id", "track_id", "caption", "path")


def read_song_describer(src: Path, options: FormatOptions) -> SourceRows:
    """One record per track with all its non-empty captions; tracks without audio are rejected."""
    table = read_csv(src, COLUMNS, "Song Describer")
    folder = options.audio_dir or src.parent
    out = SourceRows(base=folder, records=[])
    tracks: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, rec in table:
        if not rec["caption"].strip():
            out.rejects.append(Reject(line, None, "empty_caption", f"caption {rec['caption_id']} is empty",
                                      rec["track_id"] or None))
            continue
        tracks.setdefault(rec["track_id"].strip(), []).append((line, rec))
    for track_id, rows in tracks.items():
        record = _track(track_id, sorted(rows, key=lambda r: _order(r[1]["caption_id"])), folder, options)
        if isinstance(record, Reject):
            out.rejects.append(record)
        else:
            out.records.append((rows[0][0], record))
    return out


def _order(caption_id: str) -> tuple[int, Any]:
    return (0, int(caption_id)) if caption_id.strip().isdigit() else (1, caption_id)


def _track(track_id: str, rows: list[tuple[int, dict[str, str]]], folder: Path,
           options: FormatOptions) -> dict[str, Any] | Reject:
    line, first = rows[0]
    path = audio_file(folder, options.audio_pattern, first, line) if options.audio_pattern else folder / first["path"]
    if isinstance(path, Reject):
        return path
    if not path.is_file():
        return Reject(line, str(path), "missing_file", f"no audio for track {track_id} at {path}; "
                                                       "fix --audio-dir or --audio-pattern", track_id)
    captions = [rec["caption"].strip() for _, rec in rows]
    extra = {k: v for k, v in first.items() if k not in ("caption_id", "track_id", "caption", "path",
                                                         "is_valid_subset")}
    if "is_valid_subset" in first:
        extra["is_valid_subset"] = all(truthy(rec.get("is_valid_subset")) for _, rec in rows)
    return {"path": str(path), "caption": captions[0], "captions": captions[1:], "id": track_id,
            "caption_ids": [rec["caption_id"] for _, rec in rows], **extra}
