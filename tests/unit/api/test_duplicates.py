"""GET /tracks/{id}/duplicates: a re-uploaded copy of a track is its duplicate; other tones are not."""

from __future__ import annotations


def test_a_copy_is_found_and_other_tracks_are_not(writable, world, api_key):
    client, _ = writable()
    data = (world["root"] / "audio" / "jazz" / "tone0.wav").read_bytes()
    r = client.post("/tracks", files={"file": ("copy.wav", data, "audio/wav")}, data={"track_id": "copy/tone0"},
                    headers={"X-API-Key": api_key})
    assert r.status_code == 201, r.text
    body = client.get("/tracks/jazz%2Ftone0.wav/duplicates", params={"threshold": 0.999}).json()
    assert body["track_id"] == "jazz/tone0.wav" and body["threshold"] == 0.999
    assert [d["track"]["track_id"] for d in body["duplicates"]] == ["copy/tone0"]
    dup = body["duplicates"][0]
    assert dup["score"] >= 0.999 and dup["window_cosine"] is not None  # the service has window vectors
    everything = client.get("/tracks/jazz%2Ftone0.wav/duplicates", params={"threshold": -1, "k": 3}).json()
    assert len(everything["duplicates"]) == 3  # the k nearest, all above a threshold of -1
    assert client.get("/tracks/nope.wav/duplicates").status_code == 404
    assert client.get("/tracks/jazz%2Ftone0.wav/duplicates", params={"threshold": 2}).status_code == 422
