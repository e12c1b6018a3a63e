"""POST /score with trained quality heads (a tiny ensemble trained for one epoch on rated tones)."""

from __future__ import annotations

import pytest

from tests.support.tiny_service import wav_bytes
from muscall.audio.decode import decode
from muscall.checkpoint import load_checkpoint
from muscall.data.manifest import ClipRow, write_manifest
from muscall.config.scoring import ScoringConfig
from muscall.scoring.pipeline import features_for, rated_rows
from muscall.scoring.predict import score_clip
from muscall.scoring.store import save_heads
from muscall.scoring.train import TrainSettings, fit_alignment_calibration, train_heads

TINY = ScoringConfig(hidden=16, attention_hidden=8, coattn_dim=16, coattn_heads=2, segment_size=2,
                     sinkhorn_iters=10, dropout=0.0)
CAPTIONS = ["calm jazz music with a low tone", "bright rock music with a high tone",
            "ambient music with a calm tone", "jazz music with a bright tone"]


@pytest.fixture(scope="module")
def heads_dir(world, tmp_path_factory):
    root = tmp_path_factory.mktemp("rated")
    rows = []
    for i in range(8):
        name = f"clip{i}.wav"
        (root / name).write_bytes(wav_bytes(1.0, freq=150.0 + 60 * i, amplitude=0.05 + 0.05 * i))
        rows.append(ClipRow(id=f"c{i}", audio_path=name, caption=CAPTIONS[i % 4], split="train", system=f"s{i % 2}",
                            ratings={"MI": 1.0 + i * 0.5, "TA": 5.0 - i * 0.5},
                            attributes={"source_id": f"src{i}", "changed": [], "level_split": "train"}))
    manifest = root / "manifest.jsonl"
    write_manifest(manifest, rows)
    ckpt = load_checkpoint(world["checkpoint"])
    feats = features_for(ckpt, rated_rows(manifest, "train", "all"), manifest, seconds=None)
    heads, _ = train_heads(TINY, feats, feats, TrainSettings(epochs=1, batch_size=4, poolings=["mean"]))
    heads.checkpoint = {"path": str(world["checkpoint"]), "sha256": ckpt.sha256}
    heads.calibration = fit_alignment_calibration(feats)
    return save_heads(root / "heads", heads)


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
