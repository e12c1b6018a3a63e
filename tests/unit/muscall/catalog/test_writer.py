"""Writer stage: parts committed one by one, merged into full shards in input order, failures gathered."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index import TrackMeta
from index.shards import load_catalog
from muscall.catalog.writer import FAILURES, PartStore, merge_parts
from muscall.errors import MuscallError

DIM = 8


def _part(rng, part: int, n: int, with_windows: bool = True):
    """n tracks of part ``part``: unit vectors, metadata, 1..3 windows each."""
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    metas = [TrackMeta(f"p{part}-t{i}", title=f"t{i}", duration=1.0 + i) for i in range(n)]
    wins = [rng.standard_normal((1 + i % 3, DIM)).astype(np.float32) for i in range(n)] if with_windows else None
    return metas, x, wins


def test_parts_merge_into_full_shards_in_order(tmp_path):
    rng = np.random.default_rng(0)
    store = PartStore(tmp_path / "parts", part_size=3, model_hash="m1")
    sizes = [3, 1, 0, 2]  # parts shrink when tracks fail; part 2 lost all three
    written = []
    for part, n in enumerate(sizes):
        metas, x, wins = _part(rng, part, n)
        failures = [{"position": part * 3 + n + j, "path": f"f{part}-{j}", "reason": "bad"} for j in range(3 - n)]
        store.write(part, metas, x, wins, failures)
        written.append((metas, x, wins))
    assert store.done() == {0, 1, 2, 3}
    catalog = merge_parts(tmp_path / "parts", tmp_path / "cat", 4, 3, 3, "float32", "m1", keep_windows=True)
    assert catalog.complete and [s.rows for s in catalog.shards] == [3, 3]
    ids = [m.track_id for s in catalog.iter_shards() for m in s.metadata]
    assert ids == [m.track_id for metas, _, _ in written for m in metas]
    emb = np.concatenate([np.asarray(s.embeddings) for s in catalog.iter_shards()])
    np.testing.assert_allclose(emb, np.concatenate([x for _, x, _ in written if len(x)]), atol=1e-6)
    shard1 = list(catalog.iter_shards())[1]
    last_win = written[3][2][1]
    np.testing.assert_allclose(shard1.track_windows(2), last_win / np.linalg.norm(last_win, axis=1, keepdims=True),
                               atol=1e-6)
    failures = [json.loads(line) for line in (tmp_path / "cat" / FAILURES).read_text().splitlines()]
    assert [f["position"] for f in failures] == [4, 5, 6, 7, 8, 11]


def test_float16_without_windows(tmp_path):
    rng = np.random.default_rng(1)
    store = PartStore(tmp_path / "parts", part_size=2, model_hash="m")
    for part in range(2):
        metas, x, _ = _part(rng, part, 2, with_windows=False)
        store.write(part, metas, x, None, [])
    catalog = merge_parts(tmp_path / "parts", tmp_path / "cat", 2, 2, 4, "float16", "m", keep_windows=False)
    shard = next(catalog.iter_shards())
    assert catalog.dtype == "float16" and shard.embeddings.dtype == np.float16 and shard.windows is None
    assert catalog.model_hash == "m" and catalog.n_rows == 4


def test_merge_refuses_missing_parts(tmp_path):
    store = PartStore(tmp_path / "parts", part_size=2, model_hash="m")
    metas, x, _ = _part(np.random.default_rng(2), 0, 2)
    store.write(0, metas, x, None, [])
    with pytest.raises(MuscallError, match=r"part\(s\) \[1\] are not embedded"):
        merge_parts(tmp_path / "parts", tmp_path / "cat", 2, 2, 2, "float32", "m", keep_windows=False)


def test_all_failed_is_a_clear_error(tmp_path):
    store = PartStore(tmp_path / "parts", part_size=2, model_hash="m")
    store.write(0, [], np.zeros((0, DIM), np.float32), None, [{"position": 0, "path": "x", "reason": "bad"}])
    with pytest.raises(MuscallError, match="every one of the 1 track"):
        merge_parts(tmp_path / "parts", tmp_path / "cat", 1, 2, 2, "float32", "m", keep_windows=False)


def test_interrupted_merge_resumes_to_the_same_catalog(tmp_path):
    rng = np.random.default_rng(3)
    store = PartStore(tmp_path / "parts", part_size=2, model_hash="m")
    for part in range(3):
        metas, x, wins = _part(rng, part, 2)
        store.write(part, metas, x, wins, [])
    args = (3, 2, 2, "float32", "m")
    full = merge_parts(tmp_path / "parts", tmp_path / "a", *args, keep_windows=True)
    calls = []

    def stop_after_first(rows: int) -> None:
        calls.append(rows)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        merge_parts(tmp_path / "parts", tmp_path / "b", *args, keep_windows=True, progress=stop_after_first)
    assert not load_catalog(tmp_path / "b", verify=False, allow_partial=True).complete
    resumed = merge_parts(tmp_path / "parts", tmp_path / "b", *args, keep_windows=True)
    files = lambda c: [s.files for s in c.shards]  # noqa: E731
    assert calls == [2] and files(resumed) == files(full)
