"""A tiny random checkpoint, a tiny index of generated tones (with window embeddings) and service clients."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import Settings, create_app
from api.deps import loaded_state
from api.services.state import load_state
from tests.support.tiny_service import build_tone_index, make_tiny_checkpoint, wav_bytes
from muscall.config import ServeConfig

API_KEY = "test-key-123"


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> dict[str, Path]:
    """Paths of the tiny checkpoint, index, embedding catalog and label file (built once)."""
    root = tmp_path_factory.mktemp("api-world")
    ckpt_dir = make_tiny_checkpoint(root / "ckpt")
    index_dir, shards = build_tone_index(root, ckpt_dir)
    labels = root / "labels.json"
    labels.write_text('{"genres": ["jazz", "rock", "ambient"], "moods": ["calm", "bright"]}')
    return {"root": root, "checkpoint": ckpt_dir, "index": index_dir, "shards": shards, "labels": labels}


def make_settings(world: dict[str, Path], index_dir: Path | None = None, **serve) -> Settings:
    """Settings over the tiny world; ``serve`` overrides ServeConfig fields."""
    return Settings(index_dir=index_dir or world["index"], checkpoint=world["checkpoint"], labels=world["labels"],
                    windows_dir=world["shards"], serve=ServeConfig(**{"api_key": API_KEY, **serve}))


@pytest.fixture(scope="session")
def shared_state(world):
    """One loaded service state for the read-only tests (never add or remove tracks through it)."""
    state = load_state(make_settings(world))
    state.settings.persist = False
    yield state
    state.close()


@pytest.fixture(scope="session")
def client(shared_state):
    """A TestClient over the shared state (read-only use).

    The app's state dependency is overridden with the shared state and the client is not entered, so the
    lifespan (which would load a second state) does not run.
    """
    app = create_app(shared_state.settings)
    app.dependency_overrides[loaded_state] = lambda: shared_state
    return TestClient(app)


@pytest.fixture
def writable(world, tmp_path):
    """Factory: a TestClient over a private copy of the index (for adds and removes), with its state.

    ``make(heads=PATH, max_k=5, ...)``: optional scoring heads, then ServeConfig overrides.
    """
    opened = []

    def make(heads: Path | None = None, **serve):
        index_dir = tmp_path / f"index{len(opened)}"
        shutil.copytree(world["index"], index_dir)
        settings = make_settings(world, index_dir, **serve)
        settings.heads = heads
        c = TestClient(create_app(settings))
        c.__enter__()
        opened.append(c)
        return c, c.app.state.service

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def workers(world, tmp_path):
    """``n`` TestClients (with their states) over ONE private copy of the index, as the workers of ``muscall serve
    --workers n`` are: each app maps the folder and follows the others' saves."""
    opened = []

    def make(n: int = 2, **serve) -> list[tuple[TestClient, object]]:
        index_dir = tmp_path / "shared-index"
        shutil.copytree(world["index"], index_dir)
        for _ in range(n):
            c = TestClient(create_app(make_settings(world, index_dir, workers=n, **serve)))
            c.__enter__()
            opened.append(c)
        return [(c, c.app.state.service) for c in opened]

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture(scope="session")
def wav():
    """The ``wav_bytes`` helper (test modules cannot import conftest under --import-mode=importlib)."""
    return wav_bytes


@pytest.fixture(scope="session")
def api_key() -> str:
    return API_KEY
