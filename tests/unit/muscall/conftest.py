"""Fixtures shared by the muscall unit tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def single_torch_thread():
    """One torch thread for the test: tiny models on small shared CPUs run faster without oversubscription."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
