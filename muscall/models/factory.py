"""Build models and tokenizers from a :class:`~muscall.config.Config` (open_clip ``create_model`` style)."""

from __future__ import annotations

import logging

from torch import nn

from muscall.config import Config, list_configs
from muscall.data.caption_augment import augmentation_vocabulary
from muscall.models.bridge import build_bridge
from muscall.models.minilm import INSTALL_HINT, minilm_available
from muscall.models.muscall import MusCALL
from muscall.models.tokenizer import CaptionTokenizer, train_tokenizer

log = logging.getLogger(__name__)


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
    tokenizer = train_tokenizer(captions, cfg.model.text.vocab_size)
    threshold = cfg.model.text.bridge_threshold
    if threshold > 0 and minilm_available():
        extra = augmentation_vocabulary(cfg.text_augment.thesaurus) if cfg.text_augment.enabled else ()
        tokenizer.bridge = build_bridge(captions, extra, threshold, neighbours=cfg.model.text.bridge_neighbours)
    elif threshold > 0:
        log.info("no vocabulary bridge (model.text.bridge_threshold=%g): it needs the optional MiniLM package; %s",
                 threshold, INSTALL_HINT)
    return tokenizer


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (optionally only those with ``requires_grad``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
