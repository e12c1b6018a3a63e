"""Automatic index choice by catalog size, dimension and memory budget."""

from __future__ import annotations

import pytest

from index import CatalogError, choose_factory, choose_index
from index.auto import estimate_bytes, family_of, nlist_for
from index.faiss_index import new_index


@pytest.mark.parametrize("n, d, budget_mb, family", [
    (500, 512, 4096, "flat"),            # tiny: exact
    (8_000, 512, 4096, "flat"),          # small: exact is still < 1 ms
    (200_000, 512, 4096, "hnsw"),        # medium: the graph fits the budget
    (1_000_000, 512, 4096, "ivf"),       # large: HNSW build too slow, raw vectors still fit
    (20_000_000, 512, 16_384, "ivfpq"),  # huge: only compressed codes fit
    (200_000, 512, 100, "ivfpq"),        # medium but a tight budget
])
def test_family_by_size_and_budget(n, d, budget_mb, family):
    choice = choose_index(n, d, budget_mb)
    assert choice.family == family, choice
    assert family_of(choice.factory) == family
    assert choice.estimated_bytes <= budget_mb * 2**20 or family == "flat"


def test_hnsw_size_follows_the_autofaiss_memory_rule():
    assert choose_factory(200_000, 512, 4096) == "HNSW32"
    # M = (budget/n - 4d - id map) / 8 bytes of links per vector, capped at 32; below 8, no HNSW
    choice = choose_index(100_000, 256, (100_000 * (4 * 256 + 56 + 8 * 12) + 1000) / 2**20)
    assert choice.factory == "HNSW12"
    assert choose_index(100_000, 256, (100_000 * (4 * 256 + 56 + 8 * 7)) / 2**20).family != "hnsw"


def test_following_autofaiss_exactly_allows_hnsw_at_one_million():
    assert choose_factory(1_000_000, 512, 4096, hnsw_max_n=None) == "HNSW32"


def test_mmap_and_gpu_rule_out_hnsw():
    assert choose_index(200_000, 512, 4096, mmap=True).family == "ivf"
    assert choose_index(200_000, 512, 4096, gpu=True).family == "ivf"


def test_pq_code_shrinks_with_the_budget():
    big = choose_index(20_000_000, 512, 16_384)
    small = choose_index(20_000_000, 512, 1_024)
    assert big.family == small.family == "ivfpq"
    assert big.estimated_bytes > small.estimated_bytes


def test_impossible_budget_names_the_fix():
    with pytest.raises(CatalogError, match="memory_budget_mb"):
        choose_index(100_000_000, 512, 100)


def test_nlist_rule():
    assert nlist_for(1_000_000) == 4096  # 4*sqrt(n) = 4000 -> nearest power of two
    assert nlist_for(100_000) == 1024
    assert nlist_for(10_000) == 256  # capped so every list gets >= 39 training points
    assert nlist_for(0) == 1


def test_estimates_grow_with_n():
    assert estimate_bytes("ivf", 2000, 64, nlist=16) > estimate_bytes("ivf", 1000, 64, nlist=16)


@pytest.mark.parametrize("n, budget", [(500, 4096), (200_000, 4096), (1_000_000, 4096), (20_000_000, 16_384)])
def test_chosen_factories_are_valid_faiss_strings(n, budget):
    index = new_index(choose_factory(n, 512, budget), 512)
    assert index.d == 512 and index.metric_type == 0  # METRIC_INNER_PRODUCT


def test_ivf_keeps_half_floats_and_walks_a_graph_of_many_centroids():
    assert choose_factory(1_000_000, 512, 4096) == "IVF4096_HNSW32,SQfp16"
    assert choose_factory(1_000_000, 512, 4096, gpu=True) == "IVF4096,SQfp16"  # FAISS has no GPU HNSW
    assert choose_factory(20_000, 256, 4096, mmap=True) == "IVF512,SQfp16"  # few lists: scanning them is cheaper
    assert estimate_bytes("ivf", 1000, 64, nlist=16) == 1000 * (2 * 64 + 8) + 16 * 64 * 4


def test_an_hnsw_quantizer_searches_deep_enough_and_keeps_it_when_saved(tmp_path):
    import faiss
    import numpy as np

    from index import TrackMeta, catalog_from_arrays, open_catalog, save_catalog
    from index.faiss_index import QUANTIZER_EF_SEARCH, ivf_of

    x = np.random.default_rng(0).normal(size=(800, 16)).astype(np.float32)
    with catalog_from_arrays(x, [TrackMeta(f"t{i}") for i in range(800)], "IVF16_HNSW32,SQfp16",
                             target_recall=0) as cat:
        save_catalog(cat, tmp_path / "idx")
    with open_catalog(tmp_path / "idx", mmap=True) as cat:
        quantizer = faiss.downcast_index(ivf_of(cat.index).quantizer)
        assert quantizer.hnsw.efSearch == QUANTIZER_EF_SEARCH > 16
