"""Embedding shards: atomic commits, manifest checksums, resumable writing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index import CatalogError, ShardWriter, iter_shards, load_catalog


def _write_all(out, x, metas, shard_size=1000, windows=None, **kw):
    writer = ShardWriter(out, shard_size=shard_size, model_hash="abc123", **kw)
    for shard, start, stop in writer.pending(len(x)):
        wins = None if windows is None else windows[start:stop]
        writer.write_shard(shard, x[start:stop], metas[start:stop], windows=wins)
    return writer.finalize()


def test_round_trip_with_windows(tmp_path, corpus):
    x, metas = corpus[0][:2500], corpus[1][:2500]
    rng = np.random.default_rng(0)
    windows = [rng.standard_normal((i % 4, x.shape[1])).astype(np.float32) for i in range(len(x))]
    cat = _write_all(tmp_path, x, metas, windows=windows, dtype="float32")
    assert cat.n_rows == 2500 and [s.rows for s in cat.shards] == [1000, 1000, 500]
    manifest = json.loads((tmp_path / "catalog.json").read_text())
    assert manifest["model_hash"] == "abc123" and manifest["dim"] == x.shape[1] and manifest["complete"]
    assert set(manifest["shards"][0]["files"]) == {"shard-00000.npy", "shard-00000.windows.npy",
                                                   "shard-00000.offsets.npy", "shard-00000.jsonl"}
    shards = list(iter_shards(tmp_path))
    got = np.concatenate([s.embeddings for s in shards])
    np.testing.assert_allclose(got, x, atol=1e-6)
    assert [m.track_id for s in shards for m in s.metadata] == [m.track_id for m in metas]
    assert shards[1].metadata[3] == metas[1003]
    w = shards[2].track_windows(7)  # global row 2007: 2007 % 4 == 3 windows
    assert w.shape == (3, x.shape[1])
    np.testing.assert_allclose(w, windows[2007] / np.linalg.norm(windows[2007], axis=1, keepdims=True), atol=1e-6)


def test_rows_are_normalised_and_float16_by_default(tmp_path, corpus):
    x = corpus[0][:100] * 3.0
    cat = _write_all(tmp_path, x, corpus[1][:100])
    emb = next(cat.iter_shards()).embeddings
    assert emb.dtype == np.float16
    np.testing.assert_allclose(np.linalg.norm(emb.astype(np.float32), axis=1), 1.0, atol=2e-3)


def test_zero_row_is_refused_naming_the_track(tmp_path, corpus):
    x = corpus[0][:10].copy()
    x[4] = 0
    writer = ShardWriter(tmp_path, shard_size=10)
    with pytest.raises(CatalogError, match="t4"):
        writer.write_shard(0, x, corpus[1][:10])


def test_resume_skips_finished_and_redoes_half_written_shard(tmp_path, corpus):
    x, metas = corpus[0][:3000], corpus[1][:3000]
    writer = ShardWriter(tmp_path, shard_size=1000, model_hash="abc123")
    writer.write_shard(0, x[:1000], metas[:1000])
    writer.write_shard(1, x[1000:2000], metas[1000:2000])
    (tmp_path / "shard-00001.jsonl").unlink()  # crash after the arrays, before the metadata file
    (tmp_path / "shard-00002.npy").write_bytes(b"half written garbage")
    finished_mtime = (tmp_path / "shard-00000.npy").stat().st_mtime_ns

    resumed = ShardWriter(tmp_path, shard_size=1000, model_hash="abc123")
    assert resumed.completed_shards() == {0}
    assert [p[0] for p in resumed.pending(3000)] == [1, 2]
    for shard, start, stop in resumed.pending(3000):
        resumed.write_shard(shard, x[start:stop], metas[start:stop])
    cat = resumed.finalize()
    assert (tmp_path / "shard-00000.npy").stat().st_mtime_ns == finished_mtime
    loaded = load_catalog(tmp_path, verify=True)
    assert loaded.n_rows == 3000 and loaded.complete
    got = np.concatenate([s.embeddings for s in cat.iter_shards()]).astype(np.float32)
    np.testing.assert_allclose(got, x, atol=2e-3)


def test_shard_committed_but_manifest_not_updated_is_adopted(tmp_path, corpus):
    x, metas = corpus[0][:200], corpus[1][:200]
    writer = ShardWriter(tmp_path, shard_size=100, model_hash="h")
    writer.write_shard(0, x[:100], metas[:100])
    writer.write_shard(1, x[100:], metas[100:])
    manifest = json.loads((tmp_path / "catalog.json").read_text())
    manifest["shards"] = manifest["shards"][:1]  # crash between the .jsonl rename and the manifest update
    (tmp_path / "catalog.json").write_text(json.dumps(manifest))
    resumed = ShardWriter(tmp_path, shard_size=100, model_hash="h")
    assert resumed.completed_shards() == {0, 1}
    assert load_catalog(tmp_path, verify=True, allow_partial=True).n_rows == 200


def test_rewriting_a_finished_shard_is_refused(tmp_path, corpus):
    writer = ShardWriter(tmp_path, shard_size=100)
    writer.write_shard(0, corpus[0][:100], corpus[1][:100])
    with pytest.raises(CatalogError, match="already complete"):
        writer.write_shard(0, corpus[0][:100], corpus[1][:100])


def test_resume_with_other_model_is_refused(tmp_path, corpus):
    ShardWriter(tmp_path, shard_size=100, model_hash="old").write_shard(0, corpus[0][:100], corpus[1][:100])
    with pytest.raises(CatalogError, match="model_hash"):
        ShardWriter(tmp_path, shard_size=100, model_hash="new")


def test_incomplete_catalog_and_tampered_shard_are_refused(tmp_path, corpus):
    writer = ShardWriter(tmp_path, shard_size=100)
    writer.write_shard(0, corpus[0][:100], corpus[1][:100])
    with pytest.raises(CatalogError, match="incomplete"):
        load_catalog(tmp_path)
    writer.finalize()
    load_catalog(tmp_path, verify=True)
    with open(tmp_path / "shard-00000.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"track_id": "intruder"}\n')
    with pytest.raises(CatalogError, match="checksum"):
        load_catalog(tmp_path, verify=True)


def test_finalize_needs_contiguous_shards(tmp_path, corpus):
    writer = ShardWriter(tmp_path, shard_size=100)
    writer.write_shard(1, corpus[0][100:200], corpus[1][100:200])
    with pytest.raises(CatalogError, match="not written"):
        writer.finalize()
