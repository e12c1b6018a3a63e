"""GPU placement of the index: a plain CUDA device number reaches index/; without GPU FAISS it stays on CPU."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from index import catalog_from_arrays
from tests.support.fake_gpu_faiss import fake_gpus


@pytest.fixture(autouse=True)
def faiss_index_logs(monkeypatch):
    """Its logger enabled (a logging dictConfig run by an earlier test may have disabled existing loggers)."""
    monkeypatch.setattr(logging.getLogger("index.faiss_index"), "disabled", False)


@pytest.fixture
def small(corpus):
    x, metas = corpus
    return x[:1000], metas[:1000]


def test_no_gpu_faiss_keeps_the_index_on_cpu_with_a_log_line(small, monkeypatch, caplog):
    record = fake_gpus(monkeypatch, 0)
    with caplog.at_level(logging.INFO, logger="index.faiss_index"):
        cat = catalog_from_arrays(*small, "Flat", target_recall=0, gpu=0)
    assert cat.stats()["gpu"] is False and record.copies == []
    assert "searching the index on CPU" in caplog.text and "muscall[gpu]" in caplog.text
    plain = catalog_from_arrays(*small, "Flat", target_recall=0)
    q = small[0][:5]
    np.testing.assert_array_equal(cat.search(q, 5)[1], plain.search(q, 5)[1])


def test_cuda_device_number_moves_the_index_to_that_gpu(small, monkeypatch, caplog):
    record = fake_gpus(monkeypatch, 2)
    with caplog.at_level(logging.INFO, logger="index.faiss_index"):
        cat = catalog_from_arrays(*small, "IVF16,Flat", target_recall=0, gpu=1)
    assert cat.stats()["gpu"] is True and "on GPU 1" in caplog.text
    (replica,) = record.copies
    assert replica.device == 1 and replica.params == {"nprobe": cat.index.nprobe}
    scores, ids = cat.search(small[0][:3], 5)
    assert replica.searches == 1 and (ids[:, 0] >= 0).all()
    cat.search(small[0][:3], 5, allowed_ids=np.arange(10))  # filtered searches stay on the CPU index
    assert replica.searches == 1
    cat.remove(["t0"])  # an update re-copies the index to the same GPU
    assert [c.device for c in record.copies] == [1, 1] and record.resources == 1


def test_cpu_device_never_copies_even_when_faiss_has_gpus(small, monkeypatch):
    record = fake_gpus(monkeypatch, 1)
    cat = catalog_from_arrays(*small, "Flat", target_recall=0)  # gpu=None: the model runs on CPU
    assert cat.stats()["gpu"] is False and record.copies == []


@pytest.mark.parametrize("factory, gpu, expected", [("HNSW16", 0, "no GPU HNSW"), ("Flat", 3, "not GPU 3")])
def test_hnsw_or_a_missing_gpu_stays_on_cpu_with_a_log_line(small, monkeypatch, caplog, factory, gpu, expected):
    record = fake_gpus(monkeypatch, 1)
    with caplog.at_level(logging.INFO, logger="index.faiss_index"):
        cat = catalog_from_arrays(*small, factory, target_recall=0, gpu=gpu)
    assert cat.stats()["gpu"] is False and record.copies == [] and expected in caplog.text


@pytest.mark.parametrize("n_gpus, gpu, expected", [(1, 0, True), (1, None, False), (0, 0, False)])
def test_auto_choice_is_told_gpu_only_when_the_index_will_be_on_one(small, monkeypatch, n_gpus, gpu, expected):
    from index import build
    from index.auto import choose_index

    fake_gpus(monkeypatch, n_gpus)
    asked = []
    monkeypatch.setattr(build, "choose_index", lambda *a, **kw: asked.append(kw["gpu"]) or choose_index(*a, **kw))
    catalog_from_arrays(*small, "auto", target_recall=0, gpu=gpu)
    assert asked == [expected]  # gpu=True makes the auto choice avoid HNSW (FAISS has no GPU HNSW)
