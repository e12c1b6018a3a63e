"""Several workers over one index folder (as ``muscall serve --workers N`` runs them): a write made through any
worker is seen by every worker's next request; responses name the worker and the index generation."""

from __future__ import annotations

from api.workers import GENERATION_HEADER, WORKER_HEADER


def _ids(client, query: str = "music", k: int = 50) -> set[str]:
    r = client.post("/search/text", json={"query": query, "k": k})
    assert r.status_code == 200, r.text
    return {h["track"]["track_id"] for h in r.json()["results"]}


def test_a_write_through_one_worker_reaches_the_others(workers, wav, api_key):
    (a, state_a), (b, state_b) = workers(2)
    headers = {"X-API-Key": api_key}
    first = b.get("/readyz")
    assert first.headers[GENERATION_HEADER] == "1" and first.headers[WORKER_HEADER].isdigit()
    assert state_a.catalog is not state_b.catalog  # two opened catalogs, one mapped file
    data = wav(2.0, freq=345.0, fmt="FLAC")
    assert a.post("/tracks", files={"file": ("n.flac", data, "audio/flac")}, data={"track_id": "new/one"},
                  headers=headers).status_code == 201
    r = b.post("/search/audio", files={"file": ("q.flac", data, "audio/flac")}, data={"k": "1"})
    assert r.json()["results"][0]["track"]["track_id"] == "new/one" and r.headers[GENERATION_HEADER] == "2"
    assert b.get("/tracks/new%2Fone").status_code == 200 and "new/one" in _ids(b)
    assert b.delete("/tracks/new%2Fone", headers=headers).status_code == 200
    assert a.get("/tracks/new%2Fone").status_code == 404 and "new/one" not in _ids(a)
    assert b.delete("/tracks/jazz%2Ftone0.wav", headers=headers).status_code == 200
    assert a.post("/tracks", files={"file": ("n.flac", data, "audio/flac")}, data={"track_id": "jazz/tone0.wav"},
                  headers=headers).status_code == 201  # a removed id is free again on the other worker
    assert _ids(a) == _ids(b) and state_a.live.generation == state_b.live.generation == 5


def test_a_taken_id_is_refused_by_every_worker(workers, wav, api_key):
    (a, _), (b, state_b) = workers(2)
    headers = {"X-API-Key": api_key}
    files = {"file": ("n.flac", wav(1.0, fmt="FLAC"), "audio/flac")}
    assert a.post("/tracks", files=files, data={"track_id": "x"}, headers=headers).status_code == 201
    r = b.post("/tracks", files=files, data={"track_id": "x"}, headers=headers)
    assert r.status_code == 409 and "already in the catalog" in r.json()["detail"]
    assert state_b.catalog.ntotal == 9


def test_a_genre_added_through_one_worker_joins_the_others_menu(workers, wav, api_key):
    (a, state_a), (b, state_b) = workers(2)
    before = state_b.genres()  # read and kept until the catalog changes
    assert "zydeco" not in before
    files = {"file": ("n.flac", wav(1.0, fmt="FLAC"), "audio/flac")}
    assert a.post("/tracks", files=files, data={"track_id": "z", "attributes": '{"genre": "zydeco"}'},
                  headers={"X-API-Key": api_key}).status_code == 201
    assert "zydeco" in state_a.genres()
    assert b.get("/readyz").status_code == 200  # b's next request maps the new save
    assert "zydeco" in state_b.genres() and set(before) < set(state_b.genres())
