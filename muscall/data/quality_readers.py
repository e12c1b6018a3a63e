"""Readers of quality-rating datasets into :class:`ClipRow` lists (``system`` and ``ratings`` set, caption = prompt).

* :func:`read_musiceval` — MusicEval / AudioMOS 2025 track 1: a list file of ``wav,MI,TA`` lines (header
  optional), prompt TSVs ``id<TAB>text`` (keyed by prompt id such as ``P001`` or by the whole file name),
  system and prompt ids parsed from names like ``audiomos2025-track1-S001_P001.wav``;
  :func:`read_system_scores` reads the optional ``system,MI,TA`` CSV.
* :func:`read_aesthetics` — Audiobox-Aesthetics / AudioMOS 2025 track 2 CSV or JSONL: ``path`` or
  ``data_path`` and the axes ``PQ PC CE CU`` (or their long names; a list of ratings is averaged).
* :func:`read_generic_csv` — path, prompt, system and one numeric column per axis.
* :func:`split_by` — splits by system or by prompt, so no system (or prompt) is in two splits.

Audio paths are resolved (absolute) against ``audio_dir``; they are not opened unless ``check_audio``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from muscall.data.manifest import SPLITS, ClipRow
from muscall.errors import MuscallError

MUSICEVAL_NAME = re.compile(r"(?P<system>[A-Za-z]*\d+)_(?P<prompt>[A-Za-z]*\d+)$")
MUSICEVAL_AXES = {"mi": "MI", "overall": "MI", "quality": "MI", "ta": "TA", "textual": "TA", "alignment": "TA"}
AESTHETIC_AXES = {"PQ": ("pq", "production_quality", "production quality"),
                  "PC": ("pc", "production_complexity", "production complexity"),
                  "CE": ("ce", "content_enjoyment", "content enjoyment"),
                  "CU": ("cu", "content_usefulness", "content usefulness")}
PATH_COLUMNS = ("path", "data_path", "audio_path", "wav", "file", "filename")
PROMPT_COLUMNS = ("prompt", "text", "caption", "description")
SYSTEM_COLUMNS = ("system", "system_id", "model")
ID_COLUMNS = ("id", "sample_id", "utt_id")


class QualityDataError(MuscallError, ValueError):
    """A rating file is missing or malformed; the message names the file, the line or column, and the fix."""


def read_musiceval(list_file: str | Path, prompts: str | Path | Sequence[str | Path] | None = None,
                   audio_dir: str | Path | None = None, split: str = "train", check_audio: bool = False,
                   name_pattern: re.Pattern[str] = MUSICEVAL_NAME) -> list[ClipRow]:
    """Rows of a MusicEval list file (``wav,MI,TA`` per line); ``prompts`` are TSVs of ``id<TAB>text``.

    ``audio_dir`` defaults to a ``wav`` folder beside the list file or one level up, else the list's folder.
    """
    path = _need_file(list_file, "MusicEval list file")
    lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.strip()]
    if not lines:
        raise QualityDataError(f"{path}: no rows; expected lines like 'audiomos2025-track1-S001_P001.wav,3.5,4.0'")
    fields = [[f.strip() for f in line.split(",")] for _, line in lines]
    header = not _is_number(fields[0][1] if len(fields[0]) > 1 else "")
    axes = [MUSICEVAL_AXES.get(h.lower(), h) for h in fields[0][1:]] if header else ["MI", "TA"]
    texts = _read_prompts(prompts)
    base = Path(audio_dir) if audio_dir is not None else _default_wav_dir(path)
    rows = []
    for (lineno, _), parts in list(zip(lines, fields))[1 if header else 0:]:
        name = parts[0]
        match = name_pattern.search(Path(name).stem)
        if match is None:
            raise QualityDataError(f"{path}:{lineno}: cannot find system and prompt ids in '{name}' (expected a "
                                   "name ending in S001_P001.wav); pass name_pattern= for other names")
        ratings = _ratings(dict(zip(axes, parts[1:])), axes, path, lineno)
        caption = _prompt_for(texts, name, match["prompt"], prompts) if texts is not None else ""
        rows.append(ClipRow(id=Path(name).stem, audio_path=str((base / name).resolve()), caption=caption,
                            split=_check_split(split), attributes={"prompt_id": match["prompt"]},
                            system=match["system"], ratings=ratings))
    return _checked(rows, check_audio, path)


def read_system_scores(path: str | Path) -> dict[str, dict[str, float]]:
    """``{system: {axis: score}}`` from a ``system,MI,TA`` CSV (header optional)."""
    path = _need_file(path, "system-score file")
    lines = [(n, [c.strip() for c in parts]) for n, parts in
             enumerate(csv.reader(path.read_text(encoding="utf-8").splitlines()), 1) if any(c.strip() for c in parts)]
    header = bool(lines) and len(lines[0][1]) > 1 and not _is_number(lines[0][1][1])
    axes = [MUSICEVAL_AXES.get(h.lower(), h) for h in lines[0][1][1:]] if header else ["MI", "TA"]
    return {parts[0]: _ratings(dict(zip(axes, parts[1:])), axes, path, lineno)
            for lineno, parts in lines[1 if header else 0:]}


def read_aesthetics(path: str | Path, audio_dir: str | Path | None = None, split: str = "train",
                    check_audio: bool = False) -> list[ClipRow]:
    """Rows of an Audiobox-Aesthetics style CSV/JSONL: path (or data_path), PQ, PC, CE, CU, optional prompt."""
    path = _need_file(path, "aesthetics rating file")
    columns, records = read_table(path)
    path_col = _column(columns, PATH_COLUMNS, path, "audio path")
    axis_cols = {axis: _column(columns, (axis.lower(), *aliases), path, f"{axis} rating", required=False)
                 for axis, aliases in AESTHETIC_AXES.items()}
    axis_cols = {axis: col for axis, col in axis_cols.items() if col}
    if not axis_cols:
        raise QualityDataError(f"{path}: no rating column among PQ, PC, CE, CU (or production_quality, ...); "
                               f"columns found: {', '.join(columns)}")
    return _rows_from_records(path, records, path_col, axis_cols, audio_dir, split, check_audio,
                              prompt_col=_column(columns, PROMPT_COLUMNS, path, "prompt", required=False),
                              system_col=_column(columns, SYSTEM_COLUMNS, path, "system", required=False),
                              id_col=_column(columns, ID_COLUMNS, path, "id", required=False))


def read_generic_csv(path: str | Path, path_col: str = "path", prompt_col: str | None = "prompt",
                     system_col: str | None = "system", axes: Sequence[str] | Mapping[str, str] | None = None,
                     id_col: str | None = "id", audio_dir: str | Path | None = None, split: str = "train",
                     check_audio: bool = False) -> list[ClipRow]:
    """Rows of a CSV/TSV/JSONL with a path, prompt and system column and one column per axis.

    ``axes`` lists the rating columns, or maps axis -> column (``{"MI": "quality"}``); it defaults to every
    other column whose values are all numbers. Optional columns (prompt, system, id) that are absent are
    left empty; a ``split`` column, when present, sets each row's split.
    """
    path = _need_file(path, "rating file")
    columns, records = read_table(path)
    found = {c.lower(): c for c in columns}
    wanted = dict(axes) if isinstance(axes, Mapping) else {a: a for a in axes or []}
    need = [path_col, *wanted.values()]
    for name in need:
        if name.lower() not in found:
            raise QualityDataError(f"{path}: no column '{name}' (columns found: {', '.join(columns)}); rename the "
                                   "column or pass its name")
    optional = {k: found.get(v.lower()) if v else None for k, v in
                (("prompt", prompt_col), ("system", system_col), ("id", id_col))}
    if not wanted:
        skip = {found[path_col.lower()], found.get("split"), *(v for v in optional.values() if v)}
        wanted = {c: c for c in columns if c not in skip and _numeric_column(records, c)}
        if not wanted:
            raise QualityDataError(f"{path}: no numeric rating column found (columns: {', '.join(columns)}); "
                                   "pass axes=[...] naming them")
    axis_cols = {axis: found[col.lower()] for axis, col in wanted.items()}
    return _rows_from_records(path, records, found[path_col.lower()], axis_cols, audio_dir, split, check_audio,
                              prompt_col=optional["prompt"], system_col=optional["system"], id_col=optional["id"],
                              split_col=found.get("split"))


def split_by(rows: Iterable[ClipRow], by: str = "system", fractions: Sequence[float] = (0.8, 0.1, 0.1),
             seed: int = 0) -> list[ClipRow]:
    """Copies of ``rows`` with train/val/test splits assigned per system or per prompt (never both).

    Every row of one system (or one prompt: its ``prompt_id`` attribute, else its caption) lands in one split;
    groups go, in a seeded order, to the split furthest below its share of rows.
    """
    if not isinstance(by, str) or by not in ("system", "prompt"):
        raise QualityDataError(f"split_by(by={by!r}): split by 'system' or by 'prompt', not both; a split by both "
                               "would leave almost no rows whose system and prompt are both unseen")
    if len(fractions) != len(SPLITS) or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise QualityDataError(f"fractions {tuple(fractions)}: give {len(SPLITS)} non-negative fractions "
                               f"({'/'.join(SPLITS)}) summing to 1")
    rows = list(rows)
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        key = row.system if by == "system" else row.attributes.get("prompt_id", row.caption or None)
        if not key:
            raise QualityDataError(f"row '{row.id}' has no {by}; every row needs one to split by {by}")
        groups.setdefault(str(key), []).append(i)
    names = sorted(groups)
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    targets = np.asarray(fractions, dtype=float) * len(rows)
    counts = np.zeros(len(SPLITS))
    assigned: dict[str, str] = {}
    seeded = [k for k in np.argsort(fractions) if fractions[k] > 0][: len(order)]  # each used split gets a group
    for n, name in enumerate(order):
        k = int(seeded[n]) if n < len(seeded) else int(np.argmax(targets - counts))
        assigned[name] = SPLITS[k]
        counts[k] += len(groups[name])
    return [dataclasses.replace(rows[i], split=assigned[name]) for name in names for i in groups[name]]


def read_table(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Columns and ``(line number, record)`` pairs of a .csv, .tsv or .jsonl file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".jsonl", ".json"):
        records, columns = [], {}
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise QualityDataError(f"{path}:{lineno}: not valid JSON ({err.msg})") from err
            if not isinstance(record, dict):
                raise QualityDataError(f"{path}:{lineno}: expected a JSON object per line")
            columns.update(dict.fromkeys(record))
            records.append((lineno, record))
        return list(columns), records
    reader = csv.DictReader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    columns = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    return columns, [(reader.line_num, row) for row in reader if any((v or "").strip() for v in row.values())]


def _rows_from_records(path: Path, records: list[tuple[int, dict[str, Any]]], path_col: str,
                       axis_cols: dict[str, str], audio_dir: str | Path | None, split: str, check_audio: bool,
                       prompt_col: str | None = None, system_col: str | None = None, id_col: str | None = None,
                       split_col: str | None = None) -> list[ClipRow]:
    base = Path(audio_dir) if audio_dir is not None else path.parent
    rows = []
    for lineno, record in records:
        audio = str(record.get(path_col) or "").strip()
        if not audio:
            raise QualityDataError(f"{path}:{lineno}: empty audio path in column '{path_col}'")
        values = {axis: record.get(col) for axis, col in axis_cols.items()}
        row_split = str(record.get(split_col) or "").strip() if split_col else ""
        row_id = str(record.get(id_col) or "").strip() if id_col else ""
        rows.append(ClipRow(
            id=row_id or Path(audio).stem, audio_path=str((base / audio).resolve()),
            caption=str(record.get(prompt_col) or "").strip() if prompt_col else "",
            split=_check_split(row_split or split, f"{path}:{lineno}: "),
            system=str(record.get(system_col)).strip() if system_col and record.get(system_col) else None,
            ratings=_ratings(values, list(axis_cols), path, lineno, axis_cols)))
    return _checked(rows, check_audio, path)


def _ratings(values: dict[str, Any], axes: list[str], path: Path, lineno: int,
             columns: dict[str, str] | None = None) -> dict[str, float]:
    """Axis -> float; a list of ratings is averaged; a missing or non-numeric value raises naming file and line."""
    out = {}
    for axis in axes:
        value, column = values.get(axis), (columns or {}).get(axis, axis)
        if isinstance(value, list) and value and all(_is_number(v) for v in value):
            out[axis] = float(np.mean([float(v) for v in value]))
        elif _is_number(value):
            out[axis] = float(value)
        else:
            problem = f"no rating in column '{column}'" if value in (None, "") else \
                f"rating '{value}' in column '{column}' is not a number"
            raise QualityDataError(f"{path}:{lineno}: {problem}; fix or drop that line")
    return out


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _numeric_column(records: list[tuple[int, dict[str, Any]]], column: str) -> bool:
    values = [r.get(column) for _, r in records if r.get(column) not in (None, "")]
    return bool(values) and all(_is_number(v) for v in values)


def _column(columns: list[str], aliases: Iterable[str], path: Path, what: str, required: bool = True) -> str | None:
    by_name = {c.strip().lower(): c for c in columns}
    for alias in aliases:
        if alias in by_name:
            return by_name[alias]
    if required:
        raise QualityDataError(f"{path}: no {what} column (looked for {', '.join(aliases)}; columns found: "
                               f"{', '.join(columns)}); rename the column")
    return None


def _need_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise QualityDataError(f"{what} '{path}' does not exist; check the path")
    return path


def _default_wav_dir(list_file: Path) -> Path:
    for candidate in (list_file.parent / "wav", list_file.parent.parent / "wav"):
        if candidate.is_dir():
            return candidate
    return list_file.parent


def _read_prompts(prompts: str | Path | Sequence[str | Path] | None) -> dict[str, str] | None:
    if prompts is None:
        return None
    files = [prompts] if isinstance(prompts, (str, Path)) else list(prompts)
    texts: dict[str, str] = {}
    for file in files:
        path = _need_file(file, "prompt file")
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            key, sep, text = line.partition("\t")
            if not sep:
                raise QualityDataError(f"{path}:{lineno}: expected 'id<TAB>text'")
            if lineno == 1 and key.strip().lower() == "id":
                continue  # header
            texts[key.strip()] = text.strip()
    return texts


def _prompt_for(texts: dict[str, str], name: str, prompt_id: str, prompts: Any) -> str:
    for key in (name, Path(name).stem, prompt_id):
        if key in texts:
            return texts[key]
    raise QualityDataError(f"no prompt for '{name}' (looked up '{name}', '{Path(name).stem}' and '{prompt_id}') in "
                           f"{prompts}; add the prompt file that holds it (e.g. demo_prompt_info.txt)")


def _check_split(split: str, where: str = "") -> str:
    if split not in SPLITS:
        raise QualityDataError(f"{where}split '{split}' is not one of {', '.join(SPLITS)}")
    return split


def _checked(rows: list[ClipRow], check_audio: bool, source: Path) -> list[ClipRow]:
    if check_audio:
        missing = [r.audio_path for r in rows if not Path(r.audio_path).is_file()]
        if missing:
            raise QualityDataError(f"{source}: {len(missing)} audio files not found, e.g. '{missing[0]}'; "
                                   "pass audio_dir= pointing at the folder that holds them")
    return rows
