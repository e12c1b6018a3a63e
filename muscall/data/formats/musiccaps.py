"""MusicCaps: the Google CSV (``ytid, start_s, end_s, audioset_positive_labels, aspect_list, caption, author_id,
is_balanced_subset, is_audioset_eval``) plus a folder of audio the user fetched.

The audio file of a row is ``--audio-pattern`` filled from its fields (``{ytid}``, ``{start}``/``{end}`` as
whole seconds, ``{start_s}``/``{end_s}`` as written). A file clearly longer than the 10 s clip (the whole
YouTube video) is not re-encoded: the row records ``offset_s`` (= start_s) and ``clip_seconds``.
``aspect_list`` (a Python list literal) becomes the tags; ``is_audioset_eval`` rows are the test split.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path
from typing import Any

from muscall.audio.decode import audio_info
from muscall.data.formats.base import FormatOptions, Reject, SourceRows, audio_file, truthy
from muscall.errors import AudioLoadError, MuscallError

COLUMNS = ("ytid", "start_s", "end_s", "aspect_list", "caption", "is_audioset_eval")
DEFAULT_PATTERN = "{ytid}.wav"
LONGER_BY = 0.5  # seconds beyond the clip before the file counts as the whole video


def read_musiccaps(src: Path, options: FormatOptions) -> SourceRows:
    """Records of a MusicCaps CSV; rows with bad times, bad aspect lists or no audio file are rejected."""
    table = read_csv(src, COLUMNS, "MusicCaps")
    folder = options.audio_dir or src.parent
    out = SourceRows(base=folder, records=[], fixed_test=True)
    for line, rec in table:
        row = _row(rec, line, folder, options.audio_pattern or DEFAULT_PATTERN)
        if isinstance(row, Reject):
            out.rejects.append(row)
        else:
            out.records.append((line, row))
    return out


def read_csv(src: Path, required: tuple[str, ...], what: str) -> list[tuple[int, dict[str, str]]]:
    """(line, record) of a UTF-8 CSV whose header has every ``required`` column, else MuscallError."""
    try:
        with open(src, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise MuscallError(f"{src}: not a {what} CSV (no column {', '.join(missing)}); "
                                   f"columns are: {', '.join(reader.fieldnames or []) or 'none'}")
            return [(reader.line_num, {k: v for k, v in rec.items() if k is not None}) for rec in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise MuscallError(f"{src}: cannot read the {what} CSV ({err}); check the file") from err


def _row(rec: dict[str, str], line: int, folder: Path, pattern: str) -> dict[str, Any] | Reject:
    ytid = rec["ytid"].strip()
    try:
        start, end = float(rec["start_s"]), float(rec["end_s"])
    except ValueError:
        return Reject(line, None, "bad_times", f"start_s '{rec['start_s']}' / end_s '{rec['end_s']}' are not numbers",
                      ytid or None)
    if not (0 <= start < end):
        return Reject(line, None, "bad_times", f"start_s {start} must be >= 0 and below end_s {end}", ytid or None)
    try:
        aspects = ast.literal_eval(rec["aspect_list"] or "[]")
    except (ValueError, SyntaxError):
        aspects = None
    if not isinstance(aspects, list):
        return Reject(line, None, "bad_aspects", f"aspect_list is not a Python list literal: {rec['aspect_list'][:60]}",
                      ytid or None)
    fields = {**rec, "start": int(start), "end": int(end)}
    path = audio_file(folder, pattern, fields, line)
    if isinstance(path, Reject):
        return path
    if not path.is_file():
        return Reject(line, str(path), "missing_file", f"no audio for {ytid} at {path}; fetch it or fix "
                                                       f"--audio-pattern ('{pattern}') / --audio-dir", ytid)
    extra = {k: v for k, v in rec.items() if k not in ("ytid", "caption", "aspect_list", "is_audioset_eval")}
    crop = _crop(path, start, end)
    return {"path": str(path), "caption": rec["caption"], "id": ytid,
            "split": "test" if truthy(rec["is_audioset_eval"]) else None,
            "tags": [str(a) for a in aspects], **extra, **crop}


def _crop(path: Path, start: float, end: float) -> dict[str, float]:
    """``offset_s``/``clip_seconds`` when the file is the whole video rather than the clip."""
    try:
        seconds = audio_info(path).duration
    except AudioLoadError:
        return {}  # the importer's decode check rejects it with the reason
    return {"offset_s": start, "clip_seconds": round(end - start, 3)} if seconds > end - start + LONGER_BY else {}
