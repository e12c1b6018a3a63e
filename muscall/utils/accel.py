"""Accelerator rules, one home: which autocast dtype runs on which device, which GPU FAISS searches on, and how
many CPU threads torch uses for a block of work.

Mixed precision is used on CUDA only: bf16 where the GPU has it natively (Ampere and later), fp16 on older
GPUs (training pairs fp16 with a GradScaler). On the CPU everything stays float32: bf16 autocast is slower
there and would change every embedding.
"""

from __future__ import annotations

import contextlib
from typing import ContextManager, Iterator

import torch


def amp_dtype(device: str | torch.device, enabled: bool = True) -> torch.dtype | None:
    """The autocast dtype for ``device``: bf16 or fp16 on CUDA, None (float32) on the CPU or when disabled."""
    device = torch.device(device)
    if not enabled or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16


def autocast(device: str | torch.device, enabled: bool = True) -> ContextManager:
    """``torch.autocast`` with :func:`amp_dtype` on CUDA; a no-op context on the CPU (bit-identical float32)."""
    dtype = amp_dtype(device, enabled)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda", dtype=dtype)


def faiss_gpu(device: str | torch.device) -> int | None:
    """The CUDA device number a FAISS index should be searched on for a model on ``device`` (None: the CPU).

    ``index`` never imports torch, so this plain number is how the device choice reaches it.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    if device.index is not None:
        return device.index
    return torch.cuda.current_device() if torch.cuda.is_available() else 0


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (unchanged when None), then restore the previous count."""
    previous = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
