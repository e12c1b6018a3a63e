"""FAISS plumbing: inner-product indexes keyed by stable int64 ids, ID-selector search parameters, mmap I/O.

IVF indexes store the ids given to ``add_with_ids`` themselves; Flat and HNSW are wrapped in ``IndexIDMap2``
(IVF must not be: ``IndexIDMap.remove_ids`` assumes the wrapped index renumbers on removal, which IVF does not).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.auto import family_of
from index.errors import CatalogError

log = logging.getLogger(__name__)

BLAS_THRESHOLD = 16  # FAISS 1.15 ships 128000, so batched Flat search would skip BLAS (about 3x slower)
_BITMAP_MAX_ID = 1 << 25  # above this id an IDSelectorBatch (hash set) is used instead of a bitmap
SUPPORTED = ("Flat, HNSW<M>, IVF<nlist>[_HNSW<M>],Flat, IVF<nlist>[_HNSW<M>],SQ8 (or SQfp16), "
             "[OPQ<m>,]IVF<nlist>,PQ<m> or auto")
QUANTIZER_EF_SEARCH = 128  # an HNSW coarse quantizer's search depth: FAISS's default (16) loses recall at nprobe 50


def configure_faiss(blas_threshold: int = BLAS_THRESHOLD, omp_threads: int | None = None) -> None:
    """FAISS settings: the BLAS threshold for the whole process, the OpenMP thread count for the calling thread.

    Args:
        blas_threshold: batches of at least this many queries use BLAS for exact distances (and k-means);
            a process-wide global.
        omp_threads: OpenMP threads for the FAISS calls of the calling thread only: OpenMP keeps this setting
            per thread, and other threads (e.g. a web server's worker pool) keep the default, so call this in
            each thread that searches. A service answering one query per request should use 1 and get
            parallelism from concurrent requests: HNSW opens a parallel region even for one query, which
            costs milliseconds on a busy machine (measured: 3 ms vs 0.2 ms per query at 20k x 256).
    """
    faiss.cvar.distance_compute_blas_threshold = int(blas_threshold)
    if omp_threads is not None:
        faiss.omp_set_num_threads(int(omp_threads))


configure_faiss()  # on import: FAISS's own default also makes k-means and PQ training several times slower


def as_float32(x: Any, dim: int | None = None, what: str = "queries") -> np.ndarray:
    """C-contiguous float32 ``(n, dim)`` copy/view of ``x`` (a 1-D vector becomes one row)."""
    arr = np.asarray(x)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or (dim is not None and arr.shape[1] != dim):
        raise CatalogError(f"{what} have shape {arr.shape}, expected (n, {dim}); embed them with the model "
                           "this catalog was built with")
    return np.ascontiguousarray(arr, dtype=np.float32)


def new_index(factory: str, d: int) -> faiss.Index:
    """Empty inner-product index for a factory string, ready for ``add_with_ids``."""
    family = family_of(factory)
    if family == "other":
        raise CatalogError(f"index factory {factory!r} is not supported; use {SUPPORTED}")
    try:
        base = faiss.index_factory(d, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        raise CatalogError(f"FAISS cannot build {factory!r} for d={d} ({first}); use {SUPPORTED}") from exc
    ivf = ivf_of(base)
    quantizer = faiss.downcast_index(ivf.quantizer) if ivf is not None else None
    if quantizer is not None and hasattr(quantizer, "hnsw"):
        quantizer.hnsw.efSearch = QUANTIZER_EF_SEARCH  # saved with the index
    return base if family in ("ivf", "ivfpq") else faiss.IndexIDMap2(base)


def ivf_of(index: faiss.Index) -> Any:
    """The IndexIVF inside ``index`` (through pre-transforms), or None."""
    return faiss.try_extract_index_ivf(index)


def hnsw_of(index: faiss.Index) -> Any:
    """The IndexHNSW inside an IndexIDMap2, or None."""
    inner = faiss.downcast_index(index.index) if hasattr(index, "id_map") else index
    return inner if hasattr(inner, "hnsw") else None


def search_knob(index: faiss.Index) -> str | None:
    """Name of the speed/recall parameter: ``nprobe`` (IVF), ``efSearch`` (HNSW) or None (exact)."""
    if ivf_of(index) is not None:
        return "nprobe"
    return "efSearch" if hnsw_of(index) is not None else None


def get_knob(index: faiss.Index) -> int | None:
    """Current value of the search parameter."""
    knob = search_knob(index)
    if knob == "nprobe":
        return int(ivf_of(index).nprobe)
    return int(hnsw_of(index).hnsw.efSearch) if knob == "efSearch" else None


def set_knob(index: faiss.Index, value: int) -> None:
    """Set the search parameter persistently (it is saved with the index)."""
    knob = search_knob(index)
    if knob == "nprobe":
        ivf_of(index).nprobe = int(value)
    elif knob == "efSearch":
        hnsw_of(index).hnsw.efSearch = int(value)


def knob_max(index: faiss.Index) -> int:
    """Largest value tuning tries: nlist for IVF; for HNSW efSearch, ntotal capped at 4096."""
    ivf = ivf_of(index)
    return int(ivf.nlist) if ivf is not None else max(1, min(int(index.ntotal), 4096))


def id_selector(ids: np.ndarray, exclude: bool = False) -> tuple[Any, list[Any]]:
    """FAISS selector accepting exactly ``ids`` (or all but them); returns (selector, objects to keep alive)."""
    ids = np.asarray(ids, dtype=np.int64)
    top = int(ids.max()) if ids.size else 0
    if top < _BITMAP_MAX_ID:
        mask = np.zeros(top + 1, dtype=bool)
        mask[ids] = True
        bits = np.packbits(mask, bitorder="little")
        sel, keep = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits)), [bits]
    else:
        sel, keep = faiss.IDSelectorBatch(ids), [ids]
    if exclude:
        keep.append(sel)
        sel = faiss.IDSelectorNot(sel)
    return sel, keep


def search_params(index: faiss.Index, sel: Any = None, knob: int | None = None,
                  k: int = 1) -> tuple[Any, list[Any]]:
    """SearchParameters for ``index`` with a selector and/or a search-parameter override; (params, keepalive)."""
    keep: list[Any] = [sel]
    ivf = ivf_of(index)
    if ivf is not None:
        inner = faiss.SearchParametersIVF()
        inner.nprobe = int(knob or ivf.nprobe)
        if sel is not None:
            inner.sel = sel
        keep.append(inner)
        node = faiss.downcast_index(index)
        params = inner
        while isinstance(node, faiss.IndexPreTransform):
            outer = faiss.SearchParametersPreTransform()
            outer.index_params = params
            keep.append(outer)
            params, node = outer, faiss.downcast_index(node.index)
        return params, keep
    hnsw = hnsw_of(index)
    params = faiss.SearchParametersHNSW() if hnsw is not None else faiss.SearchParameters()
    if hnsw is not None:
        params.efSearch = max(int(knob or hnsw.hnsw.efSearch), k)
    if sel is not None:
        params.sel = sel
    keep.append(params)
    return params, keep


def can_remove(index: faiss.Index) -> bool:
    """Whether vectors can be physically removed (HNSW cannot: removed ids become tombstones)."""
    return hnsw_of(index) is None


def remove_ids(index: faiss.Index, ids: np.ndarray) -> int:
    """Physically remove ``ids``; return how many were removed."""
    return int(index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))))


def reconstruct(index: faiss.Index, ids: np.ndarray) -> np.ndarray:
    """Stored vectors of ``ids`` (Flat/HNSW through IndexIDMap2 only)."""
    return index.reconstruct_batch(np.ascontiguousarray(ids, dtype=np.int64))


def stores_exact_vectors(index: faiss.Index) -> bool:
    """Whether ``index`` keeps the added vectors unchanged (Flat, HNSW over Flat, IVF-Flat), not as lossy codes."""
    node = faiss.downcast_index(index)
    if isinstance(node, faiss.IndexIDMap2):
        node = faiss.downcast_index(node.index)
    if isinstance(node, faiss.IndexHNSW):
        node = faiss.downcast_index(node.storage)
    return isinstance(node, (faiss.IndexFlat, faiss.IndexIVFFlat))


def stored_vectors(index: faiss.Index, ids: np.ndarray) -> np.ndarray:
    """``(len(ids), d)`` stored vectors of ids the index holds (check ``stores_exact_vectors`` first).

    IndexIDMap2 reconstructs by id; an IVF index keeps no id -> list map (a direct map would break
    ``remove_ids`` with a selector), so its inverted lists are scanned, one Python step per list.
    """
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    ivf = ivf_of(index)
    if ivf is None:
        return reconstruct(index, ids) if ids.size else np.zeros((0, index.d), np.float32)
    wanted = np.unique(ids)
    out = np.empty((len(wanted), ivf.d), np.float32)
    found = np.zeros(len(wanted), dtype=bool)
    for list_no in range(ivf.nlist):
        if found.all():
            break
        size = ivf.invlists.list_size(list_no)
        if not size:
            continue
        ptr = ivf.invlists.get_ids(list_no)
        try:
            list_ids = faiss.rev_swig_ptr(ptr, size).copy()
        finally:
            ivf.invlists.release_ids(list_no, ptr)
        pos = np.minimum(np.searchsorted(wanted, list_ids), len(wanted) - 1)
        for offset in np.flatnonzero(wanted[pos] == list_ids):
            ivf.reconstruct_from_offset(list_no, int(offset), faiss.swig_ptr(out[pos[offset]]))
            found[pos[offset]] = True
    if not found.all():
        raise CatalogError(f"ids {wanted[~found][:5].tolist()} are not in the index; the catalog is inconsistent, "
                           "restore or rebuild it")
    return out[np.searchsorted(wanted, ids)]


def write_index(index: faiss.Index, path: Path) -> None:
    """Write an index (a GPU index is copied to CPU first)."""
    faiss.write_index(to_cpu(index), str(path))


def read_index(path: Path, mmap: bool = False) -> faiss.Index:
    """Read an index; with ``mmap`` map it from disk read-only, so processes reading one file share its pages.

    FAISS 1.15 maps the vectors of Flat, the inverted lists of IVF (Flat, SQ, PQ) and the vectors of HNSW
    through ``IO_FLAG_MMAP_IFC`` (``IO_FLAG_MMAP`` alone leaves Flat in private memory); an HNSW graph is still
    read into each process. A build without that flag, or an index type it cannot map, is read into memory with
    a log line. A mapped index must never be modified (FAISS aborts the process): the catalog refuses writes.
    """
    if mmap:
        flag = getattr(faiss, "IO_FLAG_MMAP_IFC", None)
        if flag is None:
            log.warning("this FAISS build (%s) cannot map indexes zero-copy; %s is read into memory",
                        getattr(faiss, "__version__", "?"), path)
        else:
            try:
                return faiss.read_index(str(path), flag | faiss.IO_FLAG_READ_ONLY)
            except RuntimeError as exc:
                log.warning("FAISS cannot map %s (%s); reading it into memory", path,
                            str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__)
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:
        raise CatalogError(f"{path}: FAISS cannot read this index file ({str(exc).strip().splitlines()[-1]}); "
                           "it is corrupted or from an incompatible FAISS version; rebuild the catalog") from exc


def to_cpu(index: faiss.Index) -> faiss.Index:
    """CPU copy of a GPU index (the index itself when already on CPU)."""
    if faiss.get_num_gpus() > 0 and "Gpu" in type(faiss.downcast_index(index)).__name__:
        return faiss.index_gpu_to_cpu(index)
    return index


class GpuReplica:
    """A copy of an index on one GPU; its searches run one at a time (FAISS GPU indexes and their
    StandardGpuResources are not thread-safe, even for searching)."""

    def __init__(self, index: faiss.Index, device: int):
        self.device = device
        self._res, self._lock = _gpu_resources(device)
        with self._lock:  # the resources are shared by every replica on this GPU, and are not thread-safe
            self.index = faiss.index_cpu_to_gpu(self._res, device, index)  # the index does not own self._res
        knob = get_knob(index)
        if knob is not None:
            faiss.GpuParameterSpace().set_index_parameter(self.index, "nprobe", knob)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``index.search`` on the GPU."""
        with self._lock:
            return self.index.search(queries, k)

    def __del__(self) -> None:
        """Free the GPU copy under the lock (the thread dropping the last reference may not be a searcher's)."""
        lock, index = getattr(self, "_lock", None), getattr(self, "index", None)
        if lock is not None and index is not None:
            with lock:
                self.index = None


def gpu_replica(index: faiss.Index, device: int = 0) -> GpuReplica | None:
    """A copy of ``index`` on GPU ``device`` for unfiltered searches; None (and a log line) when it stays on CPU.

    It stays on CPU when this FAISS build has no GPU support (faiss-cpu: install the ``gpu`` extra) or does not
    see GPU ``device``, for HNSW (FAISS has no GPU HNSW), and when the copy fails (a type without a GPU version,
    out of GPU memory).
    """
    if faiss.get_num_gpus() <= device:
        log.info("FAISS sees %d GPU(s), not GPU %d (faiss-cpu sees none; install muscall[gpu] for faiss-gpu): "
                 "searching the index on CPU", faiss.get_num_gpus(), device)
        return None
    if hnsw_of(index) is not None:
        log.info("FAISS has no GPU HNSW: searching the index on CPU (build Flat or IVF for GPU search)")
        return None
    try:
        replica = GpuReplica(index, device)
    except (RuntimeError, AttributeError) as exc:  # unsupported type on GPU, out of GPU memory
        log.warning("GPU copy of the index failed (%s); searching on CPU", exc)
        return None
    log.info("searching the index on GPU %d", device)
    return replica


_GPU_RESOURCES: dict[int, tuple[Any, threading.Lock]] = {}  # per GPU and process: each reserves scratch memory
_GPU_RESOURCES_LOCK = threading.Lock()


def _gpu_resources(device: int) -> tuple[Any, threading.Lock]:
    """The process's StandardGpuResources of GPU ``device`` and the lock that serialises its users."""
    with _GPU_RESOURCES_LOCK:
        if device not in _GPU_RESOURCES:
            _GPU_RESOURCES[device] = (faiss.StandardGpuResources(), threading.Lock())
        return _GPU_RESOURCES[device]
