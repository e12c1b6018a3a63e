"""An M4A/AAC track (written with PyAV) is added, embedded, searchable and streamed back with its media type."""

from __future__ import annotations

import numpy as np

from muscall.audio.ffmpeg import encode


def test_m4a_upload_is_embedded_and_streamed(writable, api_key, tmp_path):
    client, state = writable()
    wave = 0.4 * np.sin(2 * np.pi * 330.0 * np.arange(32000) / 16000)
    data = encode(tmp_path / "song.m4a", wave, 16000, "aac", 96000).read_bytes()
    r = client.post("/tracks", files={"file": ("song.m4a", data, "audio/mp4")}, data={"track_id": "mine/song"},
                    headers={"X-API-Key": api_key})
    assert r.status_code == 201, r.text
    assert state.catalog.ntotal == 9 and abs(client.get("/tracks/mine%2Fsong").json()["duration"] - 2.0) < 0.2  # AAC adds priming
    audio = client.get("/tracks/mine%2Fsong/audio")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mp4" and audio.content == data
    part = client.get("/tracks/mine%2Fsong/audio", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == data[:100]

