"""Track vectors for /similar and /tag: from the index where it keeps them, else window mean, else re-embedding."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from api.services.search import get_track, stored_vector, track_vector
from api.services.windows import WindowStore
from index import LiveCatalog, TrackMeta, catalog_from_arrays, save_catalog
from index.shards import load_catalog

TRACK = "rock/tone4.wav"


@pytest.fixture(scope="module")
def shard_rows(world):
    """(unit track vectors, metadata) of the tiny embedding catalog the shared index was built from."""
    shard = next(load_catalog(world["shards"]).iter_shards())
    x = np.asarray(shard.embeddings, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), list(shard.metadata)


@pytest.fixture
def odd_windows(tmp_path, shard_rows):
    """A window store whose windows of TRACK average to something other than its track vector."""
    store = WindowStore(tmp_path)
    store.put(TRACK, np.random.default_rng(1).standard_normal((3, shard_rows[0].shape[1])).astype(np.float32))
    return store


def _state(state, factory, shard_rows, windows, folder):
    """A copy of ``state`` over a ``factory`` index of the tiny catalog plus 80 filler tracks (IVF needs 39/list),
    saved to ``folder`` and mapped from there as the service maps its index."""
    x, metas = shard_rows
    filler = np.random.default_rng(0).standard_normal((80, x.shape[1])).astype(np.float32)
    with catalog_from_arrays(np.concatenate([x, filler]), metas + [TrackMeta(f"filler{i}") for i in range(80)],
                             factory, target_recall=0) as built:
        save_catalog(built, folder)
    live = LiveCatalog(folder)
    return dataclasses.replace(state, live=live, windows=windows), live.catalog


def _row(shard_rows, track_id):
    return shard_rows[0][[m.track_id for m in shard_rows[1]].index(track_id)]


@pytest.mark.parametrize("factory", ["Flat", "HNSW8", "IVF2,Flat"])
def test_indexes_that_keep_vectors_give_them_before_windows(shared_state, shard_rows, odd_windows, factory, tmp_path):
    state, catalog = _state(shared_state, factory, shard_rows, odd_windows, tmp_path / "index")
    with catalog:
        vec = stored_vector(state, get_track(state, TRACK))
        assert vec.dtype == np.float32 and vec.shape == (catalog.dim,)
        np.testing.assert_allclose(vec, _row(shard_rows, TRACK), atol=1e-6)


def test_lossy_index_falls_back_to_the_window_mean(shared_state, shard_rows, odd_windows, tmp_path):
    state, catalog = _state(shared_state, "IVF1,PQ2x2", shard_rows, odd_windows, tmp_path / "index")
    with catalog:
        mean = odd_windows.get(TRACK).mean(axis=0)
        np.testing.assert_allclose(stored_vector(state, get_track(state, TRACK)), mean / np.linalg.norm(mean),
                                   atol=1e-6)


def test_lossy_index_without_windows_re_embeds_the_audio(shared_state, shard_rows, tmp_path):
    state, catalog = _state(shared_state, "IVF1,PQ2x2", shard_rows, WindowStore(tmp_path), tmp_path / "index")
    with catalog:
        record = get_track(state, TRACK)
        assert stored_vector(state, record) is None
        np.testing.assert_allclose(track_vector(state, record), _row(shard_rows, TRACK), atol=1e-4)
