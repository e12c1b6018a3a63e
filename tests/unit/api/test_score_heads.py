"""POST /score with trained quality heads (a tiny ensemble trained for one epoch on rated tones)."""

from __future__ import annotations

import pytest

from tests.support.tiny_service import make_tiny_heads, wav_bytes
from muscall.audio.decode import decode
from muscall.scoring.predict import score_clip


@pytest.fixture(scope="module")
def heads_dir(world, tmp_path_factory):
    return make_tiny_heads(tmp_path_factory.mktemp("rated"), world["checkpoint"])


@pytest.mark.slow
def test_score_uses_the_trained_heads_and_their_calibration(writable, heads_dir, wav):
    client, state = writable(heads=heads_dir)
    assert client.get("/readyz").json()["heads"] is True
    data = wav(1.5, freq=210.0)
    r = client.post("/score", files={"file": ("a.wav", data, "audio/wav")}, data={"prompt": "calm jazz"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["heads"] and body["alignment_calibrated"] and body["note"] is None
    assert set(body["scores"]) == set(state.scorer.heads.axes) and body["scores"]
    direct = score_clip(state.scorer, decode(data, state.audio_cfg), "calm jazz")
    for axis, value in body["scores"].items():
        assert value == pytest.approx(direct[axis], abs=1e-5)
    assert body["alignment"] == pytest.approx(direct["alignment"], abs=1e-6) and 0 <= body["alignment"] <= 1
    no_prompt = client.post("/score", files={"file": ("a.wav", data, "audio/wav")}).json()
    assert no_prompt["cosine"] is None and no_prompt["alignment"] is None and no_prompt["scores"]
