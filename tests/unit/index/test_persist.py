"""Saving and loading catalogs: round trips keep ids and removals; tampering is refused with a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index import CatalogError, build_catalog, catalog_from_arrays, open_catalog, save_catalog

MANIFEST = "manifest.json"


@pytest.fixture(scope="module")
def saved(tmp_path_factory, corpus):
    """A saved IVF catalog with two removed tracks; returns (directory, queries, expected ids)."""
    x, metas = corpus
    out = tmp_path_factory.mktemp("cat")
    cat = catalog_from_arrays(x, metas, "IVF64,Flat", attribute_fields=("genre",), model_hash="m1",
                              target_recall=0.95)
    cat.remove(["t0", "t7"])
    save_catalog(cat, out)
    expected = cat.search(x[:20], 10)
    cat.close()
    return out, x[:20], expected


def _manifest(directory):
    return json.loads((directory / MANIFEST).read_text())


def _copy(saved_dir, tmp_path):
    for p in saved_dir.iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    return tmp_path


@pytest.mark.parametrize("mmap", [False, True])
def test_round_trip_keeps_ids_tuning_and_removals(saved, mmap):
    directory, queries, (scores, ids) = saved
    cat = open_catalog(directory, mmap=mmap, expected_dim=32, expected_model_hash="m1")
    got_scores, got_ids = cat.search(queries, 10)
    np.testing.assert_array_equal(got_ids, ids)
    np.testing.assert_allclose(got_scores, scores, rtol=1e-6)
    assert not np.isin(got_ids, [1, 8]).any()
    assert cat.tuned.param == "nprobe" and cat.index.nprobe == cat.tuned.value
    assert cat.stats()["live"] == 3998 and cat.filter_ids(attributes={"genre": "rock"}).size > 0
    assert cat.read_only == mmap
    cat.close()


def test_mmap_catalog_is_read_only(saved, corpus):
    cat = open_catalog(saved[0], mmap=True)
    with pytest.raises(CatalogError, match="read-only"):
        cat.add(corpus[0][:1], [{"track_id": "new"}])
    with pytest.raises(CatalogError, match="read-only"):
        cat.remove(["t1"])
    cat.close()


@pytest.mark.parametrize("factory", ["Flat", "HNSW16", "IVF64,Flat", "IVF64_HNSW32,SQfp16"])
def test_updates_after_reload_continue_ids_and_removed_never_return(tmp_path, corpus, metas, factory):
    x = corpus[0]
    cat = catalog_from_arrays(x[:3000], metas(3000), factory, target_recall=0.9)
    cat.remove(["t5", "t6"])
    save_catalog(cat, tmp_path)
    cat.close()
    cat = open_catalog(tmp_path)
    assert not np.isin(cat.search(x[4:8], 20)[1], [6, 7]).any()
    new = cat.add(x[3000:3002], metas(2, start=3000))
    np.testing.assert_array_equal(new, [3001, 3002])  # never reuses 6 or 7
    cat.remove(["t10"])
    save_catalog(cat, tmp_path)
    cat.close()
    cat = open_catalog(tmp_path)
    _, ids = cat.search(x[[5, 6, 10, 3000]], 20)
    assert not np.isin(ids, [6, 7, 11]).any() and ids[3, 0] == 3001
    assert len(list(tmp_path.glob("index.*.faiss"))) == 1 and len(list(tmp_path.glob("metadata.*"))) == 1
    cat.close()


def test_tampered_index_file_is_refused(saved, tmp_path):
    directory = _copy(saved[0], tmp_path)
    path = directory / _manifest(directory)["files"]["index"]["name"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CatalogError, match=r"index\..*checksum does not match"):
        open_catalog(directory)


def test_truncated_metadata_is_refused_even_without_checksums(saved, tmp_path):
    directory = _copy(saved[0], tmp_path)
    path = directory / _manifest(directory)["files"]["metadata"]["name"]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CatalogError, match="metadata file is .* bytes"):
        open_catalog(directory, verify=False)


@pytest.mark.parametrize("field, value, message", [
    ("vectors", 4001, r"says 4001 vectors but .* holds 3998"),
    ("live", 3999, r"says 4000 tracks \(3999 live\) but .* holds 4000 \(3998 live\)"),
])
def test_manifest_count_mismatch_is_refused(saved, tmp_path, field, value, message):
    directory = _copy(saved[0], tmp_path)
    manifest = _manifest(directory)
    manifest["counts"][field] = value
    (directory / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CatalogError, match=message):
        open_catalog(directory)


def test_wrong_expected_dim_or_model_is_refused(saved):
    with pytest.raises(CatalogError, match="holds 32-d embeddings but the model produces 512-d"):
        open_catalog(saved[0], expected_dim=512)
    with pytest.raises(CatalogError, match="built with model 'm1'"):
        open_catalog(saved[0], expected_model_hash="m2")


def test_newer_format_version_and_missing_files_are_refused(saved, tmp_path):
    directory = _copy(saved[0], tmp_path)
    manifest = _manifest(directory)
    (directory / MANIFEST).write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(CatalogError, match="format version 99"):
        open_catalog(directory)
    (directory / MANIFEST).write_text(json.dumps(manifest))
    (directory / manifest["files"]["index"]["name"]).unlink()
    with pytest.raises(CatalogError, match="missing"):
        open_catalog(directory)
    (directory / MANIFEST).unlink()
    with pytest.raises(CatalogError, match="no manifest.json"):
        open_catalog(directory)


def test_build_from_shards_then_save_and_load(tmp_path, corpus):
    from index import ShardWriter
    x, metas = corpus
    writer = ShardWriter(tmp_path / "emb", shard_size=1500, dtype="float16", model_hash="m1")
    for shard, start, stop in writer.pending(len(x)):
        writer.write_shard(shard, x[start:stop], metas[start:stop])
    writer.finalize()
    cat = build_catalog(tmp_path / "emb", "auto", memory_budget_mb=64, attribute_fields=("genre",))
    assert cat.factory == "Flat" and cat.model_hash == "m1" and cat.ntotal == len(x)
    assert cat.search(x[123], 1)[1][0, 0] == 124  # ids follow shard row order
    assert cat.tracks([124])[0].track_id == "t123"
    save_catalog(cat, tmp_path / "idx")
    assert open_catalog(tmp_path / "idx", expected_model_hash="m1").ntotal == len(x)
    cat.close()


def test_save_over_another_processs_update_is_refused_until_reload(tmp_path, corpus, metas):
    x = corpus[0]
    with catalog_from_arrays(x[:200], metas(200), "Flat") as cat:
        save_catalog(cat, tmp_path)  # a fresh folder saves normally
    first, second = open_catalog(tmp_path), open_catalog(tmp_path)
    first.remove(["t1"])
    save_catalog(first, tmp_path)
    first.remove(["t2"])
    save_catalog(first, tmp_path)  # its own earlier save is not "another process"
    second.remove(["t3"])
    before = (tmp_path / MANIFEST).read_bytes()
    with pytest.raises(CatalogError, match="another process updated the index.*Reload the catalog"):
        save_catalog(second, tmp_path)
    assert (tmp_path / MANIFEST).read_bytes() == before  # nothing written, first's files kept
    second.close()
    with open_catalog(tmp_path) as third:
        assert third.ntotal == 198
        third.remove(["t3"])
        save_catalog(third, tmp_path)
    with pytest.raises(CatalogError, match="another process updated"):
        save_catalog(first, tmp_path)
    first.close()
    assert (tmp_path / ".lock").exists()
    for mmap in (False, True):
        with open_catalog(tmp_path, mmap=mmap, verify=True) as cat:
            assert cat.ntotal == 197 and not np.isin(cat.search(x[:4], 5)[1], [2, 3, 4]).any()
    assert len(list(tmp_path.glob("index.*.faiss"))) == 1


def test_folder_lock_is_exclusive_for_savers_and_shared_for_loaders(tmp_path):
    import fcntl
    import os

    from index.persist import folder_lock
    with folder_lock(tmp_path, exclusive=False):
        fd = os.open(tmp_path / ".lock", os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # readers share
            fcntl.flock(fd, fcntl.LOCK_UN)
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a writer must wait
        finally:
            os.close(fd)
    with folder_lock(tmp_path, exclusive=True):
        fd = os.open(tmp_path / ".lock", os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        finally:
            os.close(fd)
