"""Pick a FAISS index for a catalog of ``n`` vectors of dimension ``d`` under a memory budget.

The rules follow autofaiss (``get_optimal_index_keys_v2``: Flat for tiny sets, HNSW whenever its graph fits the
budget, IVF-Flat while raw vectors fit, else IVF-PQ with the largest code that fits; nlist ~ 4·sqrt(n) rounded
to a power of two), with these deliberate changes for a mutable music catalog on small machines:

* ``flat_threshold`` is 10,000 (autofaiss: 1,000, then HNSW15): exact search over 10k x 512 costs < 1 ms and
  gives exact filtered results and physical removal.
* ``hnsw_max_n`` (500,000) caps HNSW: its build is ~n·log n·efConstruction distance computations (about 10
  minutes for 1M x 512 on 2 cores) and it cannot remove vectors (removed tracks become tombstones). Above it,
  IVF-Flat is preferred when it fits. Pass ``hnsw_max_n=None`` to follow autofaiss.
* IVF keeps every vector as half floats (``SQfp16``) up to ``ivf_flat_max_n`` = 10M (autofaiss: IVF-Flat up to
  1M), and nlist keeps the 4·sqrt(n) rule up to 10M (autofaiss jumps to 16,384 at 1M, whose k-means costs 4x
  more): a PQ index cannot reach recall@10 of 0.95, so the vectors are kept whenever the budget allows. Half
  floats lose nothing a cosine ranking can see, take half the memory of IVF-Flat and halve the bytes each probe
  scans; from 1,024 lists the coarse quantizer is an HNSW graph over the centroids (``IVF<nlist>_HNSW32``), not a
  scan of all of them. ``scripts/bench_index.py --n 1000000 --indexes flat,auto,ivf`` (one thread per query),
  IVF4096_HNSW32,SQfp16 against IVF4096,Flat: p50 0.08 against 0.32 ms on real embeddings (recall@10 0.938 /
  0.939), 0.59 against 1.01 ms on the clustered mixture (0.940 / 0.938). A GPU keeps the flat quantizer (FAISS has
  no GPU HNSW).
* IVF-PQ is ``IVF<nlist>,PQ<m>x8np``: no OPQ rotation and no HNSW coarse quantizer (autofaiss uses
  ``OPQ<m>_<d'>,IVF<nlist>_HNSW32,PQ<m>``). OPQ training costs about ten times the PQ training on a 2-core
  machine; ``np`` skips polysemous training, which only serves Hamming-threshold search. Pass an OPQ factory
  string explicitly to get it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from index.errors import CatalogError

_IDMAP_BYTES = 56  # IndexIDMap2: 8-byte id array + reverse hash map entry
_IVF_ID_BYTES = 8  # ids stored in the inverted lists
_PQ_SIZES = (256, 128, 64, 48, 32, 24, 16, 8, 4)
_MIN_PQ_TRAIN = 256 * 39  # FAISS wants >= 39 points per centroid; PQ has 256 centroids per sub-quantizer
_SQ_BYTES_PER_DIM = 2  # SQfp16
_HNSW_QUANTIZER_MIN_NLIST = 1024  # below this, scanning every centroid costs less than a graph walk


@dataclass(frozen=True)
class IndexChoice:
    """A chosen factory string, its family, the estimated index size and why it was chosen."""

    factory: str
    family: str  # flat | hnsw | ivf | ivfpq
    estimated_bytes: int
    reason: str


def family_of(factory: str) -> str:
    """Index family of a factory string: flat, hnsw, ivf (IVF-Flat/SQ), ivfpq or other."""
    key = factory.replace(" ", "")
    if re.search(r"IVF\d+", key):
        return "ivfpq" if "PQ" in key.split(",")[-1] else "ivf"
    if key.startswith("HNSW") or re.search(r"(^|,)HNSW\d+", key):
        return "hnsw"
    if key == "Flat":
        return "flat"
    return "other"


def nlist_for(n: int) -> int:
    """Number of IVF lists: power of two nearest 4·sqrt(n), at most n/39 so k-means has enough points."""
    nlist = 2 ** round(math.log2(max(4 * math.sqrt(max(n, 1)), 1)))
    cap = max(1, n // 39)
    while nlist > cap and nlist > 1:
        nlist //= 2
    return max(1, nlist)


def estimate_bytes(family: str, n: int, d: int, *, m: int = 0, nlist: int = 0) -> int:
    """Rough resident size of an index in bytes (vectors, graph links, codes, ids, centroids)."""
    if family == "flat":
        return n * (4 * d + _IDMAP_BYTES)
    if family == "hnsw":
        return n * (4 * d + 2 * 4 * m + _IDMAP_BYTES)
    if family == "ivf":
        return n * (_SQ_BYTES_PER_DIM * d + _IVF_ID_BYTES) + nlist * d * 4
    if family == "ivfpq":
        return n * (m + _IVF_ID_BYTES) + nlist * d * 4
    raise ValueError(f"unknown index family {family!r}")


def choose_index(n: int, d: int, memory_budget_mb: float, *, mmap: bool = False, gpu: bool = False,
                 flat_threshold: int = 10_000, hnsw_max_n: int | None = 500_000,
                 ivf_flat_max_n: int = 10_000_000) -> IndexChoice:
    """Choose the index for ``n`` x ``d`` inner-product vectors; see the module docstring for the rules.

    Args:
        mmap: the index must be memory-mappable (rules out HNSW).
        gpu: the index will be searched on a GPU (rules out HNSW).
    Raises:
        CatalogError: when not even the smallest PQ code fits ``memory_budget_mb``.
    """
    if n < 0 or d < 1 or memory_budget_mb <= 0:
        raise CatalogError(f"cannot size an index for n={n}, d={d}, memory budget {memory_budget_mb} MB")
    budget = int(memory_budget_mb * 2**20)
    flat = estimate_bytes("flat", n, d)
    if n < flat_threshold and (flat <= budget or n < _MIN_PQ_TRAIN):
        return IndexChoice("Flat", "flat", flat, f"n={n} < {flat_threshold}: exact search is cheap")
    m_hnsw = (budget / max(n, 1) - 4 * d - _IDMAP_BYTES) // 8
    if not (mmap or gpu) and m_hnsw >= 8 and (hnsw_max_n is None or n <= hnsw_max_n):
        m = int(min(m_hnsw, 32))
        return IndexChoice(f"HNSW{m}", "hnsw", estimate_bytes("hnsw", n, d, m=m), "HNSW graph fits the budget")
    nlist = nlist_for(n)
    ivf = estimate_bytes("ivf", n, d, nlist=nlist)
    if n <= ivf_flat_max_n and ivf <= budget:
        quantizer = "_HNSW32" if nlist >= _HNSW_QUANTIZER_MIN_NLIST and not gpu else ""
        return IndexChoice(f"IVF{nlist}{quantizer},SQfp16", "ivf", ivf,
                           "half-float vectors fit the budget; IVF keeps them near exact")
    if n >= _MIN_PQ_TRAIN:
        for m in _PQ_SIZES:
            if m >= d or d % m:
                continue
            size = estimate_bytes("ivfpq", n, d, m=m, nlist=nlist)
            if size <= budget:
                return IndexChoice(f"IVF{nlist},PQ{m}x8np", "ivfpq", size,
                                   f"half-float vectors need {ivf / 2**20:.0f} MB; PQ{m} codes fit the budget")
    smallest = estimate_bytes("ivfpq", n, d, m=4, nlist=nlist) if n >= _MIN_PQ_TRAIN else flat
    raise CatalogError(f"no index for {n} x {d} vectors fits in {memory_budget_mb:.0f} MB (the smallest needs "
                       f"about {smallest / 2**20:.0f} MB); raise the memory budget (index.memory_budget_mb)")


def choose_factory(n: int, d: int, memory_budget_mb: float, **kwargs: object) -> str:
    """FAISS factory string for ``n`` x ``d`` vectors under ``memory_budget_mb`` (see ``choose_index``)."""
    return choose_index(n, d, memory_budget_mb, **kwargs).factory  # type: ignore[arg-type]
