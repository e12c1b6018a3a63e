"""Caption tokenizer: specials, truncation keeping [EOS], HF files on disk and an exact save/load round trip."""

from __future__ import annotations

import json

import pytest
import torch
from tokenizers import Tokenizer

from muscall.errors import MuscallError
from muscall.models.tokenizer import CaptionTokenizer, train_tokenizer

CAPTIONS = [
    "A calm piano ballad with soft strings.",
    "Upbeat electronic dance track, heavy bass and synth leads!",
    "Distorted electric guitar riff over fast rock drums",
    "Slow jazz trio: upright bass, brushed drums and piano",
    "A cheerful ukulele melody with hand claps",
    "Dark ambient drone with reverb-heavy pads",
] * 3


@pytest.fixture(scope="module")
def tok() -> CaptionTokenizer:
    return train_tokenizer(CAPTIONS, vocab_size=200)


def test_special_token_ids(tok):
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    assert 4 < tok.vocab_size <= 200


def test_encode_batch_layout(tok):
    ids, mask = tok.encode_batch(["calm piano", "fast rock drums with heavy bass"], max_tokens=32)
    assert ids.dtype == torch.long and mask.dtype == torch.bool
    assert ids.shape == mask.shape and ids.shape[0] == 2
    for row, m in zip(ids, mask):
        n = int(m.sum())
        assert row[0] == tok.bos_id and row[n - 1] == tok.eos_id
        assert (row[n:] == tok.pad_id).all() and m[:n].all() and not m[n:].any()
        assert tok.unk_id not in row[:n].tolist()
    assert int(mask[1].sum()) == mask.shape[1]  # padded to the longest row only


def test_lowercase_and_punctuation_split(tok):
    upper, _ = tok.encode_batch(["CALM Piano!"], 16)
    lower, _ = tok.encode_batch(["calm piano !"], 16)
    assert torch.equal(upper, lower)
    assert tok.decode(upper[0]) == "calm piano!"


def test_truncation_keeps_eos(tok):
    ids, mask = tok.encode_batch([CAPTIONS[1] * 3, "piano"], max_tokens=6)
    assert ids.shape == (2, 6)
    assert ids[0].tolist()[0] == tok.bos_id and ids[0].tolist()[-1] == tok.eos_id
    assert mask[0].all()
    with pytest.raises(MuscallError):
        tok.encode_batch(["piano"], max_tokens=1)


def test_empty_caption_is_bos_eos(tok):
    ids, mask = tok.encode_batch([""], 8)
    assert ids.tolist() == [[tok.bos_id, tok.eos_id]] and mask.all()


def test_unseen_characters_map_to_unk(tok):
    ids, mask = tok.encode_batch(["piano ☃"], 8)
    assert tok.unk_id in ids[0].tolist()


def test_save_load_round_trip_and_hf_files(tok, tmp_path):
    tok.save(tmp_path / "tok")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert (tmp_path / "tok" / name).is_file()
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert config["pad_token"] == "[PAD]" and config["eos_token"] == "[EOS]"
    specials = json.loads((tmp_path / "tok" / "special_tokens_map.json").read_text())
    assert specials["bos_token"] == "[BOS]" and specials["unk_token"] == "[UNK]"
    loaded = CaptionTokenizer.load(tmp_path / "tok")
    texts = CAPTIONS[:6] + ["unheard words like zyxwv", ""]
    for a, b in zip(tok.encode_batch(texts, 12), loaded.encode_batch(texts, 12)):
        assert torch.equal(a, b)
    assert loaded.vocab_size == tok.vocab_size
    # What a Hugging Face fast tokenizer would do with tokenizer.json alone: the post-processor adds [BOS]/[EOS].
    raw = Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json"))
    ids, mask = tok.encode_batch(["calm piano ballad"], 32)
    assert raw.encode("calm piano ballad").ids == ids[0][mask[0]].tolist()


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(MuscallError, match="tokenizer.json"):
        CaptionTokenizer.load(tmp_path)
    (tmp_path / "tokenizer.json").write_text("not json")
    with pytest.raises(MuscallError, match="not a valid tokenizer"):
        CaptionTokenizer.load(tmp_path)


def test_training_needs_captions():
    with pytest.raises(MuscallError, match="no non-empty captions"):
        train_tokenizer(["", "  "], 100)
    with pytest.raises(MuscallError, match="vocab_size"):
        train_tokenizer(CAPTIONS, 3)


@pytest.mark.parametrize("text", ["zydeco with kazoo and mbira", "pianno ballad with sofft strnigs", "quixotic 7/8"])
def test_unseen_and_typo_words_split_into_subwords_not_unk(tok, text):
    pieces = tok.tokenizer.encode(text, add_special_tokens=False).ids
    assert pieces and pieces.count(tok.unk_id) == 0
    assert tok.decode(pieces).replace(" ", "") == text.replace(" ", "")


def test_fallback_pieces_fit_in_vocab_size():
    small = train_tokenizer(CAPTIONS, vocab_size=120)
    vocab = small.tokenizer.get_vocab()
    assert small.vocab_size <= 120 and sorted(vocab.values()) == list(range(len(vocab)))
    assert {"q", "##q", "7", "##7", "/"} <= set(vocab)


def test_trainings_that_find_the_same_pieces_agree_on_every_id():
    tones = ["low calm sine tone", "high bright sine tone", "noisy low rumble", "noisy high hiss"] * 8
    vocabs = [train_tokenizer(tones, vocab_size=300).tokenizer.get_vocab() for _ in range(5)]
    assert all(set(v) == set(vocabs[0]) for v in vocabs)  # no tie at the vocabulary's cut here
    assert all(v == vocabs[0] for v in vocabs)  # the trainer's own ids differ from run to run
