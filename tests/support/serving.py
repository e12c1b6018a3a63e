"""Start `muscall serve` (or any server command) on a free 127.0.0.1 port for the integration tests, and stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
ADDRESS_IN_USE = "address already in use"  # uvicorn's bind error (errno 98), as the server logs it


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (another process may still take it before it is bound)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(cmd: list[str], log: Path, attempts: int = 5) -> tuple[subprocess.Popen, str]:
    """Start ``cmd --port P`` on a free port and wait until it is ready; retry when another process took P first.

    The port is free when chosen but may be taken before the server binds it, so an "address already in use"
    exit is retried on a fresh port.
    """
    for _ in range(attempts):
        port = free_port()
        with open(log, "wb") as fh:  # the child keeps its own handle
            proc = subprocess.Popen(cmd + ["--port", str(port)], cwd=REPO, stdout=fh, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONPATH": str(REPO)})
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, proc, log)
            return proc, url
        except RuntimeError:
            stop(proc)
            if ADDRESS_IN_USE not in log.read_text(errors="replace").lower():
                raise
    raise RuntimeError(f"server found its port taken {attempts} times:\n{log.read_text(errors='replace')}")


def stop(proc: subprocess.Popen) -> None:
    """Terminate the server (kill it after 20 s) and reap it."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    """Return once ``url``/readyz answers 200; RuntimeError (with the log) when the server exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"muscall serve exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"muscall serve not ready after {timeout} s:\n{log.read_text(errors='replace')}")
