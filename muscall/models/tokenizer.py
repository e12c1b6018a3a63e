"""Caption tokenizer: a WordPiece vocabulary trained on the corpus captions with the ``tokenizers`` library.

Text is NFD-normalised, lower-cased and stripped of accents, then split on whitespace and punctuation
(BERT's pre-tokenizer). Special tokens: ``[PAD]`` = 0, ``[UNK]`` = 1, ``[BOS]`` = 2 (the CLS role),
``[EOS]`` = 3 (the SEP role). Every encoded caption is ``[BOS] ... [EOS]``; truncation drops words from the
end but always keeps ``[EOS]``.

Unseen words degrade to subwords, not ``[UNK]``: the vocabulary always holds every letter and digit both as a
word start (``x``) and as a continuation (``##x``), so a typo or a word the captions never used still splits
into pieces the text tower has embeddings for (WordPiece maps a whole word to ``[UNK]`` when any piece is missing).

:meth:`CaptionTokenizer.save` writes the Hugging Face layout (``tokenizer.json``, ``tokenizer_config.json``,
``special_tokens_map.json``), so ``transformers.PreTrainedTokenizerFast.from_pretrained(dir)`` loads it too.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from index.fileio import atomic_write_json, atomic_write_text
from muscall.errors import MuscallError
from muscall.models.bridge import VocabularyBridge

PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "[BOS]", "[EOS]"
SPECIALS = (PAD, UNK, BOS, EOS)
PREFIX = "##"
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
PUNCTUATION = "-/&',.:;!?()"  # the pre-tokenizer makes each a word of its own
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "tokenizer_config.json"
SPECIAL_MAP_FILE = "special_tokens_map.json"


class CaptionTokenizer:
    """A ``tokenizers.Tokenizer`` plus the pad/bos/eos conventions the text tower relies on."""

    def __init__(self, tokenizer: Tokenizer, bos: str = BOS, eos: str = EOS, pad: str = PAD, unk: str = UNK):
        self.tokenizer = tokenizer
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk
        ids = {name: tokenizer.token_to_id(name) for name in (bos, eos, pad, unk)}
        missing = [name for name, i in ids.items() if i is None]
        if missing:
            raise MuscallError(f"tokenizer lacks special tokens {missing}; retrain it with train_tokenizer()")
        self.bos_id, self.eos_id, self.pad_id, self.unk_id = ids[bos], ids[eos], ids[pad], ids[unk]
        self.bridge: VocabularyBridge | None = None  # inference only: unseen query words -> known ones

    @property
    def vocab_size(self) -> int:
        """Number of token ids (special tokens included)."""
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    def encode_batch(self, texts: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids ``(B, L)`` int64 and mask ``(B, L)`` bool (True = real token), padded to the longest.

        Each row is ``[BOS] w1 .. wn [EOS]`` truncated to ``max_tokens`` (keeping ``[EOS]``), then ``[PAD]``.
        """
        if max_tokens < 2:
            raise MuscallError(f"max_tokens={max_tokens}: need room for at least [BOS] and [EOS]")
        if isinstance(texts, str):
            raise MuscallError("encode_batch takes a list of captions, got a single string; wrap it in a list")
        encoded = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        rows = [[self.bos_id, *enc.ids[: max_tokens - 2], self.eos_id] for enc in encoded]
        length = max((len(r) for r in rows), default=2)
        ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.bool)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = True
        return ids, mask

    def encode_queries(self, texts: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`encode_batch` of texts to embed at inference: words the tower never saw pass through the
        vocabulary bridge first, when the tokenizer has one (training encodes its captions with encode_batch)."""
        texts = list(texts)
        return self.encode_batch(self.bridge.rewrite_batch(texts) if self.bridge is not None else texts, max_tokens)

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """Text of one row of ids, special tokens dropped."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def save(self, directory: str | Path) -> Path:
        """Write the Hugging Face tokenizer files into ``directory`` (atomically, one by one)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(directory / TOKENIZER_FILE, self.tokenizer.to_str(pretty=True))
        specials = self._special_map()
        atomic_write_json(directory / SPECIAL_MAP_FILE, specials)
        atomic_write_json(directory / CONFIG_FILE, {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": 512,
            "padding_side": "right",
            "truncation_side": "right",
            "clean_up_tokenization_spaces": False,
            "added_tokens_decoder": self._added_tokens_decoder(),
            **specials,
        })
        if self.bridge is not None:
            self.bridge.save(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> CaptionTokenizer:
        """Load a tokenizer saved by :meth:`save` (or any HF fast tokenizer directory with these specials)."""
        directory = Path(directory)
        path = directory / TOKENIZER_FILE
        if not path.is_file():
            raise MuscallError(f"no {TOKENIZER_FILE} in '{directory}'; point at the directory a tokenizer was "
                               f"saved to (e.g. a run's tokenizer/ folder)")
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:  # tokenizers raises a bare Exception on a corrupt file
            raise MuscallError(f"{path}: not a valid tokenizer file ({err}); re-save or retrain it") from err
        config = _read_config(directory / CONFIG_FILE)
        names = {"bos": _token_name(config.get("bos_token") or config.get("cls_token"), BOS),
                 "eos": _token_name(config.get("eos_token") or config.get("sep_token"), EOS),
                 "pad": _token_name(config.get("pad_token"), PAD),
                 "unk": _token_name(config.get("unk_token"), UNK)}
        loaded = cls(tokenizer, **names)
        loaded.bridge = VocabularyBridge.load(directory)
        return loaded

    def _special_map(self) -> dict[str, str]:
        return {"bos_token": self.bos, "eos_token": self.eos, "unk_token": self.unk, "pad_token": self.pad,
                "cls_token": self.bos, "sep_token": self.eos}

    def _added_tokens_decoder(self) -> dict[str, dict]:
        out = {}
        for name in dict.fromkeys((self.pad, self.unk, self.bos, self.eos)):
            out[str(self.tokenizer.token_to_id(name))] = {"content": name, "lstrip": False, "normalized": False,
                                                          "rstrip": False, "single_word": False, "special": True}
        return out


def _read_config(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise MuscallError(f"{path}: not valid JSON ({err}); re-save the tokenizer") from err
    return config if isinstance(config, dict) else {}


def _token_name(value: object, default: str) -> str:
    if isinstance(value, dict):  # older HF configs store AddedToken dicts
        value = value.get("content")
    return value if isinstance(value, str) else default


def train_tokenizer(captions: list[str], vocab_size: int) -> CaptionTokenizer:
    """Train a lower-cased WordPiece tokenizer of at most ``vocab_size`` ids on ``captions``.

    Letters, digits and punctuation the trained pieces lack are added after a retrain that leaves room for them.
    Ids follow the specials in sorted token order, so two trainings that find the same pieces agree on every id
    (the trainer breaks ties between equally frequent merges in no fixed order).
    """
    if vocab_size <= len(SPECIALS):
        raise MuscallError(f"tokenizer vocab_size={vocab_size} is too small; use model.text.vocab_size >= 64")
    texts = [c for c in captions if isinstance(c, str) and c.strip()]
    if not texts:
        raise MuscallError("cannot train a tokenizer: no non-empty captions; check the manifest's caption field")
    vocab = _train_vocab(texts, vocab_size)
    if _fallback_tokens(vocab):  # make room for the fallback pieces, so the whole vocabulary stays within vocab_size
        vocab = _train_vocab(texts, max(len(SPECIALS) + 1, vocab_size - len(_fallback_tokens(vocab))))
    tokens = (set(vocab) | set(_fallback_tokens(vocab))) - set(SPECIALS)
    ids = {token: i for i, token in enumerate([*SPECIALS, *sorted(tokens)])}  # canonical: the trainer's order varies
    tokenizer = _new_tokenizer(models.WordPiece(ids, unk_token=UNK, max_input_chars_per_word=100,
                                                continuing_subword_prefix=PREFIX))
    tokenizer.add_special_tokens(list(SPECIALS))  # already in the vocabulary: keeps ids 0-3, marks them special
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", pair=f"{BOS} $A {EOS} $B:1 {EOS}:1",
        special_tokens=[(BOS, tokenizer.token_to_id(BOS)), (EOS, tokenizer.token_to_id(EOS))])
    return CaptionTokenizer(tokenizer)


def _new_tokenizer(model: models.WordPiece) -> Tokenizer:
    """A tokenizer around ``model`` with the NFD + lower-case + strip-accents normaliser and BERT pre-tokenizer."""
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.Lowercase(),
                                                 normalizers.StripAccents()])
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix=PREFIX)
    return tokenizer


def _train_vocab(texts: list[str], vocab_size: int) -> dict[str, int]:
    """A WordPiece vocabulary of at most ``vocab_size`` tokens trained on ``texts``."""
    tokenizer = _new_tokenizer(models.WordPiece(unk_token=UNK, max_input_chars_per_word=100))
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS), min_frequency=1,
                                        show_progress=False, continuing_subword_prefix=PREFIX,
                                        initial_alphabet=list(ALPHABET))
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer.get_vocab(with_added_tokens=False)


def _fallback_tokens(vocab: dict[str, int]) -> list[str]:
    """Letters, digits (``c`` and ``##c``) and punctuation missing from ``vocab``."""
    wanted = [*ALPHABET, *PUNCTUATION, *(PREFIX + c for c in ALPHABET)]
    return [t for t in dict.fromkeys(wanted) if t not in vocab]
