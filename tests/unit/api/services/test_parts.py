"""The service's small parts: the LRU query cache, the best moment of a track, window start seconds."""

from __future__ import annotations

import numpy as np
import pytest

from api.services.cache import LRUCache
from api.services.windows import best_moment, window_start_seconds
from muscall.config import load_config


def test_lru_evicts_the_least_recently_used():
    cache: LRUCache[int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3 and len(cache) == 2
    assert (cache.hits, cache.misses) == (3, 1)
    calls = []
    value, cached = cache.get_or_compute("d", lambda: calls.append(1) or 4)
    assert (value, cached) == (4, False)
    assert cache.get_or_compute("d", lambda: calls.append(1) or 5) == (4, True) and len(calls) == 1
    off: LRUCache[int] = LRUCache(0)
    off.put("a", 1)
    assert off.get("a") is None and len(off) == 0
    with pytest.raises(ValueError):
        LRUCache(-1)


def test_best_moment_picks_the_window_most_like_the_query():
    windows = np.eye(4, dtype=np.float32)[:3]  # three orthogonal window vectors
    query = np.array([0.1, 0.9, 0.3, 0.0], np.float32)
    m = best_moment(windows, query, [0.0, 10.0, 20.0], duration=25.0, clip_seconds=20.0)
    assert (m.start, m.end) == (10.0, 25.0) and m.score == pytest.approx(0.9)
    assert best_moment(windows, query, [0.0, 10.0, 20.0], None, 20.0).end == 30.0


def test_window_starts_from_attributes_or_the_duration():
    audio = load_config("tiny").audio  # 2 s windows, 1 s hop
    assert window_start_seconds({"window_starts": [0, 1.5]}, 3.5, 2, audio) == [0.0, 1.5]
    assert window_start_seconds({}, 3.5, 3, audio) == pytest.approx([0.0, 1.0, 1.5], abs=0.01)
    assert window_start_seconds({}, 1.0, 1, audio) == [0.0]
    assert window_start_seconds({}, None, 2, audio) is None
    assert window_start_seconds({}, 3.5, 7, audio) is None  # does not fit the stored windows
