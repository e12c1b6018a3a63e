"""Synthetic embeddings with the neighbour structure of real ones, for tests and index benchmarks.

Uniformly random vectors have no neighbour structure in high dimension (every point is about equally far from
every other), so ANN recall on them is meaningless. ``Mixture`` instead draws from clusters of very unequal
size whose centres lie on a low-dimensional subspace, with anisotropic noise that makes clusters overlap, all
inside a cone: intrinsic dimension is low, a few directions dominate, random pairs have a small positive
cosine and nearest neighbours a much larger one, as with learned embeddings.
"""

from __future__ import annotations

import numpy as np

import faiss

_CHUNK = 65536


class Mixture:
    """A fixed clustered distribution on the unit sphere in ``d`` dimensions; ``sample`` draws from it."""

    def __init__(self, d: int, n_clusters: int = 2000, intrinsic_dim: int = 48, noise: float = 1.0,
                 iso_noise: float = 0.05, cone: float = 1.5, seed: int = 0):
        rng = np.random.default_rng(seed)
        r = min(intrinsic_dim, d)
        self.d = d
        self.basis = np.linalg.qr(rng.standard_normal((d, r)))[0].T.astype(np.float32)  # (r, d) orthonormal
        self.spectrum = (1.0 / np.sqrt(1.0 + np.arange(r))).astype(np.float32)  # a few dominant directions
        self.centres = (rng.standard_normal((n_clusters, r)) * self.spectrum).astype(np.float32)
        self.centres[:, 0] += cone  # a shared direction: embeddings fill a cone, not the whole sphere
        weights = 1.0 / (np.arange(n_clusters) + 10.0) ** 0.8  # popular and rare "genres"
        self.weights = weights / weights.sum()
        self.noise, self.iso_noise = noise, iso_noise

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` L2-normalised float32 rows; different seeds give independent draws (e.g. held-out queries)."""
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.d), np.float32)
        for start in range(0, n, _CHUNK):
            m = min(_CHUNK, n - start)
            which = rng.choice(len(self.centres), m, p=self.weights)
            local = rng.standard_normal((m, len(self.spectrum)), dtype=np.float32) * (self.spectrum * self.noise)
            x = (self.centres[which] + local) @ self.basis
            x += rng.standard_normal((m, self.d), dtype=np.float32) * (self.iso_noise / np.sqrt(self.d))
            out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out


def expand_embeddings(real: np.ndarray, n: int, seed: int, neighbours: int = 10,
                      jitter: float = 0.02) -> np.ndarray:
    """``n`` rows made from real embeddings: each a random point between a real row and one of its neighbours,
    plus a little isotropic noise, so the expanded set keeps the real set's manifold."""
    real = np.ascontiguousarray(real, dtype=np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    k = min(neighbours + 1, len(real))
    _, nn = faiss.knn(real, real, k, metric=faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), np.float32)
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        a = rng.integers(0, len(real), m)
        b = nn[a, rng.integers(1 if k > 1 else 0, k, m)]
        t = rng.uniform(0, 0.5, (m, 1)).astype(np.float32)
        x = real[a] + t * (real[b] - real[a])
        x += rng.standard_normal(x.shape, dtype=np.float32) * (jitter / np.sqrt(real.shape[1]))
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out
