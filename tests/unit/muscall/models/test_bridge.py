"""The vocabulary bridge: unseen query words become the nearest known word, at inference only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from muscall.checkpoint import load_checkpoint, save_checkpoint
from muscall.cli.main import main
from muscall.config import ConfigError, load_config
from muscall.data.manifest import ClipRow, write_manifest
from muscall.errors import MuscallError
from muscall.embedding import embed_texts
from muscall.models import build_tokenizer, create_model, minilm_available
from muscall.models.bridge import BRIDGE_FILE, VocabularyBridge, build_bridge
from muscall.models.tokenizer import CaptionTokenizer
from tests.support.tiny_service import make_tiny_checkpoint

needs_minilm = pytest.mark.skipif(not minilm_available(), reason="optional MiniLM package not installed")
CAPTIONS = ["a relaxed jazz tune with piano, reverberant and slow", "an angry metal song with electric guitar",
            "a relaxed ambient piece with synth pads", "a fast techno track with drums"]


def _fixed(threshold: float = 0.6) -> VocabularyBridge:
    """A bridge whose unknown-word vectors are known in advance (no MiniLM): 'calming' is near 'relaxed'."""
    bridge = VocabularyBridge(["relaxed", "piano", "with", "drum", "kit"], ["relaxed", "piano"],
                              np.eye(2, dtype=np.float32), threshold)
    bridge._memo.update({"calming": "relaxed", "bicycle": "bicycle"})
    return bridge


def test_unknown_words_map_and_known_glue_short_and_compound_words_stay():
    bridge = _fixed()
    assert bridge.rewrite("Calming piano with a bicycle") == "relaxed piano with a bicycle"
    assert bridge.word("drum-kit") == "drum-kit"  # every part known: the tokenizer reads it as it is
    assert bridge.word("something") == "something" and bridge.word("ok") == "ok" and bridge.word("120") == "120"
    for word in ("80s", "take-2031", "op47"):  # a word with a digit is never looked up (no MiniLM pass)
        assert bridge.word(word) == word and word not in bridge._memo


@needs_minilm
def test_built_bridge_maps_close_words_only_above_its_threshold():
    bridge = build_bridge(CAPTIONS, threshold=0.6)
    assert "with" not in bridge.targets  # in every caption: structural, never a target
    assert bridge.rewrite_batch(["Guitars and drumming, techno-ish", "bicycle"]) == ["guitar and drums, techno",
                                                                                       "bicycle"]
    strict = build_bridge(CAPTIONS, threshold=1.0)
    assert strict.rewrite("guitars") == "guitars"


@needs_minilm
def test_tokenizer_saves_the_bridge_and_uses_it_for_queries_not_training(tmp_path):
    cfg = load_config("tiny", ["model.text.bridge_threshold=0.6"])
    tokenizer = build_tokenizer(cfg, CAPTIONS)
    assert tokenizer.bridge is not None
    loaded = CaptionTokenizer.load(tokenizer.save(tmp_path))
    assert (tmp_path / BRIDGE_FILE).is_file() and loaded.bridge.threshold == pytest.approx(0.6)
    queries, _ = loaded.encode_queries(["angrily played pianos"], 16)
    assert queries.tolist() == loaded.encode_batch(["angry played piano"], 16)[0].tolist()
    assert loaded.encode_batch(["angrily played pianos"], 16)[0].tolist() != queries.tolist()


def test_off_by_config_and_bad_thresholds_are_refused(tmp_path):
    assert build_tokenizer(load_config("tiny"), CAPTIONS).bridge is None  # tiny: bridge_threshold 0
    with pytest.raises(ConfigError, match="bridge_threshold"):
        load_config("tiny", ["model.text.bridge_threshold=1.5"])
    (tmp_path / BRIDGE_FILE).write_bytes(b"not a bridge")
    with pytest.raises(MuscallError, match="muscall bridge"):
        VocabularyBridge.load(tmp_path)


def test_every_inference_text_path_reads_through_the_bridge():
    cfg = load_config("tiny")
    tokenizer = build_tokenizer(cfg, CAPTIONS)
    model = create_model(cfg, vocab_size=tokenizer.vocab_size).eval()
    tokenizer.bridge = _fixed()
    bridged, known = embed_texts(model, tokenizer, ["calming piano", "relaxed piano"], 16)
    np.testing.assert_allclose(bridged, known, atol=1e-6)  # search, tag and eval all embed through embed_texts
    tokenizer.bridge = None
    plain, _ = embed_texts(model, tokenizer, ["calming piano", "relaxed piano"], 16)
    assert not np.allclose(plain, known, atol=1e-3)


def test_a_bridge_is_skipped_with_a_warning_without_minilm(tmp_path, monkeypatch, caplog):
    _fixed().save(tmp_path)
    monkeypatch.setattr("muscall.models.minilm.minilm_available", lambda: False)
    assert VocabularyBridge.load(tmp_path) is None  # the model still serves, reading queries as they are
    assert "needs the optional MiniLM package" in caplog.text


@needs_minilm
def test_muscall_bridge_can_be_rerun_on_a_checkpoint_and_it_still_verifies(tmp_path):
    ckpt = load_checkpoint(make_tiny_checkpoint(tmp_path / "tiny"))
    ckpt.tokenizer.bridge = _fixed()  # trained with a bridge: its file is checksummed in meta.json
    ckpt_dir = save_checkpoint(tmp_path / "ckpt", ckpt.model, ckpt.config, ckpt.tokenizer)
    rows = [ClipRow(id=f"c{i}", audio_path=f"{i}.wav", caption=c, split="train") for i, c in enumerate(CAPTIONS)]
    write_manifest(tmp_path / "manifest.jsonl", rows)
    for threshold in ("0.6", "0.7"):
        assert main(["bridge", "--checkpoint", str(ckpt_dir), "--manifest", str(tmp_path / "manifest.jsonl"),
                     "--threshold", threshold]) == 0
        assert load_checkpoint(ckpt_dir).tokenizer.bridge.threshold == pytest.approx(float(threshold))


def _with_captions(neighbours: int = 1) -> VocabularyBridge:
    """:func:`_fixed` keeping two training captions, the first along MiniLM's axis 0 and the second along axis 1."""
    bridge = VocabularyBridge(["relaxed", "piano", "with", "drum", "kit", "fast", "techno", "track", "jazz"],
                              ["relaxed", "piano"], np.eye(2, dtype=np.float32), 0.6,
                              captions=["a fast techno track", "relaxed jazz piano"],
                              caption_vectors=np.eye(2, 384, dtype=np.float32), neighbours=neighbours)
    bridge._memo.update({"zorbly": "zorbly", "calming": "relaxed"})
    return bridge


def test_a_query_with_unknown_words_borrows_from_its_nearest_captions_by_its_unknown_share(monkeypatch):
    cfg = load_config("tiny")
    tokenizer = build_tokenizer(cfg, [*CAPTIONS, "a fast techno track", "relaxed jazz piano"])
    model = create_model(cfg, vocab_size=tokenizer.vocab_size).eval()
    looked_up = []
    monkeypatch.setattr("muscall.models.minilm.sentence_vectors",  # every query reads nearest to caption 2
                        lambda texts: looked_up.extend(texts) or np.tile(np.eye(1, 384, 1, dtype=np.float32),
                                                                          (len(texts), 1)))
    tokenizer.bridge = _with_captions(neighbours=0)
    alone = embed_texts(model, tokenizer, ["zorbly piano", "relaxed piano"], 16)
    tokenizer.bridge = _with_captions()
    mixed = embed_texts(model, tokenizer, ["zorbly piano", "relaxed piano"], 16)
    assert looked_up == ["zorbly piano"]  # a query in the tower's own words costs no MiniLM pass
    np.testing.assert_allclose(mixed[1], alone[1], atol=1e-6)  # and is left exactly as it was
    tokenizer.bridge = None
    nearest = embed_texts(model, tokenizer, ["relaxed jazz piano"], 16)[0]
    expected = 0.5 * alone[0] + 0.5 * nearest  # "zorbly" is one of two content words
    np.testing.assert_allclose(mixed[0], expected / np.linalg.norm(expected), atol=1e-5)
    assert _with_captions().nearest_captions(["calming piano"])[0] == (0.5, [1])  # row 1: "relaxed jazz piano"
    bridge = tokenizer.bridge = _with_captions()
    calls = []
    table = bridge.caption_embeddings(model, lambda c: calls.append(c) or np.ones((len(c), 2)))
    assert bridge.caption_embeddings(model, lambda c: calls.append(c) or np.zeros((len(c), 2))) is table
    with torch.no_grad():
        model.text_projection.weight.mul_(2.0)  # a training step: the cached embeddings are stale
    assert bridge.caption_embeddings(model, lambda c: calls.append(c) or np.zeros((len(c), 2))).sum() == 0
    assert len(calls) == 2


def test_caption_neighbours_round_trip_and_older_bridges_load_without_them(tmp_path):
    _with_captions(neighbours=2).save(tmp_path)
    loaded = VocabularyBridge.load(tmp_path)
    assert loaded.captions == ["a fast techno track", "relaxed jazz piano"] and loaded.neighbours == 2
    np.savez(tmp_path / BRIDGE_FILE, known=np.array(["piano"]), targets=np.array(["piano"]),
             vectors=np.eye(1, 2, dtype=np.float16), threshold=np.array(0.6))  # as saved before neighbours
    older = VocabularyBridge.load(tmp_path)
    assert older.neighbours == 0 and older.captions == [] and older.nearest_captions(["zorbly"]) == [(1.0, [])]
    with pytest.raises(ConfigError, match="bridge_neighbours"):
        load_config("tiny", ["model.text.bridge_neighbours=-1"])


@needs_minilm
def test_built_bridge_keeps_its_captions_for_neighbours():
    bridge = build_bridge([*CAPTIONS, CAPTIONS[0]], threshold=0.6, neighbours=2)
    assert sorted(bridge.captions) == sorted(CAPTIONS) and bridge.neighbours == 2  # each distinct caption once
    share, nearest = bridge.nearest_captions(["a zorbly heavy metal song"])[0]
    assert share > 0 and "an angry metal song with electric guitar" in [bridge.captions[j] for j in nearest]
    assert build_bridge(CAPTIONS, neighbours=0).captions == []


@needs_minilm
def test_muscall_bridge_replaces_a_missing_or_unreadable_bridge(tmp_path):
    ckpt = load_checkpoint(make_tiny_checkpoint(tmp_path / "tiny"))
    ckpt.tokenizer.bridge = _fixed()
    ckpt_dir = save_checkpoint(tmp_path / "ckpt", ckpt.model, ckpt.config, ckpt.tokenizer)
    rows = [ClipRow(id=f"c{i}", audio_path=f"{i}.wav", caption=c, split="train") for i, c in enumerate(CAPTIONS)]
    write_manifest(tmp_path / "manifest.jsonl", rows)
    bridge_file = ckpt_dir / "tokenizer" / BRIDGE_FILE
    bridge_file.write_bytes(b"not a bridge")  # what the load error says to rebuild
    with pytest.raises(MuscallError, match="muscall bridge"):
        load_checkpoint(ckpt_dir, verify=False)
    for broken in (lambda: None, bridge_file.unlink):
        broken()
        assert main(["bridge", "--checkpoint", str(ckpt_dir), "--manifest", str(tmp_path / "manifest.jsonl")]) == 0
        assert load_checkpoint(ckpt_dir).tokenizer.bridge.captions == sorted(CAPTIONS)


def test_reading_names_the_mapped_and_the_kept_unknown_words():
    bridge = _fixed()
    assert bridge.reading("Calming piano with a bicycle, calming") == ({"calming": "relaxed"}, ["bicycle"], 0.0)
    assert bridge.reading("relaxed piano") == ({}, [], 0.0)
    with_captions = VocabularyBridge(["relaxed", "piano"], ["relaxed", "piano"], np.eye(2, dtype=np.float32), 0.6,
                                     ["relaxed piano"], np.zeros((1, 384), np.float32), neighbours=1)
    with_captions._memo.update({"calming": "relaxed", "bicycle": "bicycle"})
    assert with_captions.reading("calming bicycle piano")[2] == pytest.approx(2 / 3)  # its unknown share


def test_a_query_reading_names_the_key_and_the_words_for_people(monkeypatch):
    from muscall.reading import describe_reading, query_reading, query_readings

    class Tok:
        bridge = VocabularyBridge(["relaxed", "piano", "with", "minor"], ["relaxed", "piano"],
                                  np.eye(2, dtype=np.float32), 0.6)
        bridge._memo.update({"calming": "relaxed", "bicycle": "bicycle"})  # no MiniLM: the mappings are given

    reading = query_reading(Tok(), "calming piano with a bicycle in F# minor", key_weight=0.3)
    assert reading == {"key": "F# minor", "mapped_words": {"calming": "relaxed"}, "unknown_words": ["bicycle"],
                       "caption_share": 0.0}
    assert describe_reading(reading) == "key F# minor; calming -> relaxed; bicycle (unknown)"
    assert query_reading(Tok(), "piano in F# minor", key_weight=0.0)["key"] is None  # key agreement off
    assert describe_reading(query_reading(Tok(), "relaxed piano", 0.3)) == "every word known to the model"
    assert query_reading(Tok(), "Don’t want calming piano", 0.3)["unknown_words"] == []  # a phone's apostrophe
    learned = []
    def learn(words):  # as _learn does without MiniLM: nothing close, each word stays
        learned.append(words)
        Tok.bridge._memo.update({w: w for w in words})
        return {w: w for w in words}

    monkeypatch.setattr(Tok.bridge, "_learn", learn)
    query_readings(Tok(), ["soothing piano", "gentle relaxed piano"], 0.3)
    assert learned == [["gentle", "soothing"]]  # the words not yet looked up, in one MiniLM pass
    assert "no vocabulary bridge" in describe_reading(query_reading(object(), "relaxed piano", 0.3))
