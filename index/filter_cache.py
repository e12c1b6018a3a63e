"""Allowed-id arrays of metadata filters, kept between searches until the next write (``MetadataDB.filter_ids``).

Not thread-safe by itself: ``MetadataDB`` uses it under its own lock.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import numpy as np


class FilterCache:
    """Allowed-id arrays by filter, least recently used dropped first, at most ``max_ids`` ids in all."""

    def __init__(self, max_ids: int = 4_000_000):
        self.max_ids = max_ids
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = 0

    def get(self, key: str) -> np.ndarray | None:
        """The cached ids (marked most recently used), or None."""
        ids = self._data.get(key)
        if ids is not None:
            self._data.move_to_end(key)
        return ids

    def put(self, key: str, ids: np.ndarray) -> None:
        """Keep ``ids`` (an array larger than the whole budget is not kept)."""
        if ids.size > self.max_ids:
            return
        self._data[key] = ids
        self._size += ids.size
        while self._size > self.max_ids:
            self._size -= self._data.popitem(last=False)[1].size

    def clear(self) -> None:
        """Forget everything (after a write)."""
        self._data.clear()
        self._size = 0


def filter_key(flt: Any) -> str:
    """A canonical text of a ``TrackFilter`` (the same conditions give the same key)."""
    def norm(value: Any) -> Any:  # a list in any order; values keep their JSON type (1 and "1" differ)
        return sorted(json.dumps(v, default=str) for v in value) if isinstance(value, (list, tuple, set)) else value

    return json.dumps([norm(flt.tags_any), norm(flt.tags_all), flt.duration_min, flt.duration_max,
                       {k: norm(v) for k, v in flt.attributes.items()}], sort_keys=True, default=str)
