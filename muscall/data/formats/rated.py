"""Rated sets (MusicEval, Audiobox-Aesthetics, a generic rated CSV) through :mod:`muscall.data.quality_readers`.

The rows keep ``system`` and ``ratings`` so that ``muscall score train|eval`` read the manifest as it is; the
importer still checks each row's audio, and a missing prompt is allowed (caption left empty).
Without a split column, rows with systems are split by system (no system in two splits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muscall.data.formats.base import FormatOptions, SourceRows
from muscall.data.manifest import ClipRow
from muscall.data.quality_readers import read_aesthetics, read_generic_csv, read_musiceval, split_by


def read_rated(kind: str, src: Path, options: FormatOptions) -> SourceRows:
    """Records of a ``musiceval`` list file, an ``aesthetics`` CSV/JSONL or a ``rated-csv`` table."""
    if kind == "musiceval":
        rows = read_musiceval(src, list(options.prompts) or None, options.audio_dir)
    elif kind == "aesthetics":
        rows = read_aesthetics(src, options.audio_dir)
    else:
        rows = read_generic_csv(src, audio_dir=options.audio_dir)
    if rows and all(row.system for row in rows) and all(row.split == "train" for row in rows):
        rows = split_by(rows, by="system")  # no split given: no system in two splits
    return SourceRows(base=src.parent, records=[(n, _record(row)) for n, row in enumerate(rows, 1)],
                      allow_empty_caption=True)


def _record(row: ClipRow) -> dict[str, Any]:
    return {"path": row.audio_path, "caption": row.caption, "id": row.id, "split": row.split, "system": row.system,
            "ratings": row.ratings, **row.attributes}
