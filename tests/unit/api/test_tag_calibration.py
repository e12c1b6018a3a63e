"""POST /tag: abstention ("none of these") and the checkpoint's fitted temperature."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from api.services.search import get_track, track_vector
from muscall.zeroshot import build_classifier, save_fitted_temperature, softmax, templates_for

GENRES = ["jazz", "rock", "ambient"]
TRACK = {"track_id": "rock/tone4.wav", "label_set": "genres"}


def test_no_abstention_by_default(client):
    body = client.post("/tag", data=TRACK).json()
    assert body["abstained"] is False and body["abstain_below"] is None
    assert body["label"] == body["results"][0]["label"] and body["calibration"] == "none"


def test_abstains_below_the_requested_probability(client):
    top = client.post("/tag", data=TRACK).json()["results"][0]["probability"]
    body = client.post("/tag", data={**TRACK, "abstain_below": str(min(1.0, top + 1e-3))}).json()
    assert body["abstained"] is True and body["label"] is None and body["results"][0]["probability"] == top
    kept = client.post("/tag", data={**TRACK, "abstain_below": str(top - 1e-3)}).json()
    assert kept["abstained"] is False and kept["label"] == kept["results"][0]["label"]


def test_abstain_below_out_of_range_is_422(client):
    r = client.post("/tag", data={**TRACK, "abstain_below": "1.5"})
    assert r.status_code == 422 and "abstain_below" in r.text


def test_server_default_abstention(writable):
    c, _ = writable(tag_abstain_below=1.0)
    body = c.post("/tag", data=TRACK).json()
    assert body["abstained"] is True and body["label"] is None and body["abstain_below"] == 1.0
    assert c.post("/tag", data={**TRACK, "abstain_below": "0"}).json()["abstained"] is False


def test_fitted_temperature_is_used(client, shared_state, tmp_path, monkeypatch):
    ckpt = shared_state.checkpoint
    save_fitted_temperature(tmp_path, ckpt.sha256, "genres", {"temperature": 0.02, "labels": GENRES,
                                                              "templates": templates_for("genres")})
    monkeypatch.setattr(shared_state, "checkpoint", replace(ckpt, path=tmp_path))
    body = client.post("/tag", data={**TRACK, "top": "3"}).json()
    assert body["calibration"] == "fitted" and body["temperature"] == 0.02
    weights = build_classifier(ckpt.model, ckpt.tokenizer, GENRES, templates_for("genres"), 32)
    vec = track_vector(shared_state, get_track(shared_state, TRACK["track_id"]))
    probs = softmax((weights @ vec)[None].astype(np.float64), 0.02)[0]
    got = {x["label"]: x["probability"] for x in body["results"]}
    assert got == pytest.approx(dict(zip(GENRES, probs.tolist())), abs=1e-5)
    custom = client.post("/tag", data={"track_id": TRACK["track_id"], "labels": "jazz,rock"}).json()
    assert custom["calibration"] == "none"  # fitted for other labels
