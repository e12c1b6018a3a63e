"""Report writers: strict atomic JSON, Markdown tables, non-empty PNG plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from muscall.eval import metrics as M
from muscall.eval import quality_metrics as Q
from muscall.eval import report as R

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _reject_constant(name):
    raise AssertionError(f"non-standard JSON constant {name}")


def test_write_json_is_strict_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "out" / "results.json"
    R.write_json(path, {"lcc": float("nan"), "n": np.int64(3), "r": np.float32(0.5), "ranks": np.array([1, 2]),
                        "pair": (1, 2), "nested": {1: np.inf}})
    loaded = json.loads(path.read_text(), parse_constant=_reject_constant)
    assert loaded == {"lcc": None, "n": 3, "r": 0.5, "ranks": [1, 2], "pair": [1, 2], "nested": {"1": None}}
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]


@pytest.fixture
def retrieval_results():
    rng = np.random.default_rng(0)
    audio = rng.normal(size=(40, 6))
    text = audio + rng.normal(size=(40, 6))
    return M.retrieval_both_directions(audio, text, relevance=rng.random((40, 40)) < 0.2, pool_size=25, seed=7)


def test_markdown_table_names_directions_pool_and_seed(retrieval_results):
    md = R.markdown_table(retrieval_results)
    lines = md.splitlines()
    assert lines[0] == "Pool size: 25 of 40 pairs, seed: 7"
    assert lines[2] == "| metric | text -> audio | audio -> text | chance |"
    r1 = next(line for line in lines if line.startswith("| R@1 |"))
    t2a, a2t = retrieval_results["text_to_audio"]["R@1"], retrieval_results["audio_to_text"]["R@1"]
    assert r1 == f"| R@1 | {t2a:.4f} | {a2t:.4f} | {1 / 25:.4f} |"
    assert any(line.startswith("| attr_nDCG@10 |") for line in lines)
    assert not any("n_queries" in line for line in lines)


def test_markdown_table_single_direction_and_bad_input():
    md = R.markdown_table({"audio_to_text": M.retrieval_metrics(np.eye(3))})
    assert "| metric | audio -> text |" in md and "Pool size: 3 items" in md
    with pytest.raises(ValueError, match="text_to_audio"):
        R.markdown_table({"R@1": 0.5})


def test_markdown_table_quality_report():
    rng = np.random.default_rng(1)
    true = rng.normal(size=30)
    report = Q.quality_report(true + rng.normal(size=30), true, np.repeat(["a", "b", "c"], 10), n_boot=50, seed=3)
    md = R.markdown_table(report)
    assert "n=50, seed: 3" in md and "truth=split_mean" in md and "95% CI" in md
    lcc_row = next(line for line in md.splitlines() if line.startswith("| LCC |"))
    assert f"{report['utterance']['LCC']:.4f}" in lcc_row


def _assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 2000


def test_plots_write_non_empty_pngs(tmp_path):
    rng = np.random.default_rng(2)
    ranks = {"model": M.rank_of_targets(rng.normal(size=(30, 30)) + 3 * np.eye(30)),
             "random": M.rank_of_targets(rng.normal(size=(30, 30)))}
    _assert_png(R.plot_recall_curve(ranks, tmp_path / "recall.png"))
    _assert_png(R.plot_confusion(np.array([[5, 1, 0], [2, 3, 0], [0, 0, 4]]), ["a", "b", "c"], tmp_path / "cm.png"))
    true = rng.normal(size=40)
    _assert_png(R.plot_scatter(true + rng.normal(size=40), true, tmp_path / "scatter.png", "toy"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm.png", "recall.png", "scatter.png"]


def test_plot_inputs_are_checked(tmp_path):
    with pytest.raises(ValueError, match="one label per class"):
        R.plot_confusion(np.eye(3), ["a", "b"], tmp_path / "cm.png")
    with pytest.raises(ValueError, match="at least one"):
        R.plot_recall_curve({}, tmp_path / "r.png")
