"""Pretend FAISS has GPUs (or none), for the GPU-placement plumbing tests on CPU-only machines.

``fake_gpus(monkeypatch, n)`` patches the real ``faiss`` module: ``get_num_gpus`` answers ``n`` and
``index_cpu_to_gpu`` returns a :class:`FakeGpuIndex` that searches the CPU index and records each call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faiss
import pytest

from index import faiss_index


@dataclass
class FakeGpuIndex:
    """Stands in for a GpuIndex: searches the CPU index it was copied from, counting searches."""

    cpu: Any
    device: int
    searches: int = 0
    params: dict[str, int] = field(default_factory=dict)

    def search(self, queries, k):
        self.searches += 1
        return self.cpu.search(queries, k)


@dataclass
class FakeGpus:
    """What the fake FAISS was asked to do."""

    copies: list[FakeGpuIndex] = field(default_factory=list)
    resources: int = 0


def fake_gpus(monkeypatch: pytest.MonkeyPatch, n: int) -> FakeGpus:
    """Make ``faiss`` report ``n`` GPUs and copy indexes to fake GPU indexes; return the call record."""
    record = FakeGpus()

    class Resources:
        def __init__(self):
            record.resources += 1

    class ParameterSpace:
        def set_index_parameter(self, index, name, value):
            index.params[name] = value

    def to_gpu(res, device, index, options=None):
        assert isinstance(res, Resources), "index_cpu_to_gpu needs a StandardGpuResources"
        copy = FakeGpuIndex(index, device)
        record.copies.append(copy)
        return copy

    monkeypatch.setattr(faiss, "get_num_gpus", lambda: n)
    monkeypatch.setattr(faiss, "StandardGpuResources", Resources, raising=False)
    monkeypatch.setattr(faiss, "GpuParameterSpace", ParameterSpace, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", to_gpu, raising=False)
    monkeypatch.setattr(faiss_index, "_GPU_RESOURCES", {})
    return record
