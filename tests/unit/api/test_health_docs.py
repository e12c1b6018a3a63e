"""/healthz, /readyz, /metrics, the OpenAPI docs and the web page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api import create_app

ENDPOINTS = {("post", "/search/text"), ("post", "/search/audio"), ("get", "/tracks/{track_id}"),
             ("get", "/tracks/{track_id}/audio"), ("get", "/tracks/{track_id}/similar"), ("post", "/tracks"),
             ("delete", "/tracks/{track_id}"), ("post", "/tag"), ("get", "/labels"), ("post", "/score"),
             ("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics")}


def test_health_and_readiness(client, shared_state):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["tracks"] == shared_state.catalog.ntotal and ready["dim"] == 32
    assert ready["moments"] and ready["label_sets"] == ["genres", "moods"] and ready["heads"] is False


def test_not_ready_until_the_lifespan_loaded_everything(shared_state):
    app = create_app(shared_state.settings)
    raw = TestClient(app)  # not entered: the lifespan has not run
    assert raw.get("/healthz").status_code == 200
    r = raw.get("/readyz")
    assert r.status_code == 503 and "loading" in r.json()["detail"]
    r = raw.post("/search/text", json={"query": "x"})
    assert r.status_code == 503 and "/readyz" in r.json()["detail"]


def test_metrics_count_requests_and_report_the_index(client, shared_state):
    client.post("/search/text", json={"query": "metrics probe", "k": 1})
    client.get("/tracks/unknown-for-metrics")
    text = client.get("/metrics").text
    assert 'muscall_http_requests_total{method="POST",route="/search/text",status="200"}' in text
    assert 'route="/tracks/{track_id:path}",status="404"' in text
    assert 'muscall_http_request_seconds_bucket{le="0.005",method="POST",route="/search/text"}' in text
    assert f"muscall_index_tracks {float(shared_state.catalog.ntotal)}" in text
    assert "muscall_query_cache_misses_total" in text
    batches = float(re.search(r"^muscall_search_batches_total (\S+)$", text, re.M).group(1))
    batched = float(re.search(r"^muscall_search_batched_queries_total (\S+)$", text, re.M).group(1))
    assert 1 <= batches <= batched  # the text search went through the batcher
    assert text.count("# TYPE muscall_index_tracks gauge") == 1  # one live collector, however many scrapes
    assert client.get("/no-such-page").status_code == 404
    assert 'route="unmatched",status="404"' in client.get("/metrics").text


def test_openapi_documents_every_endpoint_with_examples(client):
    spec = client.get("/openapi.json").json()
    found = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert ENDPOINTS <= found
    schemas = spec["components"]["schemas"]
    for name in ("TextSearchRequest", "SearchResponse", "SearchFilters", "Track", "TagResponse", "ScoreResponse"):
        assert schemas[name].get("examples"), name
    errors = spec["paths"]["/search/text"]["post"]["responses"]["422"]
    assert errors["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "ApiKey" in spec["components"]["securitySchemes"]
    assert spec["paths"]["/tracks"]["post"]["security"] == [{"ApiKey": []}]
    assert client.get("/docs").status_code == 200


def test_the_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for needle in ('id="query"', 'for="query"', 'aria-live="polite"', 'id="genre"', 'type="file"',
                   'name="viewport"', "/static/app.js", "/static/style.css", "More like this"):
        assert needle in html, needle
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "/search/text" in js.text and "/similar" in js.text
    assert "@media" in client.get("/static/style.css").text
