"""Quality-scorer tests run tiny models: one torch thread avoids oversubscription on small shared CPUs."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_torch_thread(single_torch_thread):
    yield
