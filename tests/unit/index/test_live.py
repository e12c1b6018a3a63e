"""One saved catalog shared by several processes: mapped read-only, generations, edits that never lose a change."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from index import CatalogError, LiveCatalog, TrackMeta, catalog_from_arrays, edit_catalog, open_catalog, save_catalog
from index.fileio import sha256_file
from index.persist import GENERATION, generation_token

REPO = Path(__file__).resolve().parents[3]


def _save(directory: Path, x: np.ndarray, metas: list[TrackMeta], factory: str) -> Path:
    with catalog_from_arrays(x, metas, factory, attribute_fields=("genre",), target_recall=0) as cat:
        save_catalog(cat, directory)
    return directory


def _mapped_files() -> set[str]:
    """Paths of the files this process has memory-mapped."""
    with open("/proc/self/maps") as fh:
        return {line.split(None, 5)[5].strip() for line in fh if len(line.split(None, 5)) == 6}


def _live_ids(cat) -> set[str]:
    return {r.track_id for r in cat.tracks(cat.db.live_ids())}


@pytest.mark.parametrize("factory", ["Flat", "IVF16,Flat", "IVF16_HNSW32,SQfp16", "IVF16,PQ8x4np", "HNSW8"])
def test_mapped_catalog_answers_like_a_loaded_one_and_shares_the_file(tmp_path, corpus, factory):
    x, metas = corpus
    directory = _save(tmp_path / "idx", x[:1000], metas[:1000], factory)
    with open_catalog(directory) as loaded, open_catalog(directory, mmap=True) as mapped:
        assert mapped.read_only and not loaded.read_only
        np.testing.assert_array_equal(mapped.search(x[:20], 10)[1], loaded.search(x[:20], 10)[1])
        allowed = mapped.filter_ids(attributes={"genre": "Jazz"})
        np.testing.assert_array_equal(mapped.search(x[:5], 10, allowed)[1], loaded.search(x[:5], 10, allowed)[1])
        index_file = str(next(directory.glob("index.*.faiss")).resolve())
        assert index_file in _mapped_files()  # pages come from the page cache, shared by every process
        with pytest.raises(CatalogError, match="read-only"):
            mapped.add(x[:1], [TrackMeta("new")])


def test_every_save_bumps_the_generation(tmp_path, corpus):
    x, metas = corpus
    directory = _save(tmp_path / "idx", x[:300], metas[:300], "Flat")
    assert generation_token(directory).split()[0] == "1"
    for expected in (2, 3):
        with edit_catalog(directory) as cat:
            cat.remove([f"t{expected}"])
        assert generation_token(directory).split()[0] == str(expected)
    manifest_sha = generation_token(directory).split()[1]
    assert manifest_sha == sha256_file(directory / "manifest.json")


def test_a_failed_edit_saves_nothing(tmp_path, corpus):
    x, metas = corpus
    directory = _save(tmp_path / "idx", x[:300], metas[:300], "Flat")
    before = generation_token(directory)
    with pytest.raises(RuntimeError, match="boom"):
        with edit_catalog(directory) as cat:
            cat.remove(["t1"])
            raise RuntimeError("boom")
    assert generation_token(directory) == before
    with open_catalog(directory) as cat:
        assert cat.db.ids_for(["t1"]).size == 1


def test_live_catalog_follows_saves_of_others_and_old_readers_finish(tmp_path, corpus):
    x, metas = corpus
    directory = _save(tmp_path / "idx", x[:300], metas[:300], "IVF4,Flat")
    reader, writer = LiveCatalog(directory), LiveCatalog(directory)
    try:
        old = reader.catalog
        assert not reader.refresh() and reader.generation == 1
        with writer.edit() as cat:
            cat.add(x[300:301], [metas[300]])
            cat.remove(["t0"])
        assert writer.generation == 2 and "t300" in _live_ids(writer.catalog)  # the writer sees its change at once
        assert reader.refresh() and reader.generation == 2
        assert reader.catalog is not old and _live_ids(reader.catalog) == {f"t{i}" for i in range(1, 301)}
        assert old.db.ids_for(["t0"]).size == 1 and old.search(x[:1], 1)[1][0, 0] >= 0  # still usable
    finally:
        reader.close()
        writer.close()


def test_a_folder_saved_before_generations_is_followed_from_its_first_edit(tmp_path, corpus):
    x, metas = corpus
    directory = _save(tmp_path / "idx", x[:300], metas[:300], "Flat")
    (directory / GENERATION).unlink()
    live = LiveCatalog(directory)
    try:
        assert live.generation == 0 and not live.refresh()
        with edit_catalog(directory) as cat:
            cat.remove(["t5"])
        assert live.refresh() and live.generation == 1 and live.catalog.db.ids_for(["t5"]).size == 0
    finally:
        live.close()


def test_concurrent_edits_from_threads_lose_nothing(tmp_path, corpus):
    x, metas = corpus
    directory = _save(tmp_path / "idx", x[:300], metas[:300], "Flat")
    lives = [LiveCatalog(directory) for _ in range(3)]

    def work(w: int) -> None:
        for i in range(5):
            row = 300 + 5 * w + i
            with lives[w].edit() as cat:
                cat.add(x[row:row + 1], [metas[row]])
                cat.remove([f"t{row - 300}"])

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(work, range(3)))  # re-raises a worker's exception
    expected = {f"t{i}" for i in range(15, 315)}
    for live in lives:
        live.refresh()
        assert _live_ids(live.catalog) == expected and live.generation == 16
        live.close()


EDITOR = """
import sys, numpy as np
from index import TrackMeta, edit_catalog
directory, name = sys.argv[1], sys.argv[2]
for i in range(6):
    with edit_catalog(directory) as cat:
        cat.add(np.random.default_rng(i).standard_normal((1, 32)).astype(np.float32), [TrackMeta(f"{name}-{i}")])
"""


def test_concurrent_edits_from_processes_lose_nothing(tmp_path, corpus):
    x, metas = corpus
    directory = _save(tmp_path / "idx", x[:300], metas[:300], "IVF4,Flat")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", EDITOR, str(directory), name], env=env, stderr=subprocess.PIPE)
             for name in ("a", "b", "c")]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read().decode()
    with open_catalog(directory) as cat:
        assert _live_ids(cat) == {f"t{i}" for i in range(300)} | {f"{n}-{i}" for n in "abc" for i in range(6)}
    assert generation_token(directory).split()[0] == "19"
