"""POST /search/text and /search/audio: ranking, filters, paging, moments, the query cache and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from api.services.search import embed_text


def _ids(response) -> list[str]:
    return [h["track"]["track_id"] for h in response.json()["results"]]


def test_text_search_ranks_by_cosine_with_the_query(client, shared_state):
    r = client.post("/search/text", json={"query": "calm jazz music", "k": 8})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["results"]) == 8 and body["next_offset"] == 8
    scores = [h["score"] for h in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert [h["rank"] for h in body["results"]] == list(range(1, 9))
    # the scores are the cosines of the query with the stored track vectors
    q, _ = embed_text(shared_state, "calm jazz music")
    first = body["results"][0]["track"]["track_id"]
    vec = shared_state.windows.get(first).mean(axis=0)
    assert scores[0] == pytest.approx(float(q @ (vec / np.linalg.norm(vec))), abs=1e-4)
    assert body["results"][0]["track"]["audio_url"] == "/tracks/" + first.replace("/", "%2F") + "/audio"


def test_pages_are_consecutive_slices_of_one_ranking(client):
    full = _ids(client.post("/search/text", json={"query": "rock", "k": 8}))
    page1 = client.post("/search/text", json={"query": "rock", "k": 3, "offset": 0}).json()
    page2 = client.post("/search/text", json={"query": "rock", "k": 3, "offset": 3}).json()
    last = client.post("/search/text", json={"query": "rock", "k": 3, "offset": 6}).json()
    assert [h["track"]["track_id"] for h in page1["results"] + page2["results"] + last["results"]] == full
    assert page2["results"][0]["rank"] == 4 and page2["next_offset"] == 6
    assert len(last["results"]) == 2 and last["next_offset"] is None


def test_filters_restrict_results(client):
    genre = _ids(client.post("/search/text", json={"query": "music", "k": 8, "filters": {"genre": "jazz"}}))
    assert genre and all(t.startswith("jazz/") for t in genre) and len(genre) == 3
    tags = client.post("/search/text", json={"query": "music", "k": 8, "filters": {"tags_any": ["high"]}}).json()
    assert len(tags["results"]) == 4 and all("high" in h["track"]["tags"] for h in tags["results"])
    dur = client.post("/search/text", json={"query": "music", "k": 8,
                                            "filters": {"duration_min": 2.0, "duration_max": 3.0}}).json()
    assert sorted(h["track"]["duration"] for h in dur["results"]) == [2.0, 2.5, 3.0]
    attrs = _ids(client.post("/search/text", json={"query": "music", "k": 8,
                                                   "filters": {"attributes": {"genre": ["rock", "ambient"]}}}))
    assert len(attrs) == 5 and not any(t.startswith("jazz/") for t in attrs)


def test_bad_filters_are_client_errors(client):
    r = client.post("/search/text", json={"query": "x", "filters": {"mood": "calm"}})
    assert r.status_code == 422 and "mood" in r.json()["detail"]
    r = client.post("/search/text", json={"query": "x", "filters": {"attributes": {"mood": "calm"}}})
    assert r.status_code == 400 and "cannot filter on attribute 'mood'" in r.json()["detail"]
    r = client.post("/search/text", json={"query": "x", "filters": {"duration_min": 5, "duration_max": 1}})
    assert r.status_code == 422 and "duration_min" in r.json()["detail"]
    r = client.post("/search/text", json={"query": "x", "surprise": 1})
    assert r.status_code == 422 and "surprise" in r.json()["detail"]


@pytest.mark.parametrize("body, needle", [
    ({"query": ""}, "query"),
    ({"query": "   \n "}, "blank"),
    ({"query": "a" * 600}, "max_query_chars"),
    ({"query": "a" * 5000}, "query"),
    ({"query": "x", "k": 0}, "k"),
    ({"query": "x", "k": 201}, "serve.max_k"),
    ({"query": "x", "k": 5000}, "k"),
    ({"query": "x", "offset": -1}, "offset"),
    ({"query": "x", "offset": 1001}, "serve.max_offset"),
    ({"query": 42}, "query"),
    ({}, "query"),
])
def test_bad_text_queries_get_422_with_a_message(client, body, needle):
    r = client.post("/search/text", json=body)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]


def test_malformed_json_is_a_client_error(client):
    r = client.post("/search/text", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"]


def test_moments_point_into_the_best_window(client, shared_state):
    body = client.post("/search/text", json={"query": "bright rock", "k": 8, "with_moment": True}).json()
    assert body["moments_available"]
    q, _ = embed_text(shared_state, "bright rock")
    for hit in body["results"]:
        track = shared_state.catalog.tracks(shared_state.catalog.db.ids_for([hit["track"]["track_id"]]))[0]
        windows = shared_state.windows.get(track.track_id)
        best = int(np.argmax(windows @ q))
        m = hit["moment"]
        assert m["start"] == pytest.approx(track.attributes["window_starts"][best])
        assert m["end"] == pytest.approx(min(m["start"] + 2.0, track.duration))
        assert m["score"] == pytest.approx(float(windows[best] @ q), abs=1e-5)
    plain = client.post("/search/text", json={"query": "bright rock", "k": 2}).json()
    assert all(h["moment"] is None for h in plain["results"])


def test_repeated_queries_come_from_the_cache(client, shared_state):
    text = "a query used only by the cache test"
    hits = shared_state.text_cache.hits
    first = client.post("/search/text", json={"query": text, "k": 3}).json()
    second = client.post("/search/text", json={"query": text, "k": 3}).json()
    assert first["cached_query"] is False and second["cached_query"] is True
    assert shared_state.text_cache.hits == hits + 1
    assert _ids_of(first) == _ids_of(second)


def _ids_of(body: dict) -> list[str]:
    return [h["track"]["track_id"] for h in body["results"]]


def test_audio_search_finds_the_track_it_was_given(client, world):
    track = world["root"] / "audio" / "rock" / "tone4.wav"
    r = client.post("/search/audio", files={"file": ("tone4.wav", track.read_bytes(), "audio/wav")},
                    data={"k": "3", "with_moment": "true"})
    assert r.status_code == 200, r.text
    best = r.json()["results"][0]
    assert best["track"]["track_id"] == "rock/tone4.wav" and best["score"] == pytest.approx(1.0, abs=1e-4)
    assert best["moment"] is not None


def test_audio_search_filters_and_paging(client, wav):
    data = {"k": "2", "offset": "1", "genre": "ambient", "tags_any": "low, high"}
    r = client.post("/search/audio", files={"file": ("a.wav", wav(1.0), "audio/wav")}, data=data)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["offset"] == 1 and [h["rank"] for h in body["results"]] == [2]
    assert all(h["track"]["attributes"]["genre"] == "ambient" for h in body["results"])
    r = client.post("/search/audio", files={"file": ("a.wav", wav(1.0), "audio/wav")}, data={"k": "999"})
    assert r.status_code == 422 and "serve.max_k" in r.json()["detail"]
    r = client.post("/search/audio", data={"k": "3"})
    assert r.status_code == 422 and "file" in r.json()["detail"]


def test_a_query_naming_a_key_is_ranked_with_the_tracks_chroma_agreement(client, shared_state):
    from api.services.search import get_track
    from muscall.keys import StatedKey, key_agreement, track_chroma

    weight = shared_state.settings.serve.key_weight
    assert weight > 0
    body = client.post("/search/text", json={"query": "tones in E minor", "k": 8}).json()
    q, _ = embed_text(shared_state, "tones in E minor")
    scores = [h["score"] for h in body["results"]]
    assert scores == sorted(scores, reverse=True)
    for h in body["results"]:
        vec = shared_state.windows.get(h["track"]["track_id"]).mean(axis=0)
        chroma = track_chroma(get_track(shared_state, h["track"]["track_id"]).attributes)
        assert chroma is not None and "chroma" not in h["track"]["attributes"]  # stored, not shown
        agreement = key_agreement(StatedKey(1, 4 + 12), chroma[None])[0]
        assert h["score"] == pytest.approx(float(q @ (vec / np.linalg.norm(vec))) + weight * agreement, abs=1e-4)


def test_text_search_says_how_it_read_the_query(client, shared_state, monkeypatch, wav):
    from muscall.models.bridge import VocabularyBridge

    body = client.post("/search/text", json={"query": "tones in the key of E, not in major", "k": 2}).json()
    assert body["reading"] == {"key": "E (major or minor)", "mapped_words": None, "unknown_words": None,
                               "caption_share": 0.0}  # the tiny model has no vocabulary bridge
    bridge = VocabularyBridge(["tones", "low", "in", "minor"], ["low"], np.eye(1, dtype=np.float32), 0.6)
    bridge._memo.update({"deep": "low", "gurgling": "gurgling"})  # no MiniLM: the mappings are given
    monkeypatch.setattr(shared_state.checkpoint.tokenizer, "bridge", bridge)
    body = client.post("/search/text", json={"query": "deep gurgling tones in F# minor", "k": 2}).json()
    assert body["reading"] == {"key": "F# minor", "mapped_words": {"deep": "low"}, "unknown_words": ["gurgling"],
                               "caption_share": 0.0}
    audio = client.post("/search/audio", files={"file": ("a.wav", wav(1.0), "audio/wav")}, data={"k": "1"}).json()
    assert audio["reading"] is None


def test_a_reading_that_fails_loses_no_results(client, monkeypatch):
    from api.services import batcher

    def broken(state, texts):
        raise RuntimeError("no reading today")

    monkeypatch.setattr(batcher, "readings_of", broken)
    body = client.post("/search/text", json={"query": "some fresh tones nobody asked for", "k": 2}).json()
    assert len(body["results"]) == 2 and body["reading"] is None
