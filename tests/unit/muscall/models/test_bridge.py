"""The vocabulary bridge: unseen query words become the nearest known word, at inference only."""

from __future__ import annotations

import numpy as np
import pytest

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
