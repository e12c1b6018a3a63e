"""Fixtures for the corpus generator tests: the system GM soundfont and one shared renderer."""

from __future__ import annotations

import pytest

from muscall.errors import MuscallError


@pytest.fixture(scope="session")
def soundfont() -> str:
    """Path of the installed GM soundfont; tests that render are skipped when there is none."""
    from muscall.data.synth.render import find_soundfont
    try:
        return str(find_soundfont())
    except MuscallError as err:
        pytest.skip(f"no GM soundfont installed ({err})")


@pytest.fixture(scope="session")
def renderer(soundfont):
    from muscall.data.synth.render import Renderer
    r = Renderer(soundfont, 16000)
    yield r
    r.close()
