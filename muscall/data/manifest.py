"""Clip manifests: one JSON object per line, a :class:`ClipRow` in code.

Our own keys are checked strictly (present where required, of the right JSON type). Keys we do not know
(a dataset's own fields) are kept, not refused: they land in ``ClipRow.extra``, are written back at the top
level, and reach the catalog as ``attributes["extra"]`` (so ``GET /tracks/{id}`` returns them there); the
first manifest with such keys logs a one-line warning.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from index.fileio import atomic_path
from muscall.audio.decode import Segment
from muscall.errors import MuscallError

SPLITS = ("train", "val", "test")
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "audio_path": (str,), "caption": (str,), "split": (str,), "tags": (list,), "attributes": (dict,),
    "system": (str, type(None)), "ratings": (dict,), "duration": (int, float, type(None)), "captions": (list,)}
log = logging.getLogger(__name__)
_warned_unknown = False


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
    extra: dict[str, Any] = field(default_factory=dict)  # a source's own top-level keys, kept as they are

    def all_captions(self) -> list[str]:
        """``caption`` first, then the further ``captions`` (evaluation uses only the first)."""
        return [self.caption, *(c for c in self.captions if c and c != self.caption)]

    def to_json(self) -> str:
        """One compact JSON line, empty optional fields left out."""
        row = {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, [], {}) and k != "extra"}
        row.update({k: v for k, v in self.extra.items() if k not in row})
        return json.dumps(row, ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> "ClipRow":
        """Build a row, naming a missing or mistyped field on error; unknown keys go to ``extra``."""
        missing = [k for k in ("id", "audio_path", "caption") if k not in data]
        if missing:
            raise MuscallError(f"{where}missing field '{missing[0]}' (a row needs id, audio_path, caption)")
        for key, types in FIELD_TYPES.items():
            if key in data and (not isinstance(data[key], types) or isinstance(data[key], bool)):
                raise MuscallError(f"{where}field '{key}' is a {type(data[key]).__name__}, expected "
                                   f"{' or '.join('null' if t is type(None) else t.__name__ for t in types)}")
        extra = {k: v for k, v in data.items() if k not in FIELD_TYPES}
        _warn_unknown(extra, where)
        row = cls(**{k: v for k, v in data.items() if k in FIELD_TYPES}, extra=extra)
        if row.split not in SPLITS:
            raise MuscallError(f"{where}split '{row.split}' is not one of {SPLITS}")
        return row


def _warn_unknown(extra: dict[str, Any], where: str) -> None:
    global _warned_unknown
    if extra and not _warned_unknown:
        _warned_unknown = True
        log.warning("%skeeping unknown field(s) %s as the row's extra (shown in the catalog under attributes.extra)",
                    where, ", ".join(sorted(extra)))


def clip_segment(attributes: Mapping[str, Any], where: str = "") -> Segment | None:
    """The part of the file a row describes: ``attributes.offset_s`` / ``clip_seconds`` (MusicCaps imports of
    whole videos), or None for the whole file."""
    start, seconds = attributes.get("offset_s"), attributes.get("clip_seconds")
    if start is None and seconds is None:
        return None
    try:
        return Segment(float(start or 0.0), None if seconds is None else float(seconds))
    except (TypeError, ValueError) as err:
        raise MuscallError(f"{where}attributes.offset_s={start!r} / clip_seconds={seconds!r} is not a segment "
                           f"({err}); give seconds, offset_s >= 0 and clip_seconds > 0") from err


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
