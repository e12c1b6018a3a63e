"""Prometheus metrics: request counts and latencies per route, index size and query-cache use.

Each app gets its own registry (several apps can live in one process, e.g. in tests).
"""

from __future__ import annotations

import time
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import HttpMiddleware

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The registry and the request metrics of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("muscall_http_requests", "HTTP requests by route, method and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("muscall_http_request_seconds", "HTTP request latency by route and method",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)

        self._live = _LiveCollector()
        self.registry.register(self._live)

    def render(self, live: dict[str, float]) -> bytes:
        """Prometheus text: the request metrics and the service state's ``live`` values (none while loading).

        Called from the event loop (no await inside), so one scrape's values cannot leak into another's.
        """
        self._live.values = live
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    """Gauges and counters of the service state's live values (index size, cache use), set before each scrape."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def collect(self) -> Iterator[Metric]:
        values = self.values
        if not values:
            return
        yield GaugeMetricFamily("muscall_index_tracks", "Live (searchable) tracks in the index",
                                value=values["index_tracks"])
        yield GaugeMetricFamily("muscall_index_vectors", "Vectors stored in the FAISS index",
                                value=values["index_vectors"])
        yield GaugeMetricFamily("muscall_query_cache_entries", "Cached query embeddings",
                                value=values["cache_entries"])
        yield CounterMetricFamily("muscall_query_cache_hits", "Text queries answered from the cache",
                                  value=values["cache_hits"])
        yield CounterMetricFamily("muscall_query_cache_misses", "Text queries embedded by the model",
                                  value=values["cache_misses"])
        if "search_batches" in values:
            yield CounterMetricFamily("muscall_search_batches", "Batches of concurrent text searches answered",
                                      value=values["search_batches"])
            yield CounterMetricFamily("muscall_search_batched_queries", "Text searches answered in batches "
                                      "(divided by muscall_search_batches: the mean batch size)",
                                      value=values["search_batched_queries"])


class MetricsMiddleware(HttpMiddleware):
    """Counts and times every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        super().__init__(app)
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500
        t0 = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or ("unmatched" if status == 404 else "other")
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - t0)
