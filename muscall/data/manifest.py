"""Clip manifests: one JSON object per line, a :class:`ClipRow` in code."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from index.fileio import atomic_path
from muscall.errors import MuscallError

SPLITS = ("train", "val", "test")


@dataclass
class ClipRow:
    """One (audio, caption) pair. ``audio_path`` is absolute or relative to the manifest's folder."""

    id: str
    audio_path: str
    caption: str
    split: str = "train"
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    system: str | None = None  # the generating system (quality scoring)
    ratings: dict[str, float] = field(default_factory=dict)  # quality axes -> score
    duration: float | None = None  # seconds
    captions: list[str] = field(default_factory=list)  # further captions of the same clip (training samples them)

    def all_captions(self) -> list[str]:
        """``caption`` first, then the further ``captions`` (evaluation uses only the first)."""
        return [self.caption, *(c for c in self.captions if c and c != self.caption)]

    def to_json(self) -> str:
        """One compact JSON line, empty optional fields left out."""
        row = {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, [], {})}
        return json.dumps(row, ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> "ClipRow":
        """Build a row, naming the missing or unknown field on error."""
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [k for k in ("id", "audio_path", "caption") if k not in data]
        if missing:
            raise MuscallError(f"{where}missing field '{missing[0]}' (a row needs id, audio_path, caption)")
        unknown = sorted(set(data) - names)
        if unknown:
            raise MuscallError(f"{where}unknown field '{unknown[0]}' (known: {', '.join(sorted(names))})")
        row = cls(**data)
        if row.split not in SPLITS:
            raise MuscallError(f"{where}split '{row.split}' is not one of {SPLITS}")
        return row


def caption_of(row: ClipRow, field: str = "caption") -> str:
    """The text a row is evaluated on: its caption, or ``attributes[field]`` when ``data.caption_field`` names one."""
    return row.caption if field == "caption" else str(row.attributes.get(field, row.caption))


def captions_of(row: ClipRow, field: str = "caption", every: bool = True) -> list[str]:
    """The texts a row is trained on: all its captions when ``every`` (and ``field`` is caption), else one."""
    return row.all_captions() if every and field == "caption" else [caption_of(row, field)]


def read_manifest(path: str | Path, split: str | None = None) -> list[ClipRow]:
    """Read a JSONL manifest, optionally keeping one split."""
    return [r for r in iter_manifest(path) if split is None or r.split == split]


def iter_manifest(path: str | Path) -> Iterator[ClipRow]:
    """Yield rows of a JSONL manifest; a bad line raises naming file and line number."""
    path = Path(path)
    if not path.is_file():
        raise MuscallError(f"manifest '{path}' does not exist; create one with 'muscall data synth' or 'muscall data import'")
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}: "
            try:
                data = json.loads(line)
            except json.JSONDecodeError as err:
                raise MuscallError(f"{where}not valid JSON ({err.msg})") from err
            yield ClipRow.from_dict(data, where)


def write_manifest(path: str | Path, rows: Iterable[ClipRow]) -> int:
    """Write rows as JSONL atomically; returns the number written."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row.to_json() + "\n")
            n += 1
    return n


def resolve_audio_path(row: ClipRow, manifest_path: str | Path) -> Path:
    """The row's audio file, relative paths taken from the manifest's folder."""
    p = Path(row.audio_path)
    return p if p.is_absolute() else Path(manifest_path).parent / p
