"""Dataset formats ``muscall data import --format`` reads, each into records the importer checks.

``table`` and ``folder`` are the generic readers of :mod:`muscall.data.sources`; the others are published
layouts (MusicCaps, Song Describer, MusCALL JSON), rated sets (MusicEval, Audiobox-Aesthetics, a rated CSV)
and a tagged music folder. :func:`detect_format` names the format where SRC's files make it unambiguous.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

from muscall.data.formats.base import FormatOptions, Reject, SourceRows
from muscall.data.formats.muscall_json import dataset_files, read_muscall_json
from muscall.data.formats.musiccaps import read_musiccaps
from muscall.data.formats.rated import read_rated
from muscall.data.formats.song_describer import read_song_describer
from muscall.data.formats.tags import read_tags
from muscall.errors import MuscallError

Reader = Callable[[Path, FormatOptions], SourceRows]
READERS: dict[str, Reader] = {
    "musiccaps": read_musiccaps,
    "song-describer": read_song_describer,
    "muscall-json": read_muscall_json,
    "musiceval": lambda src, opts: read_rated("musiceval", src, opts),
    "aesthetics": lambda src, opts: read_rated("aesthetics", src, opts),
    "rated-csv": lambda src, opts: read_rated("rated-csv", src, opts),
    "tags": read_tags,
}
FORMATS = ("auto", "table", "folder", *READERS)
SIGNATURES = (("musiccaps", {"ytid", "aspect_list", "start_s"}), ("song-describer", {"caption_id", "track_id"}))

__all__ = ["FORMATS", "READERS", "FormatOptions", "Reject", "SourceRows", "detect_format"]


def detect_format(src: Path) -> str:
    """The format SRC's files show: MusicCaps/Song Describer CSV headers, dataset_*.json, else table/folder."""
    if not src.exists():
        raise MuscallError(f"source '{src}' does not exist; give a table, a dataset file or a folder of audio")
    if dataset_files(src):
        return "muscall-json"
    if src.is_file() and src.suffix.lower() == ".csv":
        header = _header(src)
        return next((name for name, needed in SIGNATURES if needed <= header), "table")
    return "folder" if src.is_dir() else "table"


def _header(src: Path) -> set[str]:
    try:
        with open(src, encoding="utf-8-sig", newline="") as fh:
            return set(next(csv.reader(fh), []))
    except (OSError, UnicodeDecodeError, csv.Error):
        return set()  # the table reader reports the problem
