"""Reading an import source: a CSV/TSV/JSONL table, or a folder of audio with sidecar ``.txt`` captions.

:func:`read_source` yields every record with its source line, and which column plays which role (path,
caption, id, split, tags); checking the records is :mod:`muscall.data.importer`'s job.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from muscall.audio.decode import AUDIO_SUFFIXES
from muscall.errors import MuscallError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None}
FOLDER_TABLES = ("captions.jsonl", "captions.csv")
DEFAULT_COLUMNS = {"path": ("path", "audio_path"), "caption": ("caption", "text"), "id": ("id",),
                   "split": ("split",), "tags": ("tags",)}


@dataclass(frozen=True)
class ColumnMap:
    """Source column names; ``None`` means the first default present (see ``DEFAULT_COLUMNS``)."""

    path: str | None = None
    caption: str | None = None
    id: str | None = None
    split: str | None = None
    tags: str | None = None
    tags_sep: str = ","

    def resolve(self, present: set[str], where: str) -> dict[str, str | None]:
        """Role -> column actually used; a named column that is absent, or no path/caption, raises."""
        out: dict[str, str | None] = {}
        for role, defaults in DEFAULT_COLUMNS.items():
            name = getattr(self, role)
            if name is not None and name not in present:
                raise MuscallError(f"{where}: no column '{name}' (--{role.replace('_', '-')}-col); "
                                   f"columns are: {', '.join(sorted(present)) or 'none'}")
            out[role] = name or next((d for d in defaults if d in present), None)
            if out[role] is None and role in ("path", "caption"):
                raise MuscallError(f"{where}: no {role} column (looked for {' or '.join(defaults)}); "
                                   f"columns are: {', '.join(sorted(present)) or 'none'}; name it with --{role}-col")
        return out


def read_source(src: Path, columns: ColumnMap) -> tuple[Path, list[tuple[int | None, dict[str, Any]]], dict]:
    """(folder relative paths resolve against, [(source line, record)], role -> column) for a file or folder."""
    if not src.exists():
        raise MuscallError(f"source '{src}' does not exist; give a CSV/TSV/JSONL file or a folder of audio")
    if src.is_dir():
        tables = [src / name for name in FOLDER_TABLES if (src / name).is_file()]
        if len(tables) > 1:
            raise MuscallError(f"{src}: has both {FOLDER_TABLES[0]} and {FOLDER_TABLES[1]}; pass the one to use as SRC")
        if not tables:
            return src, *_read_sidecars(src)
        src = tables[0]
    if src.suffix.lower() not in TABLE_SUFFIXES:
        raise MuscallError(f"source '{src}': unsupported type '{src.suffix}'; use .csv, .tsv, .jsonl or a folder")
    records = list(_read_table(src))
    if not records:
        raise MuscallError(f"source '{src}' has no rows; add one row per (audio, caption) pair")
    present = {k for _, rec in records for k in rec if k != "__error__"}
    if not present:
        line, rec = records[0]
        raise MuscallError(f"source '{src}': no row could be read (line {line}: {rec['__error__']}); "
                           "write one JSON object per line")
    return src.parent, records, columns.resolve(present, str(src))


def _read_table(path: Path) -> Iterator[tuple[int | None, dict[str, Any]]]:
    delimiter = TABLE_SUFFIXES[path.suffix.lower()]
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            if delimiter is None:
                yield from _jsonl_records(fh)
                return
            reader = csv.DictReader(fh, delimiter=delimiter)
            for rec in reader:
                yield reader.line_num, {k: v for k, v in rec.items() if k is not None}
    except UnicodeDecodeError as err:
        raise MuscallError(f"source '{path}' is not UTF-8 text ({err.reason} at byte {err.start}); "
                           "re-save it as UTF-8") from err
    except (csv.Error, OSError) as err:
        raise MuscallError(f"source '{path}' cannot be read as a table ({err}); check the file") from err


def _jsonl_records(fh) -> Iterator[tuple[int | None, dict[str, Any]]]:
    for lineno, text in enumerate(fh, 1):
        if not text.strip():
            continue
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as err:
            rec = {"__error__": f"not valid JSON ({err.msg})"}
        yield lineno, rec if isinstance(rec, dict) else {"__error__": "not a JSON object"}


def _read_sidecars(folder: Path) -> tuple[list[tuple[int | None, dict[str, Any]]], dict]:
    audio = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not audio:
        raise MuscallError(f"folder '{folder}' has no audio ({', '.join(AUDIO_SUFFIXES)}) and no "
                           f"{' or '.join(FOLDER_TABLES)}; add audio with sidecar .txt captions")
    records = []
    for path in audio:
        rec: dict[str, Any] = {"path": str(path.relative_to(folder))}
        sidecar = path.with_suffix(".txt")
        try:
            rec["caption"] = sidecar.read_text(encoding="utf-8")
        except FileNotFoundError:
            rec["__error__"] = ("no_caption", f"no caption file {sidecar.name} beside the audio; write one")
        except (OSError, UnicodeDecodeError) as err:
            rec["__error__"] = ("unreadable_caption", f"{sidecar.name} cannot be read as UTF-8 text ({err})")
        records.append((None, rec))
    cols = {"path": "path", "caption": "caption", "id": None, "split": None, "tags": None}
    return records, cols
