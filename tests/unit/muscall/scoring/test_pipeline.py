"""Scoring pipeline end to end on a random-init tiny MusCALL: features, training, store, eval, predict, CLI.

Data: tones (one per source clip) mixed with white noise at known SNRs (MI rises with SNR); each row's
caption is its own (TA 5) or another source's (TA 1, ``changed = ["caption"]``). Sources 0-3 train, 4 val,
5 test; SNRs 10 and 0 dB are held-out levels (``level_split = test``).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from muscall.checkpoint import load_checkpoint, save_checkpoint
from muscall.cli.main import main
from muscall.config import load_config
from muscall.data.degrade.effects import add_white_noise
from muscall.data.manifest import ClipRow, write_manifest
from muscall.errors import MuscallError
from muscall.eval.quality_metrics import srcc
from muscall.models import create_model, train_tokenizer
from muscall.config.scoring import ScoringConfig
from muscall.scoring.data import FeatureExtractor, extract_features, load_feature_cache, save_feature_cache
from muscall.scoring.evaluate import predict_features
from muscall.scoring.pipeline import features_for, rated_rows
from muscall.scoring.predict import load_scorer_bundle, predict_jsonl, score_clip
from muscall.scoring.store import load_heads, save_heads
from muscall.scoring.train import TrainSettings, fit_alignment_calibration, predict_z, train_heads

SR = 16000
SNRS = (40, 30, 20, 10, 5, 0)
HELD_OUT = (10, 0)
SOURCES = [("calm piano ballad in c major", 220.0), ("fast rock drums with electric guitar", 330.0),
           ("dark ambient synth pads", 440.0), ("cheerful ukulele folk song", 550.0),
           ("slow jazz trio with upright bass", 660.0), ("upbeat electronic dance track", 770.0)]
SPLITS = ["train", "train", "train", "train", "val", "test"]
TINY = ScoringConfig(hidden=16, attention_hidden=8, coattn_dim=16, coattn_heads=2, segment_size=2,
                     sinkhorn_iters=10, dropout=0.0)
OVERRIDES = ["scoring.hidden=16", "scoring.attention_hidden=8", "scoring.coattn_dim=16", "scoring.coattn_heads=2",
             "scoring.sinkhorn_iters=10", "scoring.dropout=0.0", "scoring.segment_size=2"]


def mi_for(snr: float) -> float:
    return 1.0 + 4.0 * (snr / 40.0)


@pytest.fixture(scope="module")
def ckpt_path(tmp_path_factory) -> Path:
    cfg = load_config("tiny")
    torch.manual_seed(0)
    tok = train_tokenizer([c for c, _ in SOURCES] * 3, vocab_size=120)
    model = create_model(cfg, vocab_size=tok.vocab_size)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "best", model, cfg, tok)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("quality")
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    rows = []
    for s, ((caption, freq), split) in enumerate(zip(SOURCES, SPLITS)):
        clean = (0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
        for k, snr in enumerate(SNRS):
            wave = add_white_noise(clean, SR, snr, rng)
            name = f"src{s}_snr{snr}.wav"
            sf.write(root / name, np.clip(wave, -1, 1), SR)
            mismatch = (k + s) % 2 == 1
            rows.append(ClipRow(
                id=f"src{s}_snr{snr}", audio_path=name, caption=SOURCES[(s + 1) % 6][0] if mismatch else caption,
                split=split, system=f"snr{snr}", ratings={"MI": mi_for(snr), "TA": 1.0 if mismatch else 5.0},
                attributes={"source_id": f"src{s}", "changed": ["caption"] if mismatch else [],
                            "level_split": "test" if snr in HELD_OUT else "train"}))
    path = root / "manifest.jsonl"
    write_manifest(path, rows)
    return path


@pytest.fixture(scope="module")
def ckpt(ckpt_path):
    return load_checkpoint(ckpt_path)


@pytest.fixture(scope="module")
def feats(ckpt, manifest):
    rows = rated_rows(manifest, "train", "all")
    return features_for(ckpt, rows, manifest, seconds=None)


@pytest.fixture(scope="module")
def trained_heads(ckpt_path, manifest, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("heads") / "heads"
    code = main(["score", "train", "--checkpoint", str(ckpt_path), "--manifest", str(manifest), "--out", str(out),
                 "--epochs", "4", "--batch-size", "8", "--ensemble", "2", "--top-k", "1", "--no-progress",
                 "--poolings", "drasp,mean", *OVERRIDES])
    assert code == 0
    return out


def test_features_shapes_dedupe_and_batch_independence(ckpt, manifest, feats):
    rows = rated_rows(manifest, "train", "all")
    assert len(feats) == len(rows) == 24
    assert feats.frames.shape[0] == 24
    assert feats.tokens.shape[0] == len({r.caption for r in rows}) < 24  # one text entry per distinct caption
    assert feats.frame_mask.any(axis=1).all() and feats.token_mask.any(axis=1).all()
    np.testing.assert_allclose(np.linalg.norm(feats.audio_emb, axis=1), 1.0, atol=1e-5)
    ex = FeatureExtractor(ckpt.model, ckpt.tokenizer, ckpt.config.audio, ckpt.config.model.text.max_tokens)
    alone = extract_features(ex, rows[5:6], manifest)
    i = feats.audio_index[5]
    n = int(alone.frame_mask[0].sum())
    np.testing.assert_allclose(alone.frames[0, :n], feats.frames[i, :n], rtol=1e-5, atol=1e-6)
    assert sorted(feats.matched.tolist()) == sorted(not r.attributes["changed"] for r in rows)


def test_first_seconds_are_used(ckpt, manifest):
    rows = rated_rows(manifest, "train", "all")[:2]
    ex = FeatureExtractor(ckpt.model, ckpt.tokenizer, ckpt.config.audio, 32, seconds=0.5)
    short = extract_features(ex, rows, manifest)
    full = extract_features(FeatureExtractor(ckpt.model, ckpt.tokenizer, ckpt.config.audio, 32), rows, manifest)
    assert short.frame_mask.sum(axis=1).max() < full.frame_mask.sum(axis=1).max()
    with pytest.raises(MuscallError, match="too short"):
        ex.mel(np.random.default_rng(0).standard_normal(2000))


def test_feature_cache_round_trip_and_key(tmp_path, feats):
    path = save_feature_cache(tmp_path / "f.npz", feats, key="abc")
    back = load_feature_cache(path, "abc")
    assert back is not None and back.ids == feats.ids
    np.testing.assert_array_equal(back.frames, feats.frames)
    np.testing.assert_array_equal(back.ratings["MI"], feats.ratings["MI"])
    assert load_feature_cache(path, "other") is None


def test_training_reduces_loss_and_learns_snr(feats):
    cfg = ScoringConfig(**{**TINY.__dict__, "axes": ["MI"], "text_axes": []})
    settings = TrainSettings(epochs=40, batch_size=8, lr=3e-3, patience=40)
    heads, history = train_heads(cfg, feats, feats, settings)
    losses = [row["loss"] for row in history]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])
    truth = feats.ratings["MI"]
    pred = predict_features(heads, feats)["MI"]  # rating scale (scaler applied)
    assert srcc(pred, truth) > 0.8  # an untrained head scores about -0.8 here
    assert np.mean((pred - truth) ** 2) < 0.1 * np.var(truth)


def test_shuffled_labels_control_breaks_the_relation(feats):
    cfg = ScoringConfig(**{**TINY.__dict__, "axes": ["MI"], "text_axes": []})
    settings = TrainSettings(epochs=25, batch_size=8, lr=3e-3, patience=25, shuffle_labels=True)
    shuffled, _ = train_heads(cfg, feats, feats, settings)
    assert shuffled.training["shuffle_labels"] is True
    # early stopping saw shuffled validation labels too, so nothing of the true relation leaks into the control
    assert srcc(predict_z(shuffled.members[0].model, feats)["MI"], feats.ratings["MI"]) < 0.5


def test_ensemble_save_load_round_trip(tmp_path, feats):
    settings = TrainSettings(epochs=2, batch_size=8, members=3, top_k=2, poolings=["drasp", "asp", "mean"])
    heads, _ = train_heads(TINY, feats, feats, settings)
    assert set(heads.ensemble) == {"MI", "TA"} and all(len(v) == 2 for v in heads.ensemble.values())
    for axis, names in heads.ensemble.items():  # the kept members are the best on validation for that axis
        kept = min(heads.member(n).val_srcc[axis] for n in names)
        assert all(m.val_srcc[axis] <= kept for m in heads.members if m.name not in names)
    heads.calibration = fit_alignment_calibration(feats)
    path = save_heads(tmp_path / "heads", heads)
    back = load_heads(path)
    before, after = predict_features(heads, feats), predict_features(back, feats)
    for axis in ("MI", "TA"):
        np.testing.assert_array_equal(before[axis], after[axis])
    assert back.scalers == heads.scalers and back.calibration == heads.calibration
    (path / "members" / f"{heads.members[0].name}.safetensors").write_bytes(b"corrupt")
    with pytest.raises(MuscallError, match="checksum"):
        load_heads(path)


def test_fact_check_heads_train_save_and_load(tmp_path, feats):
    cfg = dataclasses.replace(TINY, ta_fact_check=True)
    heads, _ = train_heads(cfg, feats, feats, TrainSettings(epochs=2, batch_size=8))
    scorer = heads.members[0].model.scorer
    assert scorer.fact_check and set(scorer.fact_checks) == {"TA"}
    back = load_heads(save_heads(tmp_path / "heads", heads))
    assert back.members[0].model.scorer.fact_check
    before, after = predict_features(heads, feats), predict_features(back, feats)
    assert np.all(np.isfinite(before["TA"]))
    np.testing.assert_array_equal(before["TA"], after["TA"])


def test_heads_saved_before_the_fact_check_still_load(tmp_path, feats):
    heads, _ = train_heads(dataclasses.replace(TINY, ta_fact_check=False), feats, feats,
                           TrainSettings(epochs=1, batch_size=8))
    path = save_heads(tmp_path / "heads", heads)
    info = json.loads((path / "heads.json").read_text())
    for member in info["members"]:
        del member["scoring"]["ta_fact_check"]  # as written by earlier versions
    (path / "heads.json").write_text(json.dumps(info))
    back = load_heads(path, verify=False)
    assert not back.members[0].model.scorer.fact_check
    np.testing.assert_array_equal(predict_features(heads, feats)["TA"], predict_features(back, feats)["TA"])


def test_cli_train_writes_heads_and_calibration_into_checkpoint(ckpt_path, manifest, tmp_path):
    ckpt_path = Path(shutil.copytree(ckpt_path, tmp_path / "ckpt"))  # rewritten below: keep the shared one as is
    out = tmp_path / "heads"
    code = main(["score", "train", "--checkpoint", str(ckpt_path), "--manifest", str(manifest), "--out", str(out),
                 "--epochs", "1", "--batch-size", "8", "--into-checkpoint", "--no-progress", *OVERRIDES])
    assert code == 0
    info = json.loads((out / "heads.json").read_text())
    calibration = info["alignment_calibration"]
    assert calibration["kind"] == "logistic" and calibration["a"] >= 0
    assert info["training"]["encoder"].startswith("frozen")
    assert load_checkpoint(ckpt_path).extra["alignment_calibration"] == calibration
    assert load_scorer_bundle(checkpoint=ckpt_path).calibration == calibration
    assert load_scorer_bundle(heads=out).heads is not None  # checkpoint sha recorded after the rewrite


def test_cli_rejects_bad_override(ckpt_path, manifest, tmp_path, capsys):
    code = main(["score", "train", "--checkpoint", str(ckpt_path), "--manifest", str(manifest),
                 "--out", str(tmp_path / "h"), "scoring.pooling=max"])
    assert code == 2 and "pooling" in capsys.readouterr().err


def test_eval_reports_utterance_and_system_levels(trained_heads, manifest, tmp_path):
    sys_csv = tmp_path / "sys.csv"
    sys_csv.write_text("system,MI,TA\n" + "".join(f"snr{s},{mi_for(s)},3.0\n" for s in SNRS))
    out = tmp_path / "eval"
    code = main(["score", "eval", "--heads", str(trained_heads), "--manifest", str(manifest), "--split", "train",
                 "--subset", "unseen", "--out", str(out), "--n-boot", "50", "--no-progress"])
    assert code == 0
    results = json.loads((out / "score_eval.json").read_text())
    mi = results["axes"]["MI"]
    assert mi["utterance"]["n"] == 8 and mi["system"]["truth"] == "split_mean"  # 4 clips x 2 held-out levels
    assert {"MSE", "LCC", "SRCC", "KTAU", "ci"} <= set(mi["utterance"]) and "ci" in mi["system"]
    assert (out / "scatter_MI_utterance.png").stat().st_size > 0 and (out / "score_eval.md").is_file()
    assert "zero_training_alignment_vs_TA" in results
    main(["score", "eval", "--heads", str(trained_heads), "--manifest", str(manifest), "--split", "train",
          "--system-scores", str(sys_csv), "--out", str(out), "--n-boot", "20", "--no-progress"])
    results = json.loads((out / "score_eval.json").read_text())
    assert results["axes"]["MI"]["system"]["truth"] == "given"
    assert results["axes"]["MI"]["system"]["truth_source"] == str(sys_csv)


def test_predict_keeps_order_and_reports_errors(trained_heads, manifest, tmp_path):
    root = manifest.parent
    lines = [json.dumps({"path": str(root / "src0_snr40.wav"), "prompt": SOURCES[0][0]}),
             "{not json",
             json.dumps({"path": str(root / "missing.wav"), "prompt": "x"}),
             json.dumps({"prompt": "no path"}),
             json.dumps({"path": "src1_snr0.wav"}),  # relative to the input file's folder, no prompt
             json.dumps({"path": str(root / "src2_snr20.wav"), "prompt": SOURCES[2][0]})]
    inp = root / "inputs.jsonl"
    inp.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.jsonl"
    code = main(["score", "predict", "--heads", str(trained_heads), "--input", str(inp), "--output", str(out),
                 "--no-progress"])
    assert code == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(got) == 6
    assert [("error" in g) for g in got] == [False, True, True, True, False, False]
    assert "missing.wav" in got[2]["error"]
    assert {"MI", "TA", "cosine", "alignment"} <= set(got[0]) and 0 <= got[0]["alignment"] <= 1
    assert "MI" in got[4] and "TA" not in got[4] and "alignment" not in got[4]
    bundle = load_scorer_bundle(heads=trained_heads)
    counts = predict_jsonl(bundle, inp, tmp_path / "again.jsonl")
    assert counts == {"lines": 6, "errors": 3}
    assert (tmp_path / "again.jsonl").read_text() == out.read_text()  # deterministic


def test_score_clip_wave_and_mel_agree(trained_heads, manifest, feats):
    bundle = load_scorer_bundle(heads=trained_heads)
    wave, _ = sf.read(manifest.parent / "src3_snr30.wav", dtype="float32")
    from_wave = score_clip(bundle, wave, SOURCES[3][0])
    assert set(bundle.outputs) <= set(from_wave) and bundle.heads.signal_dim > 0  # signal features on by default
    with pytest.raises(MuscallError, match="pass the waveform"):  # they need the waveform, not only its log-mel
        score_clip(bundle, bundle.extractor.mel(wave), SOURCES[3][0])
    plain = dataclasses.replace(feats, signal=np.zeros((0, 0, 1), np.float32))  # heads without signal features:
    bundle.heads = train_heads(TINY, plain, plain, TrainSettings(epochs=1, batch_size=8))[0]  # a log-mel scores
    assert bundle.heads.signal_dim == 0  # exactly like its waveform
    from_wave = score_clip(bundle, wave, SOURCES[3][0])
    assert from_wave == score_clip(bundle, bundle.extractor.mel(wave), SOURCES[3][0])
    with pytest.raises(MuscallError, match="mono waveform"):
        score_clip(bundle, np.zeros((3, 4, 5)), "x")


def test_predict_with_checkpoint_only(ckpt_path, manifest, tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"path": str(manifest.parent / "src0_snr40.wav"), "prompt": "calm piano"}) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["score", "predict", "--checkpoint", str(ckpt_path), "--input", str(inp), "--output", str(out),
                 "--no-progress"]) == 0
    got = json.loads(out.read_text())
    assert "cosine" in got and "MI" not in got
