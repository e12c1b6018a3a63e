"""index.fingerprint: packing, the matcher over time shifts, the row-aligned store and duplicate confirmation."""

from __future__ import annotations

import numpy as np
import pytest

from index import ShardWriter, TrackMeta, catalog_from_arrays
from index.duplicates import Confirm, catalog_duplicates, duplicates_of
from index.fingerprint import BITS, DEFAULT_THRESHOLD, HOP_SECONDS, match, pack_bits, shard_fingerprints, unpack_bits
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
