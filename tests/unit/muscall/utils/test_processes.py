"""Worker processes die with their parent (Linux parent-death signal), and one started too late exits at once."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
import time

import pytest

from muscall.utils.processes import PARENT_GONE_EXIT, die_with_parent, loader_worker_init, pool_initializer
from tests.support.orphans import alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux only")

PARENT = textwrap.dedent('''
    import os, sys, time
    from muscall.utils.processes import die_with_parent
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        die_with_parent(parent)
        time.sleep(60)
        os._exit(0)
    print(child, flush=True)
    time.sleep(60)
''')


def test_worker_dies_when_its_parent_is_killed():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, env=env)
    child = int(parent.stdout.readline())
    time.sleep(0.5)  # the child has armed the signal
    assert alive({child}) == {child}
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 3
    while alive({child}) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive({child}) == set()


def test_worker_whose_parent_is_already_gone_exits():
    proc = mp.get_context("fork").Process(target=die_with_parent, args=(os.getpid() + 10**7,))  # not its parent
    proc.start()
    proc.join(10)
    assert proc.exitcode == PARENT_GONE_EXIT


def _record(path: str, *args: object) -> None:
    with open(path, "w") as f:
        f.write(repr(args))


def test_pool_and_loader_initializers_run_the_job_initializer_after_arming(tmp_path):
    ctx = mp.get_context("fork")
    start, start_args = pool_initializer(_record, str(tmp_path / "pool"), 1, "a")
    loader_init = loader_worker_init(lambda worker: _record(str(tmp_path / "loader"), worker))
    for target, args in ((start, start_args), (loader_init, (3,))):
        proc = ctx.Process(target=target, args=args)
        proc.start()
        proc.join(10)
        assert proc.exitcode == 0
    assert (tmp_path / "pool").read_text() == "(1, 'a')"
    assert (tmp_path / "loader").read_text() == "(3,)"
