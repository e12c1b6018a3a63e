"""Load generators for scripts/bench_load.py: `wrk` (closed loop, a Lua script for the POST bodies), a small C
open-loop generator compiled with gcc at bench time (fixed request rate, latency from each scheduled send), and an
httpx client used only when wrk is not installed (labelled as such in the table: it is much slower than wrk, so it
measures the client as much as the server).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

OPENLOOP_C = Path(__file__).with_name("load_openloop.c")
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}

# wrk's Lua: each thread numbers its requests from its own offset; "fresh" texts never repeat (all cache misses),
# otherwise the thread cycles through BODIES (cached after their first use)
_LUA = """local bodies = {%(bodies)s}
local fresh, k, tag = %(fresh)s, %(k)d, "%(tag)s"
local words = {"calm", "bright", "dark", "happy", "sad", "energetic", "dreamy", "tense"}
local counter, threads = 0, 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args) counter = (tid or 0) * 1000003 end
function request()
  counter = counter + 1
  local body
  if fresh then
    body = string.format('{"query": "%%s music with %%s, take %%s-%%d", "k": %%d}', words[counter %% 8 + 1],
                         words[math.floor(counter / 8) %% 8 + 1], tag, counter, k)
  else
    body = bodies[counter %% #bodies + 1]
  end
  return wrk.format("POST", "/search/text", {["Content-Type"] = "application/json"}, body)
end
"""


@dataclass
class LoadResult:
    """One load run: throughput, latency percentiles (ms), errors, and how it was driven."""

    tool: str
    connections: int
    requests: int
    seconds: float
    p50: float
    p99: float
    errors: int
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else float("nan")


def have_wrk() -> bool:
    """Whether `wrk` is on the PATH (scripts/install_system_deps.sh --with-bench installs it)."""
    return shutil.which("wrk") is not None


def wrk(url: str, bodies: list[dict], connections: int, seconds: float, work: Path, fresh: bool, tag: str,
        k: int = 10) -> LoadResult:
    """Closed-loop load with wrk: ``connections`` keep-alive connections, each sends its next request as soon as
    the last one is answered; ``fresh`` makes every query text new (no query-cache hits)."""
    lua = work / f"wrk-{tag}.lua"
    lua.write_text(_LUA % {"bodies": ", ".join(_lua_string(json.dumps(b)) for b in bodies),
                           "fresh": "true" if fresh else "false", "k": k, "tag": tag})
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "30s",
           "-s", str(lua), f"{url}/search/text"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out, connections)


def parse_wrk(text: str, connections: int) -> LoadResult:
    """Throughput, p50/p99 and errors from wrk's ``--latency`` report."""
    pct = {m.group(1): float(m.group(2)) * _UNITS[m.group(3)]
           for m in re.finditer(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)}
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    if done is None or set(pct) != {"50", "99"}:
        raise RuntimeError(f"cannot read wrk's report:\n{text}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(non2xx.group(1)) if non2xx else 0
    return LoadResult("wrk", connections, int(done.group(1)), float(done.group(2)) * _UNITS[done.group(3)] / 1000,
                      pct["50"], pct["99"], errors)


def _lua_string(text: str) -> str:
    """A Lua long-bracket string literal (no escapes needed)."""
    return f"[==[{text}]==]"


def build_openloop(work: Path) -> Path | None:
    """Compile the open-loop generator into ``work``; None without gcc."""
    if shutil.which("gcc") is None:
        return None
    exe = work / "load_openloop"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(OPENLOOP_C)], check=True)
    return exe


def openloop(exe: Path, port: int, bodies: list[dict], rate: float, seconds: float, connections: int,
             work: Path) -> LoadResult:
    """Requests sent at ``rate`` per second over up to ``connections`` connections, whatever the answers' pace;
    each latency counts from its scheduled send, so queueing inside the client counts against the server."""
    reqs = work / "openloop-requests.bin"
    with open(reqs, "wb") as fh:
        for body in bodies:
            data = json.dumps(body).encode()
            fh.write(b"POST /search/text HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s\0" % (len(data), data))
    out = subprocess.run([str(exe), "127.0.0.1", str(port), f"{rate:g}", f"{seconds:g}", str(connections),
                          str(reqs)], capture_output=True, text=True, check=True).stdout
    got = {k: float(v) for k, v in re.findall(r"(\w+)=([-\d.]+)", out)}
    lost = int(got["scheduled"] - got["done"])  # never answered before the drain deadline
    return LoadResult("open loop", connections, int(got["done"]), got["wall_s"], got["p50"], got["p99"],
                      int(got["errors"]) + lost, note=f"{rate:g} req/s offered")


def httpx_load(url: str, bodies: list[dict], connections: int, seconds: float) -> LoadResult:
    """Fallback without wrk: ``connections`` httpx clients in one asyncio loop, each sending its next request when
    the last is answered (the client's own Python cost is in these numbers)."""
    return asyncio.run(_httpx_load(url, bodies, connections, seconds))


async def _httpx_load(url: str, bodies: list[dict], connections: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=NODELAY)
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=60.0) as client:
        t0 = time.perf_counter()

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() - t0 < seconds:
                start = time.perf_counter()
                try:
                    ok = (await client.post("/search/text", json=bodies[i % len(bodies)])).status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok
                i += connections

        await asyncio.gather(*(worker(c) for c in range(connections)))
        wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return LoadResult("httpx (no wrk)", connections, len(lat), wall, float(np.percentile(lat, 50)),
                      float(np.percentile(lat, 99)), errors)


def cache_counts(url: str) -> tuple[float, float]:
    """The server's query-cache (hits, misses) from /metrics."""
    text = httpx.get(url + "/metrics", timeout=30).text
    hits = re.search(r"^muscall_query_cache_hits(?:_total)? ([\d.e+]+)$", text, re.M)
    misses = re.search(r"^muscall_query_cache_misses(?:_total)? ([\d.e+]+)$", text, re.M)
    return (float(hits.group(1)) if hits else float("nan"), float(misses.group(1)) if misses else float("nan"))


def section(connections: int, ready: dict, build_s: float, rows: list, local: dict[str, np.ndarray],
            loads: list[float]) -> str:
    """One index size's table: each server's load runs, then the in-process cost of the same work."""
    lines = ["| server | query texts | load | connections | req/s | p50 ms | p99 ms | errors | cache hits |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for label, what, r, hits in rows:
        load = f"{r.tool}, {r.note}" if r.note else r.tool
        lines.append(f"| {label} | {what} | {load} | {r.connections} | {r.rate:,.0f} | {r.p50:.2f} | {r.p99:.2f} "
                     f"| {r.errors} | {hits:.0%} |")
    for what, lat in local.items():
        ms = lat * 1000
        lines.append(f"| in-process (embed_text + search) | {what} | one at a time | - | {len(ms) / lat.sum():,.0f} "
                     f"| {np.percentile(ms, 50):.2f} | {np.percentile(ms, 99):.2f} | 0 | - |")
    in_p50 = float(np.percentile(local["cached texts"], 50) * 1000)
    overhead = [f"{label} {r.p50 - in_p50:.2f} ms" for label, what, r, _ in rows
                if what == "cached texts" and r.connections == 1 and r.tool != "open loop"]
    best = {label: r for label, what, r, _ in rows if what == "cached texts" and r.connections == connections
            and r.tool != "open loop"}
    title = (f"#### {ready['tracks']:,} tracks, {ready['factory']} index, dim {ready['dim']}"
             + (f" (built in {build_s:.0f} s)" if build_s else ""))
    notes = (f"HTTP + service overhead per request at p50 (one connection, cached texts, minus in-process): "
             f"{', '.join(overhead)}. Cached {connections}-connection throughput: "
             + ", ".join(f"{label} {r.rate:,.0f} req/s" for label, r in best.items())
             + f". Load average (1 min) at the start and end of each server's runs: "
             + ", ".join(f"{x:.1f}" for x in loads) + ".")
    return f"{title}\n\n{notes}\n\n" + "\n".join(lines) + "\n"
