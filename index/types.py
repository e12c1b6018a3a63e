"""Per-track metadata rows shared by the shard files and the metadata database."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from index.errors import CatalogError

_FIELDS = ("track_id", "path", "title", "duration", "tags", "attributes")


def normalize_tag(tag: str) -> str:
    """Lower-case a tag and collapse its whitespace (``" Jazz  Fusion "`` -> ``"jazz fusion"``)."""
    return " ".join(str(tag).split()).lower()


@dataclass
class TrackMeta:
    """What the catalog knows about one track besides its embedding."""

    track_id: str
    path: str = ""
    title: str = ""
    duration: float | None = None
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)

    @classmethod
    def coerce(cls, row: TrackMeta | Mapping[str, Any], where: str = "metadata") -> TrackMeta:
        """Accept a TrackMeta or a dict with the same keys; raise CatalogError naming a bad field."""
        if isinstance(row, TrackMeta):
            meta = row
        elif isinstance(row, Mapping):
            unknown = sorted(set(row) - set(_FIELDS))
            if unknown:
                raise CatalogError(f"{where}: unknown field(s) {unknown}; allowed fields are {list(_FIELDS)} "
                                   "(put anything else under 'attributes')")
            if "track_id" not in row:
                raise CatalogError(f"{where}: missing 'track_id'")
            meta = cls(**dict(row))
        else:
            raise CatalogError(f"{where}: expected a TrackMeta or a dict, got {type(row).__name__}")
        meta.validate(where)
        return meta

    def validate(self, where: str = "metadata") -> None:
        """Check types; raise CatalogError naming the field."""
        if not isinstance(self.track_id, str) or not self.track_id:
            raise CatalogError(f"{where}: track_id must be a non-empty string, got {self.track_id!r}")
        if self.duration is not None:
            if not isinstance(self.duration, (int, float)) or not math.isfinite(self.duration) or self.duration < 0:
                raise CatalogError(f"{where}: track {self.track_id!r} has a bad duration {self.duration!r}; "
                                   "use seconds >= 0 or null")
            self.duration = float(self.duration)
        if isinstance(self.tags, str) or not all(isinstance(t, str) for t in self.tags):
            raise CatalogError(f"{where}: track {self.track_id!r} tags must be a list of strings")
        if not isinstance(self.attributes, dict):
            raise CatalogError(f"{where}: track {self.track_id!r} attributes must be a JSON object")
        self.path, self.title = str(self.path or ""), str(self.title or "")
        self.tags = list(self.tags)


@dataclass
class TrackRecord(TrackMeta):
    """A track as stored in the database: its stable internal id, when it was added, whether it was removed."""

    id: int = -1
    added_at: float = 0.0
    deleted: bool = False
