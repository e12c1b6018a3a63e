"""``muscall index build|add|remove|info|search`` through the CLI entry point."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from index import LiveCatalog, ShardWriter, TrackMeta
from index.shards import load_catalog
from muscall.catalog.indexing import detect_attribute_fields, format_hits, index_info
from muscall.checkpoint import load_checkpoint
from muscall.cli.main import main
from muscall.embedding import embed_texts

from_catalog_ids = ["clip0", "clip1", "clip2", "clip3", "clip4", "clip5"]


@pytest.fixture
def index_dir(manifest_catalog, tmp_path):
    out = tmp_path / "idx"
    assert main(["index", "build", "--catalog", str(manifest_catalog), "--out", str(out), "--no-progress"]) == 0
    return out


def _search(capsys, index_dir, ckpt_dir, *extra):
    capsys.readouterr()
    code = main(["index", "search", "--index", str(index_dir), "--checkpoint", str(ckpt_dir), "--json", *extra])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err)


def _synthetic_catalog(path, model_hash, dim=32, n=3, prefix="new"):
    rng = np.random.default_rng(0)
    writer = ShardWriter(path, shard_size=10, dtype="float32", model_hash=model_hash)
    writer.write_shard(0, rng.standard_normal((n, dim)), [TrackMeta(f"{prefix}{i}", title=f"New {i}") for i in range(n)])
    writer.finalize()
    return path


def test_build_and_info(index_dir, capsys, ckpt):
    capsys.readouterr()
    assert main(["index", "info", "--index", str(index_dir)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["live"] == 6 and info["dim"] == 32 and info["factory"] == "Flat"
    assert info["model_hash"] == ckpt.sha256 and info["attribute_fields"] == ["genre", "tempo"]


def test_attribute_fields_skip_captions_and_window_starts(manifest_catalog):
    assert detect_attribute_fields(manifest_catalog) == ("genre", "tempo")


def test_search_matches_exact_scores(index_dir, ckpt_dir, ckpt, manifest_catalog, capsys):
    code, hits = _search(capsys, index_dir, ckpt_dir, "--text", "jazz piano tune", "--k", "3")
    assert code == 0 and len(hits) == 3
    cat = load_catalog(manifest_catalog)
    emb = np.concatenate([np.asarray(s.embeddings) for s in cat.iter_shards()])
    q = embed_texts(ckpt.model, ckpt.tokenizer, ["jazz piano tune"], ckpt.config.model.text.max_tokens)
    scores = (emb @ q.T).ravel()
    want = [from_catalog_ids[i] for i in np.argsort(-scores)[:3]]
    assert [h["track_id"] for h in hits] == want
    np.testing.assert_allclose([h["score"] for h in hits], np.sort(scores)[::-1][:3], atol=1e-5)
    assert hits[0]["title"].startswith("tone")


def test_search_filters(index_dir, ckpt_dir, capsys):
    _, jazz = _search(capsys, index_dir, ckpt_dir, "--text", "music", "--genre", "jazz")
    assert sorted(h["track_id"] for h in jazz) == ["clip2", "clip5"]
    _, rock = _search(capsys, index_dir, ckpt_dir, "--text", "music", "--tag", "rock", "--tag", "jazz", "--k", "3")
    assert len(rock) == 3 and all(("rock" in h["tags"]) or ("jazz" in h["tags"]) for h in rock)


def test_table_output(index_dir, ckpt_dir, capsys):
    capsys.readouterr()
    assert main(["index", "search", "--index", str(index_dir), "--checkpoint", str(ckpt_dir), "--text", "calm",
                 "--k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["#", "score", "title", "track_id"] and len(lines) == 4
    assert format_hits([]).startswith("no results")


def test_add_and_remove(index_dir, ckpt, ckpt_dir, tmp_path, capsys):
    more = _synthetic_catalog(tmp_path / "more", ckpt.sha256)
    assert main(["index", "add", "--index", str(index_dir), "--catalog", str(more)]) == 0
    assert index_info(index_dir)["live"] == 9
    _, hits = _search(capsys, index_dir, ckpt_dir, "--text", "x", "--k", "9")
    assert {"new0", "new1", "new2"} <= {h["track_id"] for h in hits}
    assert main(["index", "add", "--index", str(index_dir), "--catalog", str(more)]) == 2  # already there
    assert "already in the catalog" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["index", "remove", "--index", str(index_dir), "--ids", "clip0,new1,nope"]) == 0
    assert "not in the index (ignored): nope" in capsys.readouterr().out
    assert index_info(index_dir)["live"] == 7
    _, hits = _search(capsys, index_dir, ckpt_dir, "--text", "x", "--k", "9")
    assert len(hits) == 7 and not {"clip0", "new1"} & {h["track_id"] for h in hits}
    assert main(["index", "remove", "--index", str(index_dir), "--ids", "nope"]) == 2


def test_cli_writes_wait_for_a_running_service_and_keep_its_change(index_dir):
    served = LiveCatalog(index_dir)  # as `muscall serve` holds it
    editing, done = threading.Event(), threading.Event()

    def service_write() -> None:
        with served.edit() as catalog:  # a POST/DELETE through the API, slow to save
            catalog.remove(["clip1"])
            editing.set()
            time.sleep(0.5)
        done.set()

    writer = threading.Thread(target=service_write)
    writer.start()
    editing.wait(10)
    assert main(["index", "remove", "--index", str(index_dir), "--ids", "clip0"]) == 0  # waits for the lock
    writer.join(10)
    assert done.is_set() and index_info(index_dir)["live"] == 4  # both removals kept, neither refused nor lost
    assert served.refresh() and served.catalog.ntotal == 4  # the CLI save is a generation the service follows
    served.close()


def test_other_models_are_refused_with_the_reason(index_dir, tmp_path, capsys, ckpt):
    other = _synthetic_catalog(tmp_path / "other", "f" * 64)
    assert main(["index", "add", "--index", str(index_dir), "--catalog", str(other)]) == 2
    err = capsys.readouterr().err
    assert "built with model" in err and ckpt.sha256[:12] in err and "ffffffffffff" in err
    wide = _synthetic_catalog(tmp_path / "wide", ckpt.sha256, dim=16)
    assert main(["index", "add", "--index", str(index_dir), "--catalog", str(wide)]) == 2
    assert "32-d" in capsys.readouterr().err


@pytest.fixture
def other_ckpt_dir(tmp_path, make_ckpt):
    return make_ckpt(tmp_path / "other", seed=1)


def test_search_refuses_a_checkpoint_of_another_model(index_dir, other_ckpt_dir, capsys):
    code, err = _search(capsys, index_dir, other_ckpt_dir, "--text", "jazz")
    assert code == 2 and "built with model" in err and "rebuild the catalog with this model" in err
    assert load_checkpoint(other_ckpt_dir).sha256[:12] in err
