"""Distributed helpers for ``torchrun``: process-group setup and an all-gather that carries gradients."""

from __future__ import annotations

import atexit
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); gloo on CPU, nccl on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        atexit.register(_destroy)  # a rank that fails or forgets cleanup still leaves before interpreter teardown
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(),
                    local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def resolve_device(name: str) -> torch.device:
    """``auto`` picks this rank's GPU when there is one, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    return torch.device(name)


def gather_with_grad(x: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Concatenate ``x`` from every rank along dim 0, keeping gradients.

    The autograd all-gather's backward sums each rank's gradient into the owner's slice, so with DDP's
    gradient averaging the parameters receive exactly the single-process gradient of the global-batch loss.
    """
    if not info.enabled:
        return x
    return torch.cat(dist_fn.all_gather(x), dim=0)


def barrier(info: DistInfo) -> None:
    """Wait for all ranks (no-op when not distributed)."""
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    """Leave the process group: wait for every rank, then destroy it while the interpreter is still whole.

    The barrier keeps a finished rank from tearing down its gloo connections while a peer still talks to it
    (that peer would abort at shutdown with "terminate called without an active exception"). Called while an
    exception propagates (from a ``finally``), it skips the barrier: the failed peers may never arrive.
    """
    if not (info.enabled and dist.is_initialized()):
        return
    try:
        if sys.exc_info()[0] is None:
            dist.barrier()
    finally:
        _destroy()


def _destroy() -> None:
    """Destroy the default process group if it is still there (idempotent; also the atexit hook)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
