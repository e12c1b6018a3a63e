"""`muscall serve --workers 2` for real: both worker processes share the index, and a track added or removed
through one is found (or not) by searches on both from the next request on."""

from __future__ import annotations

import sys
import time

import httpx
import pytest

from api.workers import GENERATION_HEADER, WORKER_HEADER
from tests.support import serving
from tests.support.tiny_service import build_tone_index, make_tiny_checkpoint, wav_bytes

pytestmark = pytest.mark.slow
KEY = "workers-test-key"


@pytest.fixture
def two_workers(tmp_path, monkeypatch):
    """Base URL of `muscall serve --workers 2` over a tiny index."""
    ckpt = make_tiny_checkpoint(tmp_path / "ckpt")
    index_dir, _ = build_tone_index(tmp_path / "world", ckpt)
    monkeypatch.setenv("MUSCALL_API_KEY", KEY)
    cmd = [sys.executable, "-m", "muscall.cli.main", "serve", "--catalog", str(index_dir), "--checkpoint", str(ckpt),
           "--workers", "2", "--log-level", "warning"]
    proc, url = serving.serve(cmd, tmp_path / "server.log")
    try:
        yield url
    finally:
        serving.stop(proc)


def _search_each_worker(url: str, want_both: float = 60.0) -> dict[str, list[tuple[set[str], str]]]:
    """Search on new connections until both workers answered (or ``want_both`` s passed); per worker pid, the
    result ids and index generation of each of its answers."""
    seen: dict[str, list[tuple[set[str], str]]] = {}
    deadline = time.monotonic() + want_both
    while len(seen) < 2 and time.monotonic() < deadline:
        r = httpx.post(url + "/search/text", json={"query": "music", "k": 50}, timeout=30)  # a new connection
        assert r.status_code == 200, r.text
        ids = {h["track"]["track_id"] for h in r.json()["results"]}
        seen.setdefault(r.headers[WORKER_HEADER], []).append((ids, r.headers[GENERATION_HEADER]))
    assert len(seen) == 2, f"only worker(s) {sorted(seen)} answered in {want_both:.0f} s"
    return seen


def test_writes_reach_every_worker(two_workers):
    url, headers = two_workers, {"X-API-Key": KEY}
    before = _search_each_worker(url)
    assert all(ids == next(iter(before.values()))[0][0] for answers in before.values() for ids, _ in answers)
    r = httpx.post(url + "/tracks", files={"file": ("n.flac", wav_bytes(2.0, freq=345.0, fmt="FLAC"), "audio/flac")},
                   data={"track_id": "new/one"}, headers=headers, timeout=60)
    assert r.status_code == 201, r.text
    after = _search_each_worker(url)
    assert set(after) == set(before)
    for pid, answers in after.items():  # every answer after the add, from either worker, has it: no delay at all
        assert all("new/one" in ids and gen == "2" for ids, gen in answers), (pid, answers)
    r = httpx.delete(url + "/tracks/new%2Fone", headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    for pid, answers in _search_each_worker(url).items():
        assert all("new/one" not in ids and gen == "3" for ids, gen in answers), (pid, answers)
