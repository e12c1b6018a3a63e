"""Batched text search: the same answers as one query at a time, errors kept to their own query, real batching."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import api.services.batcher as batcher_module
from api.services.batcher import SearchBatcher, TextAnswer, TextQuery, answer_batch
from api.services.search import embed_many, make_filter, search
from index import CatalogError
from muscall.errors import MuscallError


def _alone(state, q: TextQuery) -> list[tuple[str, float]]:
    """(track id, score) of ``q`` searched by itself, its embedding made alone (no cache, no batch)."""
    items = search(state, embed_many(state, [q.text])[0], q.k, q.offset, q.flt, q.with_moment)
    return [(i.track.track_id, i.score) for i in items]


def _check_same(state, q: TextQuery, answer: TextAnswer) -> None:
    expected = _alone(state, q)
    assert [i.track.track_id for i in answer.items] == [t for t, _ in expected]
    np.testing.assert_allclose([i.score for i in answer.items], [s for _, s in expected], atol=1e-5)


def test_batched_answers_equal_one_by_one(shared_state):
    queries = [TextQuery("batch: calm jazz", 5), TextQuery("batch: loud rock", 5),
               TextQuery("batch: calm jazz", 3, offset=2),  # a repeat, another page (another search depth)
               TextQuery("batch: soft ambient", 4, flt=make_filter(genre="rock")),
               TextQuery("batch: bright tones", 2, flt=make_filter(tags_any=["high"])),
               TextQuery("batch: high tones", 5, with_moment=True)]
    answers = answer_batch(shared_state, queries)
    for q, answer in zip(queries, answers):
        assert isinstance(answer, TextAnswer), answer
        _check_same(shared_state, q, answer)
    assert not answers[0].cached and answers[5].items[0].moment is not None
    assert all(i.track.attributes["genre"] == "rock" for i in answers[3].items) and answers[3].items
    again = answer_batch(shared_state, queries[:2])
    assert all(a.cached for a in again)  # the batch's embeddings went into the query cache


def test_a_failing_query_fails_only_its_own_request(shared_state, monkeypatch):
    real = batcher_module.embed_many

    def fragile(state, texts):
        if any("boom" in t for t in texts):
            raise MuscallError("the text tower cannot embed 'boom'")
        return real(state, texts)

    monkeypatch.setattr(batcher_module, "embed_many", fragile)
    queries = [TextQuery("fail: calm jazz", 4), TextQuery("fail: boom", 4),
               TextQuery("fail: rock", 4, flt=make_filter(attributes={"mood": "calm"})),  # not filterable
               TextQuery("fail: ambient", 4)]
    answers = answer_batch(shared_state, queries)
    assert isinstance(answers[1], MuscallError) and "boom" in str(answers[1])
    assert isinstance(answers[2], CatalogError) and "mood" in str(answers[2])
    for i in (0, 3):
        _check_same(shared_state, queries[i], answers[i])


def test_a_failing_group_search_is_retried_query_by_query(shared_state, monkeypatch):
    catalog = shared_state.catalog
    real = type(catalog).search_tracks

    def no_batches(self, queries, k=10, flt=None):
        if len(queries) > 1:
            raise RuntimeError("batched search broke")
        return real(self, queries, k, flt)

    monkeypatch.setattr(type(catalog), "search_tracks", no_batches)
    queries = [TextQuery("group: calm", 3), TextQuery("group: bright", 3)]
    for q, answer in zip(queries, answer_batch(shared_state, queries)):
        _check_same(shared_state, q, answer)


def test_the_batcher_gathers_queries_that_queue_while_it_works(shared_state, monkeypatch):
    sizes: list[int] = []
    release = threading.Event()
    real = batcher_module.answer_batch

    def recording(state, queries):
        sizes.append(len(queries))
        release.wait(10)  # the first batch holds the thread while the others queue up
        return real(state, queries)

    monkeypatch.setattr(batcher_module, "answer_batch", recording)
    batcher = SearchBatcher(shared_state, max_batch=3, max_wait_ms=0)
    queries = [TextQuery(f"queue: tone {i}", 3) for i in range(5)] + [
        TextQuery("queue: bad", 3, flt=make_filter(attributes={"mood": "calm"}))]

    async def run() -> list:
        first = asyncio.ensure_future(batcher.search(queries[0]))
        while not sizes:
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(batcher.search(q)) for q in queries[1:]]
        await asyncio.sleep(0.01)  # every task has queued its query
        release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    try:
        answers = asyncio.run(run())
    finally:
        release.set()
        batcher.close()
    assert sizes == [1, 3, 2] and (batcher.batches, batcher.queries) == (3, 6)
    for q, answer in zip(queries[:5], answers[:5]):
        _check_same(shared_state, q, answer)
    assert isinstance(answers[5], CatalogError)


def test_bad_batch_settings_are_refused(shared_state):
    with pytest.raises(MuscallError, match="search_batch"):
        SearchBatcher(shared_state, max_batch=0)
