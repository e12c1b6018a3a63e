"""Kill a job with SIGKILL while its workers run, and tell whether any of its processes outlived it (Linux /proc)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

REPO = Path(__file__).resolve().parents[2]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of ``pid``, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1])


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None and st[0] != "Z":
            parents[int(entry.name)] = st[1]
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """The ones of ``pids`` still running (zombies count as gone: they hold no memory)."""
    return {p for p in pids if (st := _stat(p)) is not None and st[0] != "Z"}


def start(args: Sequence[str], log: Path) -> subprocess.Popen:
    """``python -m muscall.cli.main ARGS`` with this checkout on the path, its output in ``log``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "muscall.cli.main", *args], stdout=out,
                                stderr=subprocess.STDOUT, env=env, cwd=REPO)


def kill_mid_run(args: Sequence[str], log: Path, workers: int, ready: Callable[[], bool] = lambda: True,
                 timeout: float = 120.0, grace: float = 3.0) -> set[int]:
    """Start the job, SIGKILL it once ``workers`` processes run below it and ``ready()``; return its survivors.

    Survivors are the processes that were below it when it died and still run ``grace`` seconds later (3 s:
    sooner than the 5 s after which an idle torch DataLoader worker notices a dead parent by itself).
    """
    proc = start(args, log)
    deadline = time.monotonic() + timeout
    try:
        while True:
            below = descendants(proc.pid)
            if len(below) >= workers and ready():
                break
            assert proc.poll() is None, f"the job ended (exit {proc.returncode}) before it could be killed:\n" \
                                        f"{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no {workers} workers within {timeout} s:\n{log.read_text()[-3000:]}"
            time.sleep(0.02)
        below = descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    end = time.monotonic() + grace
    while alive(below) and time.monotonic() < end:
        time.sleep(0.1)
    survivors = alive(below)
    for pid in survivors:  # leave nothing behind for the next test
        os.kill(pid, signal.SIGKILL)
    return survivors


def finish(args: Sequence[str], log: Path, timeout: float = 300.0) -> str:
    """Run the job to the end; its output (the test fails on a non-zero exit)."""
    proc = start(args, log)
    try:
        code = proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, f"exit {code}:\n{log.read_text()[-3000:]}"
    return log.read_text()
