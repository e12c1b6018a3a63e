"""index.duplicates: re-encoded copies found by track cosine, trimmed copies by window alignment, others not."""

from __future__ import annotations

import numpy as np
import pytest

from index import CatalogError, TrackMeta, catalog_from_arrays, save_catalog
from index.duplicates import catalog_duplicates, duplicates_of, window_alignment

D = 16


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def library():
    """8 distinct tracks (12 windows each), a near-identical copy of t0 and a trimmed copy of t1."""
    rng = np.random.default_rng(0)
    windows = {f"t{i}": _unit(rng.normal(size=(12, D))) for i in range(8)}
    windows["t0-mp3"] = _unit(windows["t0"] + rng.normal(scale=0.05, size=(12, D)))
    windows["t1-trim"] = windows["t1"][4:]  # the first third cut off: its mean vector drifts
    names = list(windows)
    vectors = _unit(np.stack([windows[n].mean(axis=0) for n in names]))
    catalog = catalog_from_arrays(vectors, [TrackMeta(n) for n in names], "Flat", target_recall=0)
    yield catalog, windows, dict(zip(names, vectors))
    catalog.close()


def test_window_alignment_finds_the_shift():
    rng = np.random.default_rng(1)
    a = _unit(rng.normal(size=(10, D)))
    assert window_alignment(a, a[3:]) == pytest.approx(1.0)
    assert window_alignment(a[:6], a[2:]) == pytest.approx(1.0)
    assert window_alignment(a, _unit(rng.normal(size=(10, D)))) < 0.5


def test_pairs_by_vector_and_by_window_alignment(library):
    catalog, windows, vectors = library
    trimmed_cosine = float(vectors["t1"] @ vectors["t1-trim"])
    assert trimmed_cosine < 0.95  # the track vectors alone would miss the trimmed copy
    plain = catalog_duplicates(catalog, threshold=0.95)
    assert [(p.track_a, p.track_b) for p in plain] == [("t0", "t0-mp3")]
    aligned = catalog_duplicates(catalog, threshold=0.95, windows=windows.get)
    assert {(p.track_a, p.track_b) for p in aligned} == {("t0", "t0-mp3"), ("t1", "t1-trim")}
    trim = next(p for p in aligned if p.track_a == "t1")
    assert trim.window_cosine == pytest.approx(1.0) and trim.track_cosine == pytest.approx(trimmed_cosine, abs=1e-5)
    assert catalog_duplicates(catalog, threshold=0.9999, windows=windows.get) == [
        p for p in aligned if p.score >= 0.9999]


def test_duplicates_of_one_track_and_bad_threshold(library):
    catalog, windows, _ = library
    pairs = duplicates_of(catalog, "t1-trim", 0.95, windows.get)
    assert [(p.track_a, p.track_b) for p in pairs] == [("t1", "t1-trim")]
    assert duplicates_of(catalog, "t5", 0.95, windows.get) == []
    with pytest.raises(CatalogError, match="not a cosine"):
        duplicates_of(catalog, "t5", 2.0)


def test_cli_writes_pairs(library, tmp_path, capsys):
    from muscall.cli.main import main

    catalog, _, _ = library
    save_catalog(catalog, tmp_path / "idx")
    assert main(["index", "duplicates", str(tmp_path / "idx"), "--out", str(tmp_path / "pairs.csv")]) == 0
    lines = (tmp_path / "pairs.csv").read_text().splitlines()
    assert lines[0] == ("track_a,track_b,kind,score,track_cosine,window_cosine,fingerprint,offset_s,overlap_s,"
                        "level_spread_db") and lines[1].startswith("t0,t0-mp3,")
    assert len(lines) == 2 and "t0  ==  t0-mp3" in capsys.readouterr().out
