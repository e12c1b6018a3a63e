"""Import (audio, caption) pairs from a CSV/JSONL table or a folder of audio into a clean manifest.

Every row is checked (audio exists, decodes, is long enough, is not silent; caption non-empty; id unique;
split known). Bad rows never abort the import: they go to ``<manifest stem>.rejects.jsonl`` beside the
manifest, one JSON object per row with the source ``line``, ``path``, a short ``reason`` code and a
``detail`` message. Audio paths in the manifest are written relative to the manifest's folder, so the
manifest and its audio can be moved together.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from index.fileio import atomic_write_text
from muscall.audio.decode import decode
from muscall.config import AudioConfig
from muscall.data.manifest import SPLITS, ClipRow, write_manifest
from muscall.data.formats import READERS, FormatOptions, Reject, SourceRows, detect_format
from muscall.data.sources import ColumnMap, read_source
from muscall.errors import AudioLoadError, MuscallError

SPLIT_ALIASES = {"valid": "val", "validation": "val", "dev": "val", "eval": "test"}
# Substrings of AudioLoadError reasons (muscall.audio.decode) -> short reject codes; first match wins.
AUDIO_REASONS = (("does not exist", "missing_file"), ("0 bytes", "empty_file"), ("too short", "too_short"),
                 ("too long", "too_long"), ("silent", "silent"), ("not a regular file", "not_a_file"),
                 ("no audio samples", "empty_file"), ("not a readable", "corrupt"), ("corrupt", "corrupt"),
                 ("NaN", "corrupt"))


@dataclass
class ImportReport:
    """What an import kept and left out, and where it wrote them."""

    source: Path
    manifest: Path
    rejects_path: Path
    kept: list[ClipRow] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    @property
    def reasons(self) -> Counter:
        return Counter(r.reason for r in self.rejects)

    def summary(self) -> str:
        """A few human-readable lines: kept per split, rejected per reason, file locations."""
        splits = Counter(r.split for r in self.kept)
        lines = [f"kept {len(self.kept)} rows ({', '.join(f'{s} {splits[s]}' for s in SPLITS)}) -> {self.manifest}",
                 f"rejected {len(self.rejects)} rows -> {self.rejects_path}"]
        lines += [f"  {reason}: {n}" for reason, n in self.reasons.most_common()]
        return "\n".join(lines)


@dataclass
class _Row:
    """A source row after field checks, before the audio check."""

    line: int | None
    path: Path
    caption: str
    id: str | None
    split: str | None
    tags: list[str]
    extra: dict[str, Any]


class _RowError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def import_source(src: str | Path, out_manifest: str | Path, *, sample_rate: int, min_seconds: float | None,
                  max_seconds: float | None, columns: ColumnMap = ColumnMap(), val_fraction: float = 0.1,
                  test_fraction: float = 0.1, seed: int = 0, workers: int = 4, keep_extra: bool = True,
                  progress: bool = True, fmt: str = "auto", options: FormatOptions = FormatOptions()) -> ImportReport:
    """Check every row of ``src`` (read as dataset format ``fmt``) and write the good ones to ``out_manifest``.

    Rejects go beside the manifest; a format that names its test split (MusicCaps) fills only val by fraction.

    Raises:
        MuscallError: the source is missing, unreadable or has no rows, or no row passes the checks.
    """
    if not (0 <= val_fraction and 0 <= test_fraction and val_fraction + test_fraction < 1):
        raise MuscallError(f"split fractions val={val_fraction} test={test_fraction} must be >= 0 and sum below 1")
    src, out = Path(src), Path(out_manifest)
    report = ImportReport(src, out, out.with_name(f"{out.stem}.rejects.jsonl"))
    source = _read(src, fmt, columns, options)
    base, records, cols = source.base, source.records, source.columns
    report.rejects.extend(source.rejects)
    rows = []
    for line, record in records:
        try:
            rows.append(_check_fields(record, line, base, cols, columns.tags_sep, keep_extra,
                                      source.allow_empty_caption))
        except _RowError as err:
            raw = _raw_path(record, cols)
            report.rejects.append(Reject(line, raw and str(_resolve(base, raw)), err.reason, err.detail))
    rows = _assign_ids(rows, base, report.rejects)
    durations = _check_audio(sorted({r.path for r in rows}), sample_rate, min_seconds, max_seconds, workers, progress)
    good = []
    for row in rows:
        result = durations[row.path]
        if isinstance(result, AudioLoadError):
            reason = _audio_reason(result.reason)
            detail = f"file does not exist (relative paths are taken from {base})" if reason == "missing_file" \
                else result.reason
            report.rejects.append(Reject(row.line, str(row.path), reason, detail, row.id))
        else:
            good.append((row, result))
    report.rejects.sort(key=lambda r: (r.line is None, r.line or 0, r.path or ""))
    atomic_write_text(report.rejects_path, "".join(r.to_json() + "\n" for r in report.rejects))
    if not good:
        why = ", ".join(f"{reason} {n}" for reason, n in report.reasons.most_common())
        raise MuscallError(f"{src}: none of the {len(records) + len(source.rejects)} rows is usable ({why}; details in "
                           f"{report.rejects_path}); fix the rows or the column names (--path-col, --caption-col)")
    splits = _assign_splits([row for row, _ in good], val_fraction, 0.0 if source.fixed_test else test_fraction, seed)
    report.kept = [_to_cliprow(row, dur, splits[row.path], out) for row, dur in good]
    write_manifest(out, report.kept)
    return report


def _read(src: Path, fmt: str, columns: ColumnMap, options: FormatOptions) -> SourceRows:
    """SRC's records through its format's reader (``table``/``folder``: the generic reader)."""
    fmt = detect_format(src) if fmt == "auto" else fmt
    if fmt in READERS:
        return READERS[fmt](src, options)
    if fmt not in ("table", "folder"):
        raise MuscallError(f"unknown format '{fmt}'; use auto, table, folder or one of {', '.join(READERS)}")
    base, records, cols = read_source(src, columns)
    return SourceRows(base=base, records=records, columns=cols)


def _raw_path(record: dict[str, Any], cols: dict) -> str | None:
    value = record.get(cols["path"])
    return None if value in (None, "") else str(value)


def _check_fields(rec: dict[str, Any], line: int | None, base: Path, cols: dict, tags_sep: str,
                  keep_extra: bool, allow_empty_caption: bool = False) -> _Row:
    """Validate one record's fields (not its audio); raises _RowError with a reject code."""
    if "__error__" in rec:
        err = rec["__error__"]
        raise _RowError(*err) if isinstance(err, tuple) else _RowError("bad_json", err)
    raw_path = _raw_path(rec, cols)
    if raw_path is None:
        raise _RowError("no_path", f"the {cols['path']} field is empty; give the audio file's path")
    caption = rec.get(cols["caption"])
    caption = "" if caption is None else str(caption).strip()
    if not caption and not allow_empty_caption:
        raise _RowError("empty_caption", f"the {cols['caption']} field is empty; write a caption or drop the row")
    split = _split(rec.get(cols["split"])) if cols["split"] else None
    used = {c for c in cols.values() if c}
    extra = {k: v for k, v in rec.items() if k not in used and v not in (None, "", [], {})} if keep_extra else {}
    row_id = rec.get(cols["id"]) if cols["id"] else None
    row_id = None if row_id is None or str(row_id).strip() == "" else str(row_id).strip()
    tags = _tags(rec.get(cols["tags"]) if cols["tags"] else None, tags_sep)
    return _Row(line, _resolve(base, raw_path), caption, row_id, split, tags, extra)


def _resolve(base: Path, raw_path: str) -> Path:
    return Path(os.path.abspath(base / Path(raw_path).expanduser()))


def _split(value: Any) -> str | None:
    if value is None or str(value).strip() == "":
        return None  # assigned with the seeded fractions
    name = str(value).strip().lower()
    name = SPLIT_ALIASES.get(name, name)
    if name not in SPLITS:
        raise _RowError("bad_split", f"split '{value}' is not one of {', '.join(SPLITS)}")
    return name


def _tags(value: Any, sep: str) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(sep)
    return [str(t).strip() for t in items if str(t).strip()]


def _assign_ids(rows: list[_Row], base: Path, rejects: list[Reject]) -> list[_Row]:
    """Fill missing ids from a hash of the path (``-2``, ``-3`` for more captions of one file); drop duplicates."""
    seen: dict[str, int | str] = {}
    per_path: Counter = Counter()
    kept = []
    for row in rows:
        if row.id is None:
            per_path[row.path] += 1
            row.id = stable_id(row.path, base) + (f"-{per_path[row.path]}" if per_path[row.path] > 1 else "")
        if row.id in seen:
            first = seen[row.id]
            where = f"line {first}" if isinstance(first, int) else first
            rejects.append(Reject(row.line, str(row.path), "duplicate_id",
                                  f"id '{row.id}' is already used by {where}; ids must be unique", row.id))
            continue
        seen[row.id] = row.line if row.line is not None else str(row.path)
        kept.append(row)
    return kept


def stable_id(path: Path, base: Path) -> str:
    """A 12-hex-digit id from the path relative to the source folder (same file, same id, on any machine)."""
    try:
        key = Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive (Windows)
        key = path.as_posix()
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def _check_audio(paths: list[Path], sample_rate: int, min_seconds: float | None, max_seconds: float | None,
                 workers: int, progress: bool) -> dict[Path, float | AudioLoadError]:
    """Decode each file once (a thread pool: libsndfile and soxr release the GIL); path -> seconds or error."""
    audio = AudioConfig(sample_rate=sample_rate, min_seconds=min_seconds, max_seconds=max_seconds)

    def check(path: Path) -> float | AudioLoadError:
        try:
            return len(decode(path, audio)) / sample_rate
        except AudioLoadError as err:
            return err

    bar = tqdm(total=len(paths), desc="checking audio", unit="file", disable=not progress)
    with bar, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = {}
        for path, result in zip(paths, pool.map(check, paths)):
            results[path] = result
            bar.update()
    return results


def _audio_reason(reason: str) -> str:
    return next((code for needle, code in AUDIO_REASONS if needle in reason), "bad_audio")


def _assign_splits(rows: list[_Row], val_fraction: float, test_fraction: float, seed: int) -> dict[Path, str]:
    """Split per audio file (all captions of a file share it): the split column where given, else seeded."""
    given: dict[Path, str] = {}
    for row in rows:
        if row.split is not None:
            given.setdefault(row.path, row.split)
    free = sorted({row.path for row in rows} - set(given))
    random.Random(seed).shuffle(free)
    n_val, n_test = round(len(free) * val_fraction), round(len(free) * test_fraction)
    splits = dict(given)
    for i, path in enumerate(free):
        splits[path] = "val" if i < n_val else "test" if i < n_val + n_test else "train"
    return splits


def _to_cliprow(row: _Row, duration: float, split: str, manifest: Path) -> ClipRow:
    extra = dict(row.extra)
    kw: dict[str, Any] = {}
    if isinstance(extra.get("system"), str):
        kw["system"] = extra.pop("system")
    if isinstance(extra.get("ratings"), dict):
        kw["ratings"] = extra.pop("ratings")
    if isinstance(extra.get("captions"), list):
        kw["captions"] = [str(c) for c in extra.pop("captions")]
    extra.pop("duration", None)  # measured again below
    attributes = extra.pop("attributes", {})
    attributes = {**extra, **attributes} if isinstance(attributes, dict) else {**extra, "attributes": attributes}
    try:
        audio_path = os.path.relpath(row.path, os.path.abspath(manifest.parent))
    except ValueError:  # another drive (Windows)
        audio_path = str(row.path)
    return ClipRow(id=row.id, audio_path=Path(audio_path).as_posix(), caption=row.caption, split=split,
                   tags=row.tags, attributes=attributes, duration=round(duration, 3), **kw)
