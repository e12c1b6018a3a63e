"""Uploaded clips: every unusable file is a clear 4xx; odd but valid audio works; the size limit holds while reading."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
import soundfile as sf

from api.limits import BodyLimitMiddleware


def _post(client, data: bytes, name: str = "clip.wav", endpoint: str = "/search/audio"):
    fields = {"k": "2", "label_set": "genres", "prompt": "jazz"}  # each endpoint takes what it needs
    return client.post(endpoint, files={"file": (name, data, "audio/wav")}, data=fields)


def _bad_files(wav) -> dict[str, tuple[bytes, str]]:
    good = wav(1.0)
    silent = io.BytesIO()
    sf.write(silent, np.zeros(16000, np.float32), 16000, format="WAV")
    nan = io.BytesIO()
    sf.write(nan, np.full(16000, np.nan, np.float32), 16000, format="WAV", subtype="FLOAT")
    return {
        "text": (b"this is not audio at all, just some text\n" * 20, "not a readable audio file"),
        "empty": (b"", "empty"),
        "truncated": (good[:300], "too short"),
        "truncated_flac": (wav(3.0, fmt="FLAC")[:4000], "corrupt or truncated"),
        "fake_wav": (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200)), "not a readable audio file"),
        "png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, "not a readable audio file"),
        "silence": (silent.getvalue(), "silent"),
        "nan": (nan.getvalue(), "NaN"),
        "too_short": (wav(0.1), "too short"),
    }


@pytest.mark.parametrize("case", ["text", "empty", "truncated", "truncated_flac", "fake_wav", "png", "silence", "nan", "too_short"])
def test_unusable_uploads_get_422_naming_the_problem(client, wav, case):
    data, needle = _bad_files(wav)[case]
    for endpoint in ("/search/audio", "/score", "/tag"):
        r = _post(client, data, endpoint=endpoint)
        assert r.status_code == 422, (endpoint, r.text)
        detail = r.json()["detail"]
        assert "clip.wav" in detail and needle in detail, detail


@pytest.mark.parametrize("sr, channels, fmt", [(8000, 1, "WAV"), (11025, 2, "WAV"), (44100, 2, "FLAC"),
                                               (96000, 1, "WAV"), (22050, 6, "WAV"), (48000, 1, "OGG")])
def test_odd_rates_channels_and_containers_work(client, wav, sr, channels, fmt):
    r = _post(client, wav(1.0, sr=sr, channels=channels, fmt=fmt), name=f"clip.{fmt.lower()}")
    assert r.status_code == 200, r.text
    assert len(r.json()["results"]) == 2


def test_long_clips_are_refused_before_decoding(writable, wav):
    client, _ = writable(max_clip_seconds=3.0)
    r = _post(client, wav(4.0, sr=8000))
    assert r.status_code == 422 and "too long" in r.json()["detail"] and "max_clip_seconds" in r.json()["detail"]
    assert _post(client, wav(2.5, sr=8000)).status_code == 200


def test_oversized_uploads_get_413(writable, wav):
    client, _ = writable(max_upload_mb=0.05)
    big = wav(3.0, sr=16000)  # ~96 KB > 0.05 MB + form allowance
    r = _post(client, big)
    assert r.status_code == 413 and "max_upload_mb" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit must hold while the body streams in
        for _ in range(100):
            yield b"x" * 4096

    r = client.post("/search/audio", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert r.status_code == 413


def test_the_body_limit_stops_reading_at_the_limit():
    received = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            received.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def run() -> list[dict]:
        sent: list[dict] = []
        body = [{"type": "http.request", "body": b"x" * 1000, "more_body": True} for _ in range(50)]

        async def receive():
            return body.pop(0)

        async def send(message):
            sent.append(message)

        await BodyLimitMiddleware(app, limit=2500)({"type": "http", "headers": []}, receive, send)
        return sent

    sent = asyncio.run(run())
    assert sent[0]["status"] == 413
    assert sum(received) <= 3000  # stopped after the third chunk, not after 50 000 bytes


def test_declared_oversize_is_refused_without_reading():
    calls = []

    async def app(scope, receive, send):
        calls.append(1)

    async def run() -> list[dict]:
        sent: list[dict] = []

        async def receive():
            raise AssertionError("the body must not be read")

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "headers": [(b"content-length", b"999999")]}
        await BodyLimitMiddleware(app, limit=1000)(scope, receive, send)
        return sent

    sent = asyncio.run(run())
    assert sent[0]["status"] == 413 and not calls
