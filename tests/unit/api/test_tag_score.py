"""POST /tag (zero-shot tags) and POST /score (quality / alignment)."""

from __future__ import annotations

import pytest

from api.services.search import embed_text, get_track, track_vector
from muscall.audio.decode import decode
from muscall.zeroshot import build_classifier, softmax, templates_for


def test_tags_of_a_track_match_the_zero_shot_classifier(client, shared_state):
    r = client.post("/tag", data={"track_id": "rock/tone4.wav", "label_set": "genres", "top": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "track" and body["label_set"] == "genres"
    ckpt = shared_state.checkpoint
    labels = ["jazz", "rock", "ambient"]
    weights = build_classifier(ckpt.model, ckpt.tokenizer, labels, templates_for("genres"), 32)
    vec = track_vector(shared_state, get_track(shared_state, "rock/tone4.wav"))
    probs = softmax((weights @ vec)[None] * float(ckpt.model.scale().detach()))[0]
    got = {x["label"]: x["probability"] for x in body["results"]}
    assert got == pytest.approx(dict(zip(labels, probs.tolist())), abs=1e-5)
    assert [x["probability"] for x in body["results"]] == sorted(got.values(), reverse=True)


def test_tags_of_an_upload_with_custom_labels(client, wav):
    r = client.post("/tag", files={"file": ("a.wav", wav(1.0), "audio/wav")},
                    data={"labels": "piano, drums, ,strings", "top": "2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["label_set"] == "custom" and body["source"] == "upload" and len(body["results"]) == 2
    assert {x["label"] for x in body["results"]} <= {"piano", "drums", "strings"}


@pytest.mark.parametrize("data, files, needle", [
    ({"label_set": "genres"}, False, "exactly one"),
    ({"label_set": "genres", "track_id": "jazz/tone0.wav"}, True, "exactly one"),
    ({"track_id": "jazz/tone0.wav"}, False, "choose a label_set"),
    ({"track_id": "jazz/tone0.wav", "label_set": "colours"}, False, "unknown label_set"),
    ({"track_id": "jazz/tone0.wav", "labels": " , "}, False, "label"),
    ({"track_id": "jazz/tone0.wav", "label_set": "genres", "top": "0"}, False, "top"),
])
def test_bad_tag_requests_are_422(client, wav, data, files, needle):
    kwargs = {"files": {"file": ("a.wav", wav(1.0), "audio/wav")}} if files else {}
    r = client.post("/tag", data=data, **kwargs)
    assert r.status_code == 422 and needle in r.json()["detail"], r.text


def test_tag_unknown_track_is_404(client):
    r = client.post("/tag", data={"track_id": "missing", "label_set": "genres"})
    assert r.status_code == 404


def test_score_without_calibration_maps_the_cosine(client, shared_state, wav):
    data = wav(1.5, freq=330.0)
    r = client.post("/score", files={"file": ("a.wav", data, "audio/wav")}, data={"prompt": "calm jazz"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["heads"] is False and body["scores"] == {} and body["alignment_calibrated"] is False
    assert "not a calibrated probability" in body["note"]
    ex = shared_state.scorer.extractor  # the scorer embeds the clip's first clip_seconds, unpadded
    audio = ex.audio([ex.mel(decode(data, shared_state.audio_cfg))])[0][1]
    text, _ = embed_text(shared_state, "calm jazz")
    assert body["cosine"] == pytest.approx(float(audio @ text), abs=1e-4)
    assert body["alignment"] == pytest.approx((body["cosine"] + 1) / 2, abs=1e-9)
    assert 0.0 <= body["alignment"] <= 1.0


def test_score_needs_a_prompt_without_heads(client, wav):
    r = client.post("/score", files={"file": ("a.wav", wav(1.0), "audio/wav")})
    assert r.status_code == 422 and "give a prompt" in r.json()["detail"]
    r = client.post("/score", files={"file": ("a.wav", wav(1.0), "audio/wav")}, data={"prompt": "x" * 600})
    assert r.status_code == 422 and "max_query_chars" in r.json()["detail"]


def test_labels_lists_sets_genres_and_fields(client):
    body = client.get("/labels").json()
    assert body["label_sets"]["genres"] == ["jazz", "rock", "ambient"]
    assert body["genres"] == ["ambient", "jazz", "rock"] and body["attribute_fields"] == ["genre"]
