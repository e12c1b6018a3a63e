"""GET /tracks/{id}, /tracks/{id}/similar and /tracks/{id}/audio with HTTP Range."""

from __future__ import annotations

import pytest

from api.ranges import parse_range
from api.services.errors import ApiError

TRACK = "jazz/tone3.wav"
URL = "/tracks/jazz%2Ftone3.wav"


def test_track_metadata_hides_internal_attributes(client):
    r = client.get(URL)
    assert r.status_code == 200
    body = r.json()
    assert body["track_id"] == TRACK and body["title"] == "Tone 3" and body["duration"] == 3.0
    assert body["tags"] == ["jazz", "low", "tone"] and body["attributes"] == {"genre": "jazz"}


def test_unknown_tracks_are_404(client):
    for path in ("/tracks/nope.wav", "/tracks/nope.wav/similar", "/tracks/nope.wav/audio"):
        r = client.get(path)
        assert r.status_code == 404 and "nope.wav" in r.json()["detail"], path


def test_similar_leaves_the_track_out_and_ranks_the_rest(client):
    r = client.get(URL + "/similar", params={"k": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    ids = [h["track"]["track_id"] for h in body["results"]]
    assert TRACK not in ids and len(ids) == 7 and body["query"] == TRACK
    scores = [h["score"] for h in body["results"]]
    assert scores == sorted(scores, reverse=True)
    page2 = client.get(URL + "/similar", params={"k": 3, "offset": 3}).json()
    assert [h["track"]["track_id"] for h in page2["results"]] == ids[3:6]
    rock = client.get(URL + "/similar", params={"k": 7, "genre": "rock"}).json()
    assert len(rock["results"]) == 3 and all(h["track"]["attributes"]["genre"] == "rock" for h in rock["results"])
    assert client.get(URL + "/similar", params={"k": 0}).status_code == 422


def test_audio_streams_the_whole_file(client, world):
    data = (world["root"] / "audio" / TRACK).read_bytes()
    r = client.get(URL + "/audio")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "audio/wav" and r.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-9", 0, 9), ("bytes=100-", 100, None), ("bytes=-50", -50, None), ("bytes=10-999999999", 10, None)])
def test_range_requests_get_206_with_the_right_bytes(client, world, header, start, end):
    data = (world["root"] / "audio" / TRACK).read_bytes()
    r = client.get(URL + "/audio", headers={"Range": header})
    assert r.status_code == 206
    want = data[start:] if end is None else data[start:end + 1]
    assert r.content == want
    first = start if start >= 0 else len(data) + start
    assert r.headers["content-range"] == f"bytes {first}-{first + len(want) - 1}/{len(data)}"
    assert int(r.headers["content-length"]) == len(want)


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=50-10", "bytes=abc", "bytes=-0", "bytes=-"])
def test_bad_ranges_get_416(client, world, header):
    size = (world["root"] / "audio" / TRACK).stat().st_size
    r = client.get(URL + "/audio", headers={"Range": header})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
    assert r.json()["detail"]


def test_ranges_the_server_ignores_send_the_whole_file(client):
    for header in ("items=0-5", "bytes=0-1,5-9"):
        assert client.get(URL + "/audio", headers={"Range": header}).status_code == 200


def test_parse_range_edges():
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=-20", 10) == (0, 9)
    with pytest.raises(ApiError):
        parse_range("bytes=0-", 0)
