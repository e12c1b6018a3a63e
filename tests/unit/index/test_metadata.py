"""SQLite metadata: stable ids, filters to allowed-id arrays, soft deletion, snapshots, threads."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from index import CatalogError, MetadataDB, TrackFilter, TrackMeta
from index.filter_cache import FilterCache
from index.types import normalize_tag


@pytest.fixture
def db(tmp_path, metas):
    d = MetadataDB(tmp_path / "m.sqlite", attribute_fields=("genre", "bpm"))
    d.insert(metas(300))
    yield d
    d.close()


def _expected(rows, pred):
    return np.array([i + 1 for i, m in enumerate(rows) if pred(m)], dtype=np.int64)


def test_ids_are_sequential_and_records_round_trip(db, metas):
    rows = metas(300)
    recs = db.get([1, 300, -1, 999])
    assert recs[0].track_id == "t0" and recs[1].track_id == "t299" and recs[2] is None and recs[3] is None
    assert recs[1].title == rows[299].title and recs[1].attributes == rows[299].attributes
    assert recs[0].tags == ["jazz", "live"]  # normalised
    assert db.counts() == (300, 300)
    with sqlite3.connect(db.path) as other:  # WAL is recorded in the file, so a second connection sees it
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_filters_match_a_plain_python_reference(db, metas):
    rows = metas(300)
    cases = [
        (TrackFilter(tags_any=["JAZZ "]), lambda m: "Jazz" in m.tags),
        (TrackFilter(tags_all=["jazz", "live"]), lambda m: "Jazz" in m.tags and "live" in m.tags),
        (TrackFilter(duration_min=100, duration_max=150), lambda m: 100 <= m.duration <= 150),
        (TrackFilter(attributes={"genre": "jazz"}), lambda m: m.attributes["genre"] == "Jazz"),
        (TrackFilter(attributes={"genre": ["Rock", "ambient"], "bpm": 61}),
         lambda m: m.attributes["genre"] in ("Rock", "Ambient") and m.attributes["bpm"] == 61),
        (TrackFilter(tags_any=["rock"], duration_max=10), lambda m: "rock" in m.tags and m.duration <= 10),
        (TrackFilter(tags_any=[]), lambda m: False),
    ]
    for flt, pred in cases:
        np.testing.assert_array_equal(db.filter_ids(flt), _expected(rows, pred), err_msg=str(flt))
    assert len(db.filter_ids(TrackFilter())) == 300


def test_undeclared_attribute_filter_names_the_declared_fields(db):
    with pytest.raises(CatalogError, match=r"'mood'.*\['genre', 'bpm'\]"):
        db.filter_ids(TrackFilter(attributes={"mood": "calm"}))


def test_deleted_tracks_never_match_and_ids_are_never_reused(db, metas):
    removed = db.mark_deleted(["t0", "t3", "nope"])
    np.testing.assert_array_equal(removed, [1, 4])
    assert 1 not in db.filter_ids(TrackFilter(tags_any=["jazz"]))
    assert db.counts() == (300, 298)
    assert db.get([1])[0].deleted
    new = db.insert([TrackMeta("t0", title="re-added"), TrackMeta("fresh")])
    np.testing.assert_array_equal(new, [301, 302])  # a re-added track gets a new id; old ids stay dead
    db.mark_deleted(["fresh"])
    assert db.insert([TrackMeta("again")])[0] == 303
    np.testing.assert_array_equal(db.deleted_ids(), [1, 4, 302])


def test_duplicate_live_track_id_is_refused(db):
    with pytest.raises(CatalogError, match="t5"):
        db.insert([TrackMeta("t5")])
    with pytest.raises(CatalogError, match="dup"):
        db.insert([TrackMeta("dup"), TrackMeta("dup")])
    assert db.counts() == (300, 300)


def test_failed_transaction_rolls_back(db):
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.insert([TrackMeta("x1")])
            raise RuntimeError("index add failed")
    assert db.counts() == (300, 300)
    assert db.insert([TrackMeta("x1")])[0] == 301


def test_snapshot_opens_read_only(tmp_path, db):
    db.snapshot(tmp_path / "snap shot#1.sqlite")  # odd characters must survive the URI
    ro = MetadataDB(tmp_path / "snap shot#1.sqlite", read_only=True)
    assert ro.counts() == (300, 300) and ro.attribute_fields == ("genre", "bpm")
    with pytest.raises(CatalogError, match="read-only"):
        ro.insert([TrackMeta("new")])
    ro.close()


def test_attribute_fields_cannot_change_on_reopen(tmp_path, db):
    with pytest.raises(CatalogError, match="declared attribute fields"):
        MetadataDB(db.path, attribute_fields=("mood",))


def test_concurrent_inserts_from_threads_get_distinct_ids(db):
    got, errors = [], []

    def worker(w: int) -> None:
        try:
            for j in range(20):
                got.extend(db.insert([TrackMeta(f"w{w}-{j}")]).tolist())
                db.filter_ids(TrackFilter(tags_any=["jazz"]))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(got) == list(range(301, 381))


def test_records_of_a_page_come_from_one_query(db, metas):
    rows = metas(300)
    statements: list[str] = []
    db._conn.set_trace_callback(statements.append)
    try:
        recs = db.get([7, 3, 250, 3, -1, 120, 9, 44, 61, 299])
    finally:
        db._conn.set_trace_callback(None)
    assert len(statements) == 1 and "IN (" in statements[0]  # one IN query for the k ids (tags included)
    assert [r.track_id if r else None for r in recs] == ["t6", "t2", "t249", "t2", None, "t119", "t8", "t43",
                                                         "t60", "t298"]
    assert recs[0].tags == sorted({normalize_tag(t) for t in rows[6].tags})


def test_filter_answers_are_kept_until_a_write(db):
    flt = TrackFilter(tags_any=["jazz", "live"], attributes={"genre": ["rock", "jazz"]})
    statements: list[str] = []
    db._conn.set_trace_callback(statements.append)
    try:
        first = db.filter_ids(flt)
        again = db.filter_ids(TrackFilter(tags_any=["live", "jazz"], attributes={"genre": ["jazz", "rock"]}))
        assert len(statements) == 1 and again is first and not first.flags.writeable  # same conditions: cached
        db.mark_deleted([db.get(first[:1])[0].track_id])
        after = db.filter_ids(flt)
    finally:
        db._conn.set_trace_callback(None)
    assert after.tolist() == first[1:].tolist()  # the write dropped the cached answer
    assert db.filter_ids(TrackFilter(attributes={"bpm": 120})).size  # numbers and strings are different keys
    assert not db.filter_ids(TrackFilter(attributes={"bpm": "120"})).size


def test_the_filter_cache_keeps_a_budget_of_ids():
    cache = FilterCache(max_ids=10)
    cache.put("a", np.arange(6))
    cache.put("b", np.arange(4))
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("c", np.arange(3))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    cache.put("huge", np.arange(11))
    assert cache.get("huge") is None
