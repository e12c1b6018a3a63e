"""The tag job's calibration: the checkpoint's fitted temperature, --calibration rules and abstention."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from muscall.catalog.tagging import TagJob, run_tag_job
from muscall.checkpoint import load_checkpoint
from muscall.cli.main import main
from muscall.errors import MuscallError
from muscall.zeroshot import save_fitted_temperature, softmax, templates_for

LABELS = ["ambient", "rock", "jazz"]


def _tag(ckpt, source, out, labels=LABELS, **kwargs):
    job = TagJob(source=str(source), labels=labels, label_set="genres", out=str(out), progress=False, **kwargs)
    return run_tag_job(ckpt, job)


def _table(result) -> dict:
    return pq.read_table(result.out).to_pydict()


def _scores(table, labels=LABELS) -> np.ndarray:
    return np.stack([table[f"score:{label}"] for label in labels], axis=1)


@pytest.fixture
def fitted_ckpt(ckpt_dir, tmp_path):
    """A private copy of the checkpoint with a genres temperature of 0.02 stored beside it."""
    path = shutil.copytree(ckpt_dir, tmp_path / "ckpt")
    ckpt = load_checkpoint(path)
    save_fitted_temperature(path, ckpt.sha256, "genres", {"temperature": 0.02, "labels": LABELS,
                                                          "templates": templates_for("genres")})
    return ckpt


def test_single_mode_uses_the_fitted_temperature(fitted_ckpt, manifest_catalog, tmp_path):
    fitted = _tag(fitted_ckpt, manifest_catalog, tmp_path / "fitted.parquet")
    plan = json.loads((tmp_path / "fitted.parquet.job.json").read_text())["settings"]
    assert plan["calibration"] == "fitted" and plan["temperature"] == 0.02
    model = _tag(fitted_ckpt, manifest_catalog, tmp_path / "model.parquet", calibration="none")
    model_t = 1.0 / float(fitted_ckpt.model.scale().detach())
    assert json.loads((tmp_path / "model.parquet.job.json").read_text())["settings"]["temperature"] == model_t
    # same cosines, two temperatures: recover the cosine differences from the model run, re-softmax at 0.02
    p_model = _scores(_table(model)).astype(np.float64)
    logits = np.log(p_model) * model_t
    np.testing.assert_allclose(_scores(_table(fitted)), softmax(logits, 0.02), atol=1e-4)


def test_fitted_temperature_for_other_labels_is_not_used(fitted_ckpt, manifest_catalog, tmp_path):
    other = ["jazz", "rock", "ambient"]
    _tag(fitted_ckpt, manifest_catalog, tmp_path / "t.parquet", labels=other)
    assert json.loads((tmp_path / "t.parquet.job.json").read_text())["settings"]["calibration"] == "none"
    with pytest.raises(MuscallError, match="no temperature fitted"):
        _tag(fitted_ckpt, manifest_catalog, tmp_path / "u.parquet", labels=other, calibration="fitted")


def test_abstention_below_the_threshold(ckpt, manifest_catalog, tmp_path):
    plain = _table(_tag(ckpt, manifest_catalog, tmp_path / "plain.parquet"))
    assert not any(plain["abstained"])
    top = np.array(plain["top_score"])
    cut = float(np.median(top))
    table = _table(_tag(ckpt, manifest_catalog, tmp_path / "abstain.parquet", abstain_below=cut))
    below = top < cut
    assert below.any() and not below.all()
    assert table["abstained"] == below.tolist()
    assert table["labels"] == [[] if b else [t] for b, t in zip(below, plain["top_label"])]
    assert table["top_label"] == plain["top_label"]  # the best candidate stays visible


@pytest.mark.parametrize("kwargs, needle", [
    ({"mode": "multi", "abstain_below": 0.5}, "--mode single"),
    ({"abstain_below": 0.5, "threshold": "0.4"}, "not both"),
    ({"abstain_below": 1.5}, "in \\[0, 1\\]"),
    ({"calibration": "catalog"}, "does not apply to --mode single"),
    ({"mode": "multi", "calibration": "fitted"}, "does not apply to --mode multi"),
])
def test_bad_calibration_settings(ckpt, manifest_catalog, tmp_path, kwargs, needle):
    with pytest.raises(MuscallError, match=needle):
        _tag(ckpt, manifest_catalog, tmp_path / "x.parquet", **kwargs)


def test_cli_abstain_below(ckpt_dir, manifest_catalog, tmp_path, capsys):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"genres": LABELS}))
    out = tmp_path / "tags.csv"
    assert main(["tag", "--catalog", str(manifest_catalog), "--checkpoint", str(ckpt_dir), "--labels", str(labels),
                 "--abstain-below", "1.0", "--out", str(out), "--no-progress"]) == 0
    rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
    assert rows and all(r[4] == "" and r[5] == "true" for r in rows)
