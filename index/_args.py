"""Argument checks for catalog updates addressed by track id: one value per track, as a list or a mapping."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from index.errors import CatalogError


def track_names(track_ids: Sequence[str] | str) -> list[str]:
    """A list of track ids (one string is one id)."""
    return [track_ids] if isinstance(track_ids, str) else list(track_ids)


def per_track(names: list[str], values: Sequence[Any] | Mapping[str, Any], what: str) -> list[Any]:
    """``values`` aligned with ``names``: a sequence of the same length, or a mapping keyed by exactly them."""
    if isinstance(values, Mapping):
        if set(values) != set(names):
            odd = sorted(set(values) ^ set(names), key=str)[:5]
            raise CatalogError(f"the {what} mapping must have exactly the given track ids as keys; these "
                               f"differ: {odd}")
        return [values[n] for n in names]
    if isinstance(values, (str, bytes)) or len(values) != len(names):
        raise CatalogError(f"got {len(names)} track ids but {what} for {len(values)}; give one entry per track")
    return list(values)


def tag_rows(names: list[str], tags: Sequence[Sequence[str]] | Mapping[str, Sequence[str]]) -> list[list[str]]:
    """One list of tag strings per track; CatalogError naming a track whose tags are not a list of strings."""
    rows = per_track(names, tags, "tags")
    for name, row in zip(names, rows):
        if isinstance(row, (str, bytes)) or not all(isinstance(t, str) for t in row):
            raise CatalogError(f"tags of track {name!r} must be a list of strings, got {row!r}")
    return [list(row) for row in rows]


def attribute_rows(names: list[str], attributes: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]]
                   ) -> list[Mapping[str, Any]]:
    """One mapping of top-level attribute updates per track."""
    rows = per_track(names, attributes, "attributes")
    for name, row in zip(names, rows):
        if not isinstance(row, Mapping):
            raise CatalogError(f"attributes of track {name!r} must be a mapping (attribute -> value), got {row!r}")
    return rows
