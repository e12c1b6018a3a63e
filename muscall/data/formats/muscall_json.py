"""MusCALL / MusCaps: ``dataset_{split}.json`` files (a list of ``{"track_id", "caption": {"raw": ...}}``).

SRC is one such file (its split from the name) or a folder holding them. Audio is ``--audio-pattern``
(default ``{track_id}.wav``) under ``--audio-dir`` (default: an ``audio`` folder beside the JSON, else
the JSON's folder).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from muscall.data.formats.base import FormatOptions, Reject, SourceRows, audio_file
from muscall.errors import MuscallError

NAME = re.compile(r"^dataset_(?P<split>\w+)\.json$")
DEFAULT_PATTERN = "{track_id}.wav"


def dataset_files(src: Path) -> list[Path]:
    """The ``dataset_{split}.json`` files SRC names (itself, or those inside a folder)."""
    files = sorted(src.glob("dataset_*.json")) if src.is_dir() else [src]
    return [f for f in files if NAME.match(f.name)]


def read_muscall_json(src: Path, options: FormatOptions) -> SourceRows:
    """Records of every dataset file; rows without track_id, caption text or audio are rejected."""
    files = dataset_files(src)
    if not files:
        raise MuscallError(f"{src}: no dataset_{{split}}.json file; give one or the folder holding them")
    home = files[0].parent
    folder = options.audio_dir or (home / "audio" if (home / "audio").is_dir() else home)
    out = SourceRows(base=folder, records=[])
    for file in files:
        split = NAME.match(file.name)["split"]
        for n, item in enumerate(_load(file), 1):
            record = _record(item, n, split, folder, options.audio_pattern or DEFAULT_PATTERN)
            if isinstance(record, Reject):
                record.detail = f"{file.name} item {n}: {record.detail}"
                out.rejects.append(record)
            else:
                out.records.append((n, record))
    return out


def _load(file: Path) -> list[Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MuscallError(f"{file}: not readable JSON ({err}); check the file") from err
    if not isinstance(data, list):
        raise MuscallError(f"{file}: expected a JSON list of {{track_id, caption}} objects")
    return data


def _record(item: Any, n: int, split: str, folder: Path, pattern: str) -> dict[str, Any] | Reject:
    if not isinstance(item, dict) or item.get("track_id") in (None, ""):
        return Reject(n, None, "no_id", "the item has no track_id")
    track_id = str(item["track_id"])
    caption = item.get("caption")
    text = caption.get("raw") if isinstance(caption, dict) else caption
    path = audio_file(folder, pattern, {k: v for k, v in item.items() if not isinstance(v, (dict, list))}, n)
    if isinstance(path, Reject):
        return path
    if not path.is_file():
        return Reject(n, str(path), "missing_file", f"no audio for track {track_id} at {path}; "
                                                    "fix --audio-dir or --audio-pattern", track_id)
    extra = {k: v for k, v in item.items() if k not in ("track_id", "caption")}
    if isinstance(caption, dict):
        extra.update({f"caption_{k}": v for k, v in caption.items() if k != "raw"})
    return {"path": str(path), "caption": "" if text is None else str(text), "id": track_id,
            "split": {"validation": "val", "valid": "val"}.get(split, split), **extra}
