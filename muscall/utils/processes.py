"""Worker processes that never outlive their job: on Linux the kernel kills a worker when its parent dies.

Every job that starts workers (a process pool's ``initializer``, a DataLoader's ``worker_init_fn``, a server's
worker factory) runs :func:`die_with_parent` first in each worker. It sets ``PR_SET_PDEATHSIG`` to SIGKILL, so a
parent killed by ``kill -9`` or the OOM killer takes its workers with it instead of leaving them reparented to
init, blocked forever on a queue whose other end they hold themselves. A parent that died between the fork and
the ``prctl`` is caught by comparing ``getppid()`` with the pid the parent recorded before starting the worker.

The kernel sends the signal when the *thread* that started the worker ends, so workers must be started from a
thread that lives as long as the job (the main thread here: pools are fed and DataLoaders iterated there).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import sys
from typing import Any, Callable

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_GONE_EXIT = 70  # exit status of a worker whose parent died before it could arm the signal


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies; exit at once if ``parent_pid`` is already gone.

    ``parent_pid`` is ``os.getpid()`` of the parent, taken before the worker was started. A no-op (with a log
    line) where there is no ``prctl``: elsewhere than Linux, workers rely on their pool's own shutdown.
    """
    if not sys.platform.startswith("linux"):
        log.info("no parent-death signal on %s: workers may outlive a killed parent", sys.platform)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}")
    if os.getppid() != parent_pid:  # the parent died between our start and the prctl: nobody would signal us
        os._exit(PARENT_GONE_EXIT)


def _start_pool_worker(parent_pid: int, init: Callable[..., Any] | None, *args: Any) -> None:
    die_with_parent(parent_pid)
    if init is not None:
        init(*args)


def pool_initializer(init: Callable[..., Any] | None = None, *args: Any) -> tuple[Callable[..., None], tuple]:
    """``(initializer, initargs)`` for a process pool: :func:`die_with_parent`, then ``init(*args)``.

    Call it in the parent (it records this process's pid), e.g.
    ``ProcessPoolExecutor(..., initializer=start, initargs=start_args)`` with
    ``start, start_args = pool_initializer(init_worker, fonts, rate)``.
    """
    return _start_pool_worker, (os.getpid(), init, *args)


def _start_loader_worker(parent_pid: int, init: Callable[[int], Any] | None, worker_id: int) -> None:
    die_with_parent(parent_pid)
    if init is not None:
        init(worker_id)


def loader_worker_init(init: Callable[[int], Any] | None = None) -> Callable[[int], None]:
    """A DataLoader ``worker_init_fn``: :func:`die_with_parent`, then ``init(worker_id)``; call it in the parent."""
    return functools.partial(_start_loader_worker, os.getpid(), init)
