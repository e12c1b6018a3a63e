"""Fixtures for the corpus generator tests: one shared renderer (the ``soundfont`` fixture is in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def renderer(soundfont):
    from muscall.data.synth.render import Renderer
    r = Renderer(soundfont, 16000)
    yield r
    r.close()
