"""What a dataset-format reader hands the importer: normalised records, early rejects, and split rules.

Every reader turns its dataset's own layout into records with the importer's standard keys (``path``,
``caption``, ``id``, ``split``, ``tags``, ``captions``, and for rated sets ``system``/``ratings``); every
other key is kept as an extra attribute. Rows a reader can already tell are broken (bad times, missing
audio, an unparsable field) come back as :class:`Reject` with a reason code, never as an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STANDARD_COLUMNS = {"path": "path", "caption": "caption", "id": "id", "split": "split", "tags": "tags"}


@dataclass
class Reject:
    """One row left out, and why."""

    line: int | None
    path: str | None
    reason: str
    detail: str
    id: str | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in self.__dict__.items() if v is not None}, ensure_ascii=False)


@dataclass(frozen=True)
class FormatOptions:
    """Reader options from the command line; each format uses the ones it needs."""

    audio_dir: Path | None = None  # where the audio lives (default: beside the metadata file)
    audio_pattern: str | None = None  # file name from a row's fields, e.g. '{ytid}.wav'
    prompts: tuple[Path, ...] = ()  # MusicEval prompt TSVs
    allow_untagged: bool = False  # tags: keep files without tags (caption from the file name)


@dataclass
class SourceRows:
    """A reader's output: records in the importer's standard keys, rejects, and how splits are filled."""

    base: Path  # relative paths resolve against this folder
    records: list[tuple[int | None, dict[str, Any]]]
    rejects: list[Reject] = field(default_factory=list)
    columns: dict[str, str | None] = field(default_factory=lambda: dict(STANDARD_COLUMNS))
    allow_empty_caption: bool = False  # rated sets may have no prompt
    fixed_test: bool = False  # the dataset names its test split; seeded fractions fill only val


def audio_file(folder: Path, pattern: str, fields: dict[str, Any], line: int | None) -> Path | Reject:
    """``folder / pattern.format(**fields)``, or a Reject naming the unknown placeholder."""
    try:
        return folder / pattern.format(**fields)
    except (KeyError, IndexError, ValueError) as err:
        return Reject(line, None, "bad_pattern", f"--audio-pattern '{pattern}' names {err}, which the row lacks; "
                                                 f"use one of {{{'}, {'.join(sorted(fields))}}}")


def truthy(value: Any) -> bool:
    """A CSV boolean: True/true/1/yes."""
    return str(value).strip().lower() in ("true", "1", "yes", "y", "t")
