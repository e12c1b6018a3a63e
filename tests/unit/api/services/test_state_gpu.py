"""The service's --device reaches the index: FAISS searches on the model's GPU, never for a CPU model."""

from __future__ import annotations

import shutil

from api.services import state as state_module
from api.services.search import embed_text, search
from api.services.state import load_state
from tests.support.fake_gpu_faiss import fake_gpus
from tests.unit.api.conftest import make_settings


def test_cpu_service_keeps_the_index_on_cpu_even_with_gpu_faiss(world, monkeypatch):
    record = fake_gpus(monkeypatch, 1)
    state = load_state(make_settings(world))
    try:
        assert state.settings.device == "cpu" and state.catalog.stats()["gpu"] is False and record.copies == []
    finally:
        state.close()


def test_cuda_service_searches_through_the_gpu_copy(world, monkeypatch, tmp_path):
    record = fake_gpus(monkeypatch, 1)
    asked = []
    monkeypatch.setattr(state_module, "faiss_gpu", lambda device: asked.append(str(device)) or 0)  # as for cuda:0
    shutil.copytree(world["index"], tmp_path / "index")  # this test writes to its index
    state = load_state(make_settings(world, tmp_path / "index"))
    try:
        assert asked == ["cpu"] and state.catalog.stats()["gpu"] is True
        query, _ = embed_text(state, "calm jazz music")
        assert search(state, query, k=3) and record.copies[0].searches == 1
        with state.live.edit():  # a write saves the next generation; the reopened catalog searches on the GPU too
            pass
        assert state.live.generation >= 1 and state.catalog.stats()["gpu"] is True
    finally:
        state.close()
