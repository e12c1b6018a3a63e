"""The whole model path on tiny sizes: synth corpus -> train -> eval retrieval and zero-shot, through the CLI."""

from __future__ import annotations

import json

import pytest

from muscall.cli.main import main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("it") / "corpus"
    assert main(["data", "synth", "--out", str(out), "--n", "40", "--seconds", "3", "--workers", "1",
                 "--splits", "0.6,0.2,0.2", "--no-progress"]) == 0
    return out


@pytest.mark.slow
def test_synth_train_eval(corpus, tmp_path, capsys):
    manifest = corpus / "manifest.jsonl"
    assert main(["train", "tiny", f"data.manifest={manifest}", "train.epochs=1", "--out", str(tmp_path / "run"),
                 "--no-progress"]) == 0
    ckpt = tmp_path / "run" / "checkpoints" / "best"
    assert (ckpt / "model.safetensors").is_file() and (ckpt / "meta.json").is_file()

    assert main(["eval", "retrieval", "--checkpoint", str(ckpt), "--manifest", str(manifest),
                 "--out", str(tmp_path / "eval")]) == 0
    res = json.loads((tmp_path / "eval" / "retrieval.json").read_text())
    for direction in ("text_to_audio", "audio_to_text"):
        block = res[direction]
        assert 0.0 <= block["R@1"] <= block["R@5"] <= block["R@10"] <= 1.0
        assert block["MedR"] >= 1
    assert res["pool"]["size"] == res["text_to_audio"]["n_queries"]
    assert "attr_mAP@10" in res["text_to_audio"]
    assert (tmp_path / "eval" / "recall_at_k.png").stat().st_size > 1000
    assert "text -> audio" in capsys.readouterr().out
    assert main(["eval", "retrieval", "--checkpoint", str(ckpt), "--manifest", str(manifest), "--key-weight", "0",
                 "--out", str(tmp_path / "nokey")]) == 0
    plain = json.loads((tmp_path / "nokey" / "retrieval.json").read_text())
    assert res["key_weight"] == 0.3 and plain["key_weight"] == 0.0  # text search's weight by default
    assert plain["audio_to_text"] == res["audio_to_text"]  # the key agreement ranks text->audio only
    assert plain["text_to_audio"] != res["text_to_audio"]  # half the synth captions name a key or mode
    assert main(["eval", "retrieval", "--checkpoint", str(ckpt), "--manifest", str(manifest), "--protocol", "multi",
                 "--out", str(tmp_path / "multi")]) == 0
    multi = json.loads((tmp_path / "multi" / "retrieval.json").read_text())
    assert main(["eval", "retrieval", "--checkpoint", str(ckpt), "--manifest", str(manifest), "--protocol", "multi",
                 "--key-weight", "0", "--out", str(tmp_path / "multi-nokey")]) == 0
    multi_plain = json.loads((tmp_path / "multi-nokey" / "retrieval.json").read_text())
    assert multi_plain["text_to_audio"] != multi["text_to_audio"]
    assert multi_plain["audio_to_text"] == multi["audio_to_text"]
    assert multi["protocol"] == "multi" and multi["n_captions"] == multi["text_to_audio"]["n_queries"]
    assert multi["n_captions"] >= multi["n_tracks"] == multi["audio_to_text"]["n_queries"] == res["pool"]["size"]

    assert main(["eval", "zeroshot", "--checkpoint", str(ckpt), "--manifest", str(manifest),
                 "--out", str(tmp_path / "eval")]) == 0
    zs = json.loads((tmp_path / "eval" / "zeroshot.json").read_text())
    labels = json.loads((corpus / "labels.json").read_text())
    assert zs["genres"]["n_classes"] == len(labels["genres"])
    assert 0.0 <= zs["genres"]["accuracy"] <= 1.0
    assert 0.0 <= zs["instruments"]["roc_auc_macro"] <= 1.0
    assert len(zs["genres"]["templates"]) > 1
    assert (tmp_path / "eval" / "genre_confusion.png").is_file()
    before = zs["genres"]["calibration"]["before"]
    assert 0.0 <= before["ece"] <= 1.0 and len(before["reliability"]) == 15
    assert "after" not in zs["genres"]["calibration"]

    assert main(["eval", "zeroshot", "--checkpoint", str(ckpt), "--manifest", str(manifest), "--split", "val",
                 "--fit-temperature", "--out", str(tmp_path / "val")]) == 0
    val = json.loads((tmp_path / "val" / "zeroshot.json").read_text())["genres"]["calibration"]
    assert val["after"]["nll"] <= val["before"]["nll"] + 1e-9 and (ckpt / "zeroshot_calibration.json").is_file()
    assert main(["eval", "zeroshot", "--checkpoint", str(ckpt), "--manifest", str(manifest),
                 "--out", str(tmp_path / "eval")]) == 0
    after = json.loads((tmp_path / "eval" / "zeroshot.json").read_text())["genres"]["calibration"]["after"]
    assert after["temperature"] == pytest.approx(val["after"]["temperature"])
    assert "| after |" in (tmp_path / "eval" / "zeroshot.md").read_text()


def test_eval_with_a_missing_checkpoint_is_a_clear_error(corpus, tmp_path, capsys):
    code = main(["eval", "retrieval", "--checkpoint", str(tmp_path / "nope"), "--manifest",
                 str(corpus / "manifest.jsonl")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err
