"""index.fingerprint: packing, the matcher over time shifts, the row-aligned store and duplicate confirmation."""

from __future__ import annotations

import numpy as np
import pytest

from index import ShardWriter, TrackMeta, catalog_from_arrays
from index.duplicates import Confirm, catalog_duplicates, duplicates_of, of_kind
from index.errors import CatalogError
from index.fingerprint import (BITS, COPY, COPY_MAX_SPREAD_DB, DEFAULT_THRESHOLD, HOP_SECONDS, VERSION, kind_of,
                               level_rows, level_spread, match, pack_bits, shard_fingerprints, shard_levels, unpack_bits)
from index.shards import load_catalog


def random_print(rng: np.random.Generator, words: int) -> np.ndarray:
    """A fingerprint of random slope changes (a quarter of them too small to be reliable)."""
    return pack_bits(rng.normal(scale=2.0, size=(words, BITS)))


def test_pack_keeps_signs_and_marks_small_changes_unreliable():
    change = np.array([[3.0, -3.0, 0.1, -0.1] * (BITS // 4)])
    signs, reliable = unpack_bits(pack_bits(change))
    assert signs[0, :4].tolist() == [True, False, True, False]
    assert reliable[0, :4].tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="must be"):
        pack_bits(np.zeros((3, BITS + 1)))


def test_a_trimmed_copy_matches_at_its_offset_and_other_audio_does_not():
    rng = np.random.default_rng(0)
    a = random_print(rng, 400)
    trimmed = match(a, a[30:])  # the copy starts 3 s into the original
    assert trimmed.score == 1.0 and trimmed.offset_s == pytest.approx(30 * HOP_SECONDS)
    assert trimmed.overlap_s == pytest.approx(370 * HOP_SECONDS)
    assert match(a[30:], a).offset_s == pytest.approx(-30 * HOP_SECONDS)
    assert match(a, a[:-50]).score == 1.0  # the end cut off
    other = match(a, random_print(rng, 400))
    assert other.score < 0.6 < DEFAULT_THRESHOLD


def test_unreliable_bits_are_not_compared():
    rng = np.random.default_rng(1)
    change = rng.normal(scale=2.0, size=(200, BITS))
    flipped = np.where(np.abs(change) < 0.5, -change, change)  # only the unreliable bits differ
    assert match(pack_bits(change), pack_bits(flipped)).score == 1.0
    silence = pack_bits(np.zeros((200, BITS)))  # nothing reliable: nothing to judge, no match
    assert match(silence, silence).score == 0.0


def test_an_excerpt_matches_but_a_small_shared_part_does_not():
    rng = np.random.default_rng(2)
    a = random_print(rng, 400)
    assert match(a, a[100:160]).score == 1.0  # 6 s of the track, wholly inside it
    assert match(a[:200], a[150:]).score < 0.6  # they share 5 s, a fifth of the shorter one
    assert match(a, np.zeros(0, np.uint32)).score == 0.0


def test_shards_store_fingerprints_row_aligned(tmp_path):
    rng = np.random.default_rng(3)
    prints = [random_print(rng, n) for n in (50, 0, 80)]
    writer = ShardWriter(tmp_path / "cat", shard_size=3, dtype="float32", model_hash="m")
    writer.write_shard(0, rng.normal(size=(3, 4)), [TrackMeta(f"t{i}") for i in range(3)], fingerprints=prints)
    writer.finalize()
    shard = next(load_catalog(tmp_path / "cat", verify=True).iter_shards())
    for row, want in enumerate(prints):
        np.testing.assert_array_equal(shard.track_fingerprint(row), want)
    lookup = shard_fingerprints(tmp_path / "cat")
    np.testing.assert_array_equal(lookup("t2"), prints[2])
    assert lookup("unknown") is None


def test_catalog_without_fingerprints_reads_as_before(tmp_path):
    writer = ShardWriter(tmp_path / "old", shard_size=2, dtype="float32", model_hash="m")
    writer.write_shard(0, np.eye(2, 4), [TrackMeta("a"), TrackMeta("b")])
    catalog = writer.finalize()
    assert "fingerprints" not in catalog.to_dict()["shards"][0]
    assert next(load_catalog(tmp_path / "old").iter_shards()).track_fingerprint(0) is None
    assert shard_fingerprints(tmp_path / "old") is None


@pytest.fixture
def look_alikes():
    """Four tracks whose vectors all nearly agree: a0 and its copy a1 share a fingerprint, b and c do not."""
    rng = np.random.default_rng(4)
    base = rng.normal(size=16)
    vectors = np.stack([base + 0.01 * rng.normal(size=16) for _ in range(4)]).astype(np.float32)
    names = ["a0", "a1", "b", "c"]
    a = random_print(rng, 300)
    prints = {"a0": a, "a1": a[20:], "b": random_print(rng, 300)}  # c was embedded before fingerprints
    catalog = catalog_from_arrays(vectors, [TrackMeta(n) for n in names], "Flat", target_recall=0)
    yield catalog, prints
    catalog.close()


def test_fingerprints_confirm_the_copy_and_reject_look_alikes(look_alikes):
    catalog, prints = look_alikes
    assert len(catalog_duplicates(catalog, 0.95)) == 6  # the vectors alone pair everything
    pairs = catalog_duplicates(catalog, 0.95, confirm=Confirm(prints.get))
    assert {(p.track_a, p.track_b) for p in pairs} == {("a0", "a1"), ("a0", "c"), ("a1", "c"), ("b", "c")}
    copy = next(p for p in pairs if p.track_b == "a1")
    assert copy.fingerprint == 1.0 and copy.offset_s == pytest.approx(2.0)
    assert all(p.fingerprint is None for p in pairs if p is not copy)  # c has no fingerprint: judged by its vector
    of_b = duplicates_of(catalog, "b", 0.95, confirm=Confirm(prints.get))
    assert [(p.track_a, p.track_b) for p in of_b] == [("b", "c")]
    lenient = catalog_duplicates(catalog, 0.95, confirm=Confirm(prints.get, threshold=0.0))
    rejected = [p for p in lenient if p.track_a in ("a0", "a1") and p.track_b == "b"]
    assert len(lenient) == 6 and len(rejected) == 2 and all(p.fingerprint < 0.6 for p in rejected)


def test_a_shard_committed_before_its_manifest_update_keeps_its_fingerprints(tmp_path):
    rng = np.random.default_rng(5)
    prints = [random_print(rng, 40), random_print(rng, 60)]
    writer = ShardWriter(tmp_path / "cat", shard_size=2, dtype="float32", model_hash="m")
    writer.write_shard(0, rng.normal(size=(2, 4)), [TrackMeta("a"), TrackMeta("b")], fingerprints=prints)
    (tmp_path / "cat" / "catalog.json").unlink()  # killed between the shard's files and the manifest
    adopted = ShardWriter(tmp_path / "cat", shard_size=2, dtype="float32", model_hash="m").finalize()
    assert adopted.shards[0].fingerprints == 100
    np.testing.assert_array_equal(shard_fingerprints(tmp_path / "cat")("b"), prints[1])


def profile(rng: np.random.Generator, rows: int) -> np.ndarray:
    """A level profile: loud music whose band levels wander (dB), one row per second."""
    return (-30 + 6 * rng.normal(size=(rows, BITS + 1))).astype(np.float32)


def test_a_copy_has_a_flat_level_difference_and_a_remaster_a_bent_one():
    rng = np.random.default_rng(6)
    a = profile(rng, 60)
    gained = a[5:] - 6.0 + 0.05 * rng.normal(size=a[5:].shape)  # -6 dB, 5 s trimmed, a little codec noise
    assert level_spread(a, gained, 5.0) <= 0.1 and kind_of(level_spread(a, gained, 5.0)) == COPY
    tilt = np.linspace(-4.0, 4.0, BITS + 1)  # another master: 8 dB more treble against bass
    assert level_spread(a, a + tilt, 0.0) == pytest.approx(np.std(tilt), abs=1e-3)
    assert kind_of(level_spread(a, a + tilt, 0.0)) == VERSION and COPY_MAX_SPREAD_DB < np.std(tilt)


def test_quiet_rows_and_short_overlaps_give_no_level_verdict():
    rng = np.random.default_rng(7)
    a = profile(rng, 30)
    b = a.copy()
    b[10:20] = -120.0  # a dropout in one copy: those rows are left out, not read as another master
    assert level_spread(a, b, 0.0) == pytest.approx(0.0, abs=1e-6)
    assert level_spread(a, a[:4], 0.0) is None and kind_of(None) is None  # under MIN_LEVEL_ROWS rows
    assert level_spread(a, a, 28.0) is None  # they overlap by 2 rows at this offset


def test_shards_store_level_profiles_beside_the_fingerprints(tmp_path):
    rng = np.random.default_rng(8)
    prints = [random_print(rng, n) for n in (25, 0, 10)]
    levels = [profile(rng, level_rows(len(p))) for p in prints]
    assert [len(x) for x in levels] == [3, 0, 1]
    writer = ShardWriter(tmp_path / "cat", shard_size=3, dtype="float32", model_hash="m")
    metas = [TrackMeta(f"t{i}") for i in range(3)]
    writer.write_shard(0, rng.normal(size=(3, 4)), metas, fingerprints=prints, levels=levels)
    writer.finalize()
    lookup = shard_levels(tmp_path / "cat")
    for i, want in enumerate(levels):
        np.testing.assert_allclose(lookup(f"t{i}"), want.astype(np.float16), atol=0)
    assert lookup("missing") is None
    other = ShardWriter(tmp_path / "bad", shard_size=3, dtype="float32", model_hash="m")
    with pytest.raises(CatalogError, match="expected 3 rows"):
        other.write_shard(0, rng.normal(size=(3, 4)), metas, fingerprints=prints, levels=[levels[0][:2]] + levels[1:])
    with pytest.raises(CatalogError, match="come with the fingerprints"):
        other.write_shard(0, rng.normal(size=(3, 4)), metas, levels=levels)
    no_levels = ShardWriter(tmp_path / "old", shard_size=3, dtype="float32", model_hash="m")
    no_levels.write_shard(0, rng.normal(size=(3, 4)), metas, fingerprints=prints)  # written before profiles
    no_levels.finalize()
    assert shard_levels(tmp_path / "old") is None


def test_confirmed_pairs_are_copies_or_versions_and_can_be_filtered(look_alikes):
    catalog, prints = look_alikes
    rng = np.random.default_rng(9)
    base = profile(rng, level_rows(300))
    tilt = np.linspace(-3.0, 3.0, BITS + 1)
    levels = {"a0": base, "a1": base[2:] - 3.0, "b": profile(rng, level_rows(300))}
    pairs = catalog_duplicates(catalog, 0.95, confirm=Confirm(prints.get, levels=levels.get))
    copy = next(p for p in pairs if (p.track_a, p.track_b) == ("a0", "a1"))
    assert copy.kind == COPY and copy.level_spread_db <= 0.01 and copy.overlap_s == pytest.approx(28.0)
    assert all(p.kind is None for p in pairs if p is not copy)  # c has no fingerprint, so no verdict
    levels["a1"] = base[2:] + tilt  # a1 is now another master of a0's recording
    pairs = catalog_duplicates(catalog, 0.95, confirm=Confirm(prints.get, levels=levels.get))
    assert next(p for p in pairs if p.track_b == "a1").kind == VERSION
    assert ("a0", "a1") not in {(p.track_a, p.track_b) for p in of_kind(pairs, COPY)}
    assert [(p.track_a, p.track_b) for p in of_kind(pairs, VERSION)] == [("a0", "a1")]
    assert len(of_kind(pairs, COPY)) == 3  # no verdict counts as a copy, as before level profiles
    levels["b"] = base  # b's levels equal a0's, but its fingerprint does not match: not a copy of anything
    lenient = catalog_duplicates(catalog, 0.95, confirm=Confirm(prints.get, threshold=0.0, levels=levels.get))
    assert all(p.kind is None for p in lenient if p.track_b == "b" or p.track_a == "b")
    with pytest.raises(CatalogError, match="choose one of"):
        of_kind(pairs, "remix")
