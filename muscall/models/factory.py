"""Build models and tokenizers from a :class:`~muscall.config.Config` (open_clip ``create_model`` style)."""

from __future__ import annotations

from torch import nn

from muscall.config import Config, list_configs
from muscall.models.muscall import MusCALL
from muscall.models.tokenizer import CaptionTokenizer, train_tokenizer


def list_models() -> list[str]:
    """Names of the shipped configs, each of which builds a model."""
    return list_configs()


def create_model(cfg: Config, vocab_size: int | None = None) -> MusCALL:
    """A freshly initialised MusCALL for ``cfg``; ``vocab_size`` (from the tokenizer) overrides the config's."""
    return MusCALL(cfg, vocab_size=vocab_size)


def build_tokenizer(cfg: Config, captions: list[str]) -> CaptionTokenizer:
    """The tokenizer ``cfg`` asks for: WordPiece trained on ``captions``, or MiniLM's own for that encoder."""
    if cfg.model.text.encoder == "minilm":
        from muscall.models.minilm import minilm_model_dir  # lazy: optional dependency

        return CaptionTokenizer.load(minilm_model_dir())
    return train_tokenizer(captions, cfg.model.text.vocab_size)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
