"""Concurrent text searches answered together: one text-tower forward and one FAISS search per batch.

Each process (each ``muscall serve`` worker) has one ``SearchBatcher``: a queue and one thread. The thread takes
the first waiting query and everything queued behind it, up to ``max_batch``; while the previous batch held more
than one query (the service is under load) it also waits up to ``max_wait_ms`` for more, so a lone request never
waits. A batch is answered by ``answer_batch``: the query-embedding cache first, one forward pass for the texts it
misses, one catalog search (and one metadata fetch) per group of unfiltered queries that rank to the same depth,
filtered queries one by one (each has its own allowed set). A failing query fails only its own request: when a
batched step raises, its queries are retried one by one.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from api.services.search import ScoredTrack, embed_many, page_of, readings_of, search, search_depth
from api.services.state import ServiceState, thread_setup
from index import TrackFilter
from muscall.errors import MuscallError

log = logging.getLogger(__name__)
Embedded = tuple[np.ndarray, bool]  # unit query vector, whether it came from the cache


@dataclass(frozen=True)
class TextQuery:
    """One text search request."""

    text: str
    k: int = 10
    offset: int = 0
    flt: TrackFilter | None = None
    with_moment: bool = False


@dataclass
class TextAnswer:
    """The page of one text search, whether its embedding came from the cache, and how the query was read (None
    when that could not be said)."""

    items: list[ScoredTrack]
    cached: bool
    reading: dict[str, Any] | None = None  # search.readings_of


def answer_batch(state: ServiceState, queries: Sequence[TextQuery]) -> list[TextAnswer | Exception]:
    """Answer every query, in order; a query that fails gets its exception instead of an answer."""
    thread_setup()
    vectors = embed_batch(state, [q.text for q in queries])
    out: list[TextAnswer | Exception | None] = [v if isinstance(v, Exception) else None for v in vectors]
    groups: dict[int, list[int]] = {}
    for i, (q, v) in enumerate(zip(queries, vectors)):
        if isinstance(v, Exception):
            continue
        if q.flt is None:
            groups.setdefault(search_depth(state, q.offset + q.k, q.text), []).append(i)
        else:
            out[i] = _answer_one(state, q, v)
    for want, members in groups.items():
        _answer_group(state, [queries[i] for i in members], [vectors[i] for i in members], want, members, out)
    answered = [(q, a) for q, a in zip(queries, out) if isinstance(a, TextAnswer)]
    try:
        for (_, answer), reading in zip(answered, readings_of(state, [q.text for q, _ in answered])):
            answer.reading = reading
    except Exception:  # noqa: BLE001 - the reading explains the results, it must not lose them (it stays None)
        log.exception("could not describe how %d queries were read", len(answered))
    return out  # type: ignore[return-value]  # every slot is filled above


def embed_batch(state: ServiceState, texts: Sequence[str]) -> list[Embedded | Exception]:
    """Unit embeddings of ``texts``: cached ones from the cache, the others in one forward pass (then cached)."""
    out: list[Embedded | Exception | None] = [None] * len(texts)
    missing: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        vec = state.text_cache.get(text)
        if vec is None:
            missing.setdefault(text, []).append(i)
        else:
            out[i] = (vec, True)
    if not missing:
        return out  # type: ignore[return-value]
    fresh = list(missing)
    try:
        vecs: list[np.ndarray | Exception] = list(embed_many(state, fresh))
    except Exception:  # noqa: BLE001 - find the text that fails, so only its request fails
        vecs = [_embed_alone(state, text) for text in fresh]
    for text, vec in zip(fresh, vecs):
        if not isinstance(vec, Exception):
            vec.setflags(write=False)  # shared by every request that hits the cache
            state.text_cache.put(text, vec)
        for i in missing[text]:
            out[i] = vec if isinstance(vec, Exception) else (vec, False)
    return out  # type: ignore[return-value]


def _embed_alone(state: ServiceState, text: str) -> np.ndarray | Exception:
    """One text's embedding, or the exception it raises."""
    try:
        return embed_many(state, [text])[0]
    except Exception as err:  # noqa: BLE001 - handed to that text's request
        return err


def _answer_one(state: ServiceState, q: TextQuery, vec: Embedded) -> TextAnswer | Exception:
    """One query searched alone."""
    try:
        return TextAnswer(search(state, vec[0], q.k, q.offset, q.flt, q.with_moment, text=q.text), vec[1])
    except Exception as err:  # noqa: BLE001 - handed to this query's request
        return err


def _answer_group(state: ServiceState, queries: list[TextQuery], vectors: list[Embedded], want: int,
                  slots: list[int], out: list) -> None:
    """Unfiltered queries ranked to the same depth: one catalog search; one by one if it fails."""
    if len(queries) == 1:
        out[slots[0]] = _answer_one(state, queries[0], vectors[0])
        return
    try:
        hits = state.catalog.search_tracks(np.stack([v[0] for v in vectors]).astype(np.float32), want)
    except Exception:  # noqa: BLE001 - retried alone below, so each query gets its own error
        for q, v, slot in zip(queries, vectors, slots):
            out[slot] = _answer_one(state, q, v)
        return
    for q, v, slot, ranked in zip(queries, vectors, slots, hits):
        try:
            out[slot] = TextAnswer(page_of(state, ranked, v[0], q.k, q.offset, q.with_moment, text=q.text), v[1])
        except Exception as err:  # noqa: BLE001 - e.g. an unreadable window file fails this result only
            out[slot] = err


@dataclass
class _Pending:
    """A queued query and where its answer goes."""

    query: TextQuery
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


class SearchBatcher:
    """A queue of text searches and the thread that answers them in batches (one per process)."""

    def __init__(self, state: ServiceState, max_batch: int = 32, max_wait_ms: float = 2.0):
        if max_batch < 1 or max_wait_ms < 0:
            raise MuscallError(f"serve.search_batch={max_batch}, serve.search_batch_wait_ms={max_wait_ms}: use a "
                               "batch of 1 or more queries and a wait of 0 ms or more")
        self.state = state
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.batches = 0
        self.queries = 0
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="muscall-search-batcher", daemon=True)
        self._thread.start()

    async def search(self, query: TextQuery) -> TextAnswer:
        """Queue ``query`` and wait for its answer (raises what the query raised)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Pending(query, loop, future))
        return await future

    def close(self, timeout: float = 10.0) -> bool:
        """Answer what is queued, then stop the thread; False when it is still busy after ``timeout``."""
        self._queue.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        """Take batches off the queue until ``close``."""
        last = 1
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._gather(first, self.max_wait if last > 1 else 0.0)
            last = len(batch)
            self._answer(batch)
            if stop:
                return

    def _gather(self, first: _Pending, wait: float) -> tuple[list[_Pending], bool]:
        """``first`` and what else is queued (waiting up to ``wait`` s for more); whether ``close`` was seen."""
        batch = [first]
        deadline = time.monotonic() + wait
        while len(batch) < self.max_batch:
            left = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _answer(self, batch: list[_Pending]) -> None:
        """Answer a batch and hand each answer to its waiting request, one wake-up per event loop."""
        try:
            answers: list[TextAnswer | Exception] = answer_batch(self.state, [p.query for p in batch])
        except Exception as err:  # noqa: BLE001 - a bug here must still answer every request
            log.exception("search batch of %d failed", len(batch))
            answers = [err] * len(batch)
        self.batches += 1
        self.queries += len(batch)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, TextAnswer | Exception]]] = {}
        for pending, answer in zip(batch, answers):
            by_loop.setdefault(pending.loop, []).append((pending.future, answer))
        for loop, pairs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, pairs)
            except RuntimeError:  # that event loop has closed: nobody waits for these answers
                log.debug("dropped %d answers for a closed event loop", len(pairs))


def _settle(pairs: list[tuple[asyncio.Future, TextAnswer | Exception]]) -> None:
    """Set each waiting future (in its event loop) unless its request was cancelled."""
    for future, answer in pairs:
        if future.done():
            continue
        if isinstance(answer, Exception):
            future.set_exception(answer)
        else:
            future.set_result(answer)
