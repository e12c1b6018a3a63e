"""Small clustered embeddings and metadata for the catalog tests (no network, no GPU, no torch)."""

from __future__ import annotations

import numpy as np
import pytest

from index import TrackMeta
from index.synthetic import Mixture

DIM = 32


@pytest.fixture(scope="session")
def mixture() -> Mixture:
    """A small clustered distribution with neighbour structure (unlike uniform random vectors)."""
    return Mixture(DIM, n_clusters=60, intrinsic_dim=12, seed=3)


@pytest.fixture(scope="session")
def corpus(mixture):
    """(embeddings, metadata) of 4000 tracks with tags, durations and a genre attribute."""
    x = mixture.sample(4000, seed=1)
    return x, make_metas(len(x))


@pytest.fixture(scope="session")
def metas():
    """Factory ``metas(n, start=0)`` of metadata rows (see ``make_metas``)."""
    return make_metas


@pytest.fixture(scope="session")
def held_out(mixture) -> np.ndarray:
    """Queries drawn from the same mixture, never catalog rows."""
    return mixture.sample(200, seed=2)


def make_metas(n: int, start: int = 0) -> list[TrackMeta]:
    """Metadata rows: every 3rd track tagged jazz, genre alternating, durations 0..299 s."""
    genres = ["Rock", "Jazz", "Ambient"]
    return [TrackMeta(track_id=f"t{i}", path=f"/music/{i}.wav", title=f"Track {i}", duration=float(i % 300),
                      tags=["Jazz" if i % 3 == 0 else "rock", "live"] if i % 5 == 0 else
                      ["Jazz" if i % 3 == 0 else "rock"],
                      attributes={"genre": genres[i % 3], "bpm": 60 + i % 100})
            for i in range(start, start + n)]
