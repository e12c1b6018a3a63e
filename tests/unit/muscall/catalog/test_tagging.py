"""Zero-shot tagging of stored embeddings: scores, output table, resumption and tags written to an index."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from index import TrackRecord, open_catalog
from index.shards import load_catalog
from muscall.catalog.label_scores import LabelStats, Scorer, parse_thresholds
from muscall.catalog.tag_db import retagged
from muscall.catalog.tagging import TagJob, run_tag_job
from muscall.cli.main import main
from muscall.errors import MuscallError
from muscall.zeroshot import build_classifier, templates_for

LABELS = ["ambient", "rock", "jazz"]


def _catalog_emb(catalog_dir):
    cat = load_catalog(catalog_dir)
    shards = list(cat.iter_shards())
    return np.concatenate([np.asarray(s.embeddings, np.float32) for s in shards]), \
        [m.track_id for s in shards for m in s.metadata]


def _tag(ckpt, source, out, **kwargs):
    hook = kwargs.pop("on_part_done", None)
    job = TagJob(source=str(source), labels=LABELS, label_set="genres", out=str(out), progress=False, **kwargs)
    return run_tag_job(ckpt, job, on_part_done=hook)


def _classifier(ckpt):
    return build_classifier(ckpt.model, ckpt.tokenizer, LABELS, templates_for("genres"),
                            ckpt.config.model.text.max_tokens)


def test_single_label_table(ckpt, manifest_catalog, tmp_path):
    result = _tag(ckpt, manifest_catalog, tmp_path / "tags.parquet")
    table = pq.read_table(result.out).to_pydict()
    emb, ids = _catalog_emb(manifest_catalog)
    assert table["track_id"] == ids and result.n_tracks == 6
    assert list(table)[:5] == ["track_id", "title", "top_label", "top_score", "labels"]
    scores = np.stack([table[f"score:{label}"] for label in LABELS], axis=1)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    cos = emb @ _classifier(ckpt).T
    t = 1.0 / float(ckpt.model.scale().detach())
    expected = np.exp(cos / t) / np.exp(cos / t).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert table["top_label"] == [LABELS[i] for i in cos.argmax(axis=1)]
    assert table["labels"] == [[label] for label in table["top_label"]]
    np.testing.assert_allclose(table["top_score"], scores.max(axis=1), atol=1e-6)


def test_multi_label_csv_with_catalog_calibration(ckpt, manifest_catalog, tmp_path):
    out = tmp_path / "tags.csv"
    _tag(ckpt, manifest_catalog, out, mode="multi", threshold="rock=0.6,default=0.5")
    lines = out.read_text().splitlines()
    header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
    assert header == ["track_id", "title", "top_label", "top_score", "labels", "abstained", "score:ambient",
                      "score:rock", "score:jazz"] and len(rows) == 6
    emb, _ = _catalog_emb(manifest_catalog)
    cos = emb @ _classifier(ckpt).T
    z = (cos - cos.mean(axis=0)) / cos.std(axis=0)
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(np.array([[float(v) for v in r[6:]] for r in rows]), p, atol=1e-4)
    chosen = p >= np.array([0.5, 0.6, 0.5])
    assert [r[4] for r in rows] == ["|".join(LABELS[j] for j in np.flatnonzero(c)) for c in chosen]
    assert [r[5] for r in rows] == ["false" if c.any() else "true" for c in chosen]
    plan = json.loads((tmp_path / "tags.csv.job.json").read_text())
    assert plan["complete"] and plan["settings"]["thresholds"] == [0.5, 0.6, 0.5]


def test_killed_tag_job_resumes(ckpt, manifest_catalog, tmp_path):
    full = _tag(ckpt, manifest_catalog, tmp_path / "full.parquet")
    parts = []

    def crash(part: int) -> None:
        parts.append(part)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        _tag(ckpt, manifest_catalog, tmp_path / "tags.parquet", on_part_done=crash)
    assert parts == [0] and (tmp_path / "tags.parquet.parts" / "part-00000.npz").exists()
    resumed = _tag(ckpt, manifest_catalog, tmp_path / "tags.parquet")
    assert resumed.n_scored == 2  # shard 0 (4 tracks) was not scored again
    assert pq.read_table(resumed.out).to_pydict() == pq.read_table(full.out).to_pydict()
    assert not (tmp_path / "tags.parquet.parts").exists()
    assert _tag(ckpt, manifest_catalog, tmp_path / "tags.parquet").n_scored == 0
    multi = _tag(ckpt, manifest_catalog, tmp_path / "tags.parquet", mode="multi")  # new settings: starts over
    assert multi.n_scored == 6
    plan = json.loads((tmp_path / "tags.parquet.job.json").read_text())
    assert plan["settings"]["mode"] == "multi" and len(plan["stats"]["mean"]) == 3


def test_write_db_makes_tags_filterable(ckpt, ckpt_dir, manifest_catalog, tmp_path, capsys):
    idx = tmp_path / "idx"
    assert main(["index", "build", "--catalog", str(manifest_catalog), "--out", str(idx), "--no-progress"]) == 0
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"genres": LABELS, "moods": ["calm"]}))
    out = tmp_path / "tags.parquet"
    args = ["tag", "--catalog", str(manifest_catalog), "--checkpoint", str(ckpt_dir), "--labels", str(labels),
            "--set", "genres", "--out", str(out), "--write-db", str(idx), "--no-progress"]
    assert main(args) == 0
    table = pq.read_table(out).to_pydict()
    with open_catalog(idx) as cat:
        assert cat.ntotal == 6
        for label in LABELS:
            want = sorted(t for t, top in zip(table["track_id"], table["top_label"]) if top == label)
            got = sorted(r.track_id for r in cat.tracks(cat.filter_ids(tags_any=[label])) if r is not None)
            manifest_tagged = {"rock": ["clip1", "clip4"], "jazz": ["clip2", "clip5"], "ambient": ["clip0", "clip3"]}
            assert got == sorted(set(want) | set(manifest_tagged[label]))
        record = cat.tracks(cat.db.ids_for(["clip0"]))[0]
        assert record.attributes["zeroshot"]["genres"] == [table["top_label"][0]] and "tone" in record.tags
    capsys.readouterr()
    assert main(args) == 0  # again: same tags, nothing to change
    assert json.loads(capsys.readouterr().out)["db"] == {"updated": 0, "unchanged": 6, "missing": 0}


def test_tag_an_index_source(ckpt, manifest_catalog, tmp_path):
    idx = tmp_path / "idx"
    assert main(["index", "build", "--catalog", str(manifest_catalog), "--out", str(idx), "--no-progress"]) == 0
    a = pq.read_table(_tag(ckpt, manifest_catalog, tmp_path / "a.parquet").out).to_pydict()
    b = pq.read_table(_tag(ckpt, idx, tmp_path / "b.parquet", part_size=4).out).to_pydict()
    assert a["track_id"] == b["track_id"] and a["top_label"] == b["top_label"]
    np.testing.assert_allclose(a["top_score"], b["top_score"], atol=1e-5)


def test_other_model_is_refused(make_ckpt, manifest_catalog, tmp_path):
    from muscall.checkpoint import load_checkpoint

    other = load_checkpoint(make_ckpt(tmp_path / "other", seed=3))
    with pytest.raises(MuscallError, match="built with model"):
        _tag(other, manifest_catalog, tmp_path / "t.parquet")


def test_label_set_choice(tmp_path, ckpt_dir, manifest_catalog, capsys):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"genres": LABELS, "moods": ["calm"]}))
    assert main(["tag", "--catalog", str(manifest_catalog), "--checkpoint", str(ckpt_dir), "--labels",
                 str(labels), "--no-progress"]) == 2
    assert "choose one with --set" in capsys.readouterr().err


def test_scorer_single_and_threshold():
    w = np.eye(3, 4, dtype=np.float32)
    emb = np.array([[0.9, 0.1, 0.0, 0.0], [0.3, 0.3, 0.3, 0.0]], np.float32)
    scorer = Scorer(["a", "b", "c"], w, "single", 0.1, parse_thresholds("0.5", ["a", "b", "c"], "single"))
    probs = scorer.score(emb)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    top, chosen = scorer.select(probs)
    assert top.tolist() == [0, 0] and chosen.tolist() == [[True, False, False], [False, False, False]]


def test_scorer_multi_calibrated_against_reference():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((2, 5)).astype(np.float32)
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    emb = rng.standard_normal((50, 5)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    stats = LabelStats(w)
    for chunk in np.array_split(emb, 3):
        stats.update(chunk)
    mean, std = stats.result()
    cos = emb @ w.T
    np.testing.assert_allclose(mean, cos.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(std, cos.std(axis=0), atol=1e-6)
    scorer = Scorer(["x", "y"], w, "multi", 2.0, np.array([0.7, 0.5]), np.array(mean), np.array(std))
    p = scorer.score(emb)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-(cos - mean) / (np.array(std) * 2.0))), atol=1e-5)
    assert (scorer.select(p)[1] == (p >= [0.7, 0.5])).all()


def test_parse_thresholds():
    labels = ["rock", "jazz"]
    assert parse_thresholds(None, labels, "multi").tolist() == [0.9, 0.9]
    assert all(math.isnan(t) for t in parse_thresholds(None, labels, "single"))
    assert parse_thresholds("jazz=0.3,default=0.8", labels, "multi").tolist() == [0.8, 0.3]
    with pytest.raises(MuscallError, match="unknown label"):
        parse_thresholds("pop=0.3", labels, "multi")
    with pytest.raises(MuscallError, match="not a number"):
        parse_thresholds("rock=high", labels, "multi")


def test_retagged_replaces_the_sets_previous_labels():
    record = TrackRecord("t1", tags=["live", "rock"], attributes={"zeroshot": {"genres": ["rock"]}})
    meta = retagged(record, ["jazz"], "genres")
    assert meta.tags == ["jazz", "live"] and meta.attributes["zeroshot"] == {"genres": ["jazz"]}
    same = TrackRecord("t1", tags=["jazz", "live"], attributes={"zeroshot": {"genres": ["jazz"]}})
    assert retagged(same, ["jazz"], "genres") is None


def test_altered_shard_is_refused(ckpt, manifest_catalog, tmp_path):
    import shutil

    cat = tmp_path / "cat"
    shutil.copytree(manifest_catalog, cat)
    np.save(cat / "shard-00001.npy", np.zeros((2, 32), np.float32))
    with pytest.raises(MuscallError, match="checksum does not match"):
        _tag(ckpt, cat, tmp_path / "t.parquet")
