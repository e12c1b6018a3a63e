"""POST /tracks and DELETE /tracks/{id}: the API key, searchable at once, persisted, clear conflicts."""

from __future__ import annotations

import json

import pytest

import index.persist
from index import open_catalog


def _add(client, data: bytes, key: str | None, **fields):
    headers = {"X-API-Key": key} if key is not None else {}
    return client.post("/tracks", files={"file": ("new.flac", data, "audio/flac")}, data=fields, headers=headers)


def test_writes_need_the_right_api_key(writable, wav, api_key):
    client, state = writable()
    data = wav(1.0, freq=300.0, fmt="FLAC")
    r = _add(client, data, None, track_id="x")
    assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]
    r = _add(client, data, "wrong", track_id="x")
    assert r.status_code == 401 and "wrong API key" in r.json()["detail"]
    assert client.delete("/tracks/jazz%2Ftone0.wav", headers={"X-API-Key": "nope"}).status_code == 401
    assert state.catalog.ntotal == 8
    off, _ = writable(api_key=None)
    r = _add(off, data, api_key, track_id="x")
    assert r.status_code == 403 and "--api-key" in r.json()["detail"]


def test_reads_can_be_protected(writable, api_key):
    client, _ = writable(protect_reads=True)
    body = {"query": "jazz", "k": 2}
    assert client.post("/search/text", json=body).status_code == 401
    assert client.post("/search/text", json=body, headers={"X-API-Key": api_key}).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_added_track_is_searchable_stored_and_persisted(writable, wav, api_key):
    client, state = writable()
    data = wav(3.0, freq=300.0, fmt="FLAC")
    r = _add(client, data, api_key, track_id="mine/new one", title="New one", tags="calm, piano",
             attributes=json.dumps({"genre": "jazz", "mood": "calm"}))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["track_id"] == "mine/new one" and body["duration"] == pytest.approx(3.0)
    assert body["tags"] == ["calm", "piano"] and body["attributes"] == {"genre": "jazz", "mood": "calm"}
    found = client.post("/search/audio", files={"file": ("q.flac", data, "audio/flac")},
                        data={"k": "1", "with_moment": "true"}).json()["results"][0]
    assert found["track"]["track_id"] == "mine/new one" and found["score"] == pytest.approx(1.0, abs=1e-4)
    assert found["moment"] is not None  # its window embeddings were kept
    assert client.get(body["audio_url"]).content == data
    assert "jazz" in client.get("/labels").json()["genres"]
    with open_catalog(state.settings.index_dir) as saved:  # acknowledged = saved
        assert saved.ntotal == 9 and saved.db.ids_for(["mine/new one"]).size == 1
        stored = saved.tracks(saved.db.ids_for(["mine/new one"]))[0].attributes
    assert len(stored["chroma"]) == 12 and "chroma" not in body["attributes"]  # for key-aware search, not shown


def test_generated_ids_and_bad_metadata(writable, wav, api_key):
    client, _ = writable()
    data = wav(1.0, freq=500.0)
    r = client.post("/tracks", files={"file": ("a.wav", data, "audio/wav")}, headers={"X-API-Key": api_key})
    assert r.status_code == 201 and r.json()["track_id"].startswith("upload-")
    for attrs, needle in (("{bad", "not valid JSON"), ("[1, 2]", "JSON object"), ('{"a": {"b": 1}}', "attributes.a"),
                          ('{"x": NaN}', "NaN"), ('{"window_starts": [0]}', "window_starts"),
                          ('{"chroma": [0.5, 0.5]}', "chroma")):
        r = _add(client, data, api_key, attributes=attrs)
        assert r.status_code == 422 and needle in r.json()["detail"], (attrs, r.text)
    r = _add(client, b"not audio", api_key, track_id="junk")
    assert r.status_code == 422 and "not a readable audio file" in r.json()["detail"]
    assert client.get("/tracks/junk").status_code == 404


def test_taken_ids_conflict(writable, wav, api_key):
    client, state = writable()
    r = _add(client, wav(1.0, fmt="FLAC"), api_key, track_id="jazz/tone0.wav")
    assert r.status_code == 409 and "already in the catalog" in r.json()["detail"]
    assert state.catalog.ntotal == 8
    audio = state.settings.media / "audio"
    assert not audio.exists() or not any(audio.iterdir())  # nothing stored for a refused add


def test_removed_track_is_gone_and_stays_gone(writable, wav, api_key):
    client, state = writable()
    headers = {"X-API-Key": api_key}
    r = client.delete("/tracks/jazz%2Ftone0.wav", headers=headers)
    assert r.status_code == 200 and r.json() == {"track_id": "jazz/tone0.wav", "removed": True}
    assert client.get("/tracks/jazz%2Ftone0.wav").status_code == 404
    ids = [h["track"]["track_id"] for h in client.post("/search/text", json={"query": "x", "k": 8}).json()["results"]]
    assert "jazz/tone0.wav" not in ids and len(ids) == 7
    assert client.delete("/tracks/jazz%2Ftone0.wav", headers=headers).status_code == 404
    with open_catalog(state.settings.index_dir) as saved:
        assert saved.ntotal == 7 and saved.db.ids_for(["jazz/tone0.wav"]).size == 0
    added = _add(client, wav(1.0, fmt="FLAC"), api_key, track_id="tmp").json()
    audio = state.settings.media / "audio"
    assert len(list(audio.iterdir())) == 1
    assert client.delete("/tracks/tmp", headers=headers).status_code == 200
    assert not list(audio.iterdir()) and state.windows.get(added["track_id"]) is None  # uploads are deleted too


def test_a_server_that_does_not_persist_refuses_writes(writable, wav, api_key):
    client, state = writable(workers=2)
    state.settings.persist = False
    r = _add(client, wav(1.0, fmt="FLAC"), api_key, track_id="x")
    assert r.status_code == 409 and "persist=False" in r.json()["detail"]
    assert client.delete("/tracks/jazz%2Ftone0.wav", headers={"X-API-Key": api_key}).status_code == 409
    assert state.catalog.ntotal == 8 and client.get("/readyz").json()["writable"] is False


def test_a_failed_save_changes_nothing(writable, wav, api_key, monkeypatch):
    client, state = writable()

    def broken(catalog, directory):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index.persist, "_save_unlocked", broken)
    r = _add(client, wav(1.0, fmt="FLAC"), api_key, track_id="doomed")
    assert r.status_code == 503 and "nothing was changed" in r.json()["detail"]
    assert client.get("/tracks/doomed").status_code == 404
    audio = state.settings.media / "audio"
    assert not audio.exists() or not any(audio.iterdir())  # the upload's files went with it
    r = client.delete("/tracks/jazz%2Ftone0.wav", headers={"X-API-Key": api_key})
    assert r.status_code == 503
    assert client.get("/tracks/jazz%2Ftone0.wav").status_code == 200  # still there
    assert state.catalog.ntotal == 8
