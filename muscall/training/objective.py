"""Joins the model and the losses: the network DDP wraps, and the training objective over its outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from muscall.config import Config
from muscall.data.facts import FactTargets, FactVocab
from muscall.errors import MuscallError
from muscall.losses import (FactHeads, SSLHead, TfidfSimilarity, caption_similarity, caption_weights, fact_losses,
                            infonce_loss, minilm_embeddings, nt_xent_loss, similarity_method)
from muscall.utils import distributed as D


class TrainNet(nn.Module):
    """The dual encoder plus the SSL projection head, in one module so DDP syncs both.

    With SSL on, the audio batch is the crops followed by an augmented view of the first ``len(view)`` of them
    (``loss.ssl_fraction`` of the batch); the SimCLR pair is (crop, view), so SSL costs one extra audio forward
    per paired clip rather than two. With ``fact_classes`` (head -> classes) the fact heads read both towers'
    embeddings of the crops and captions (``fact_logits``); they live here, not in the saved inference model.
    """

    def __init__(self, model: nn.Module, cfg: Config, fact_classes: dict[str, int] | None = None):
        super().__init__()
        self.model = model
        self.ssl_head = SSLHead(model.embed_dim, cfg.loss.ssl_projection_dim) if cfg.loss.ssl else None
        self.fact_heads = (FactHeads(model.embed_dim, fact_classes, shared=cfg.loss.facts.shared) if fact_classes
                           else None)

    def forward(self, mel: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor,
                view: torch.Tensor | None = None, other_keys: tuple | None = None) -> dict[str, Any]:
        """``other_keys``: (rows, tokens, mask) of the batch's captions made to name another key (key contrast)."""
        n = mel.shape[0]
        audio_in = mel if view is None else torch.cat([mel, view])
        out = self.model(audio_in, tokens, mask)
        result = {"audio": out["audio_embeds"][:n], "text": out["text_embeds"], "logit_scale": out["logit_scale"]}
        if view is not None and self.ssl_head is not None:
            z = self.ssl_head(out["audio_embeds"])
            result["z1"], result["z2"] = z[:len(view)], z[n:]
        if self.fact_heads is not None:
            result["fact_logits"] = self.fact_heads({"audio": result["audio"], "text": result["text"]})
        if other_keys is not None:
            rows, key_tokens, key_mask = other_keys
            result["key_rows"], result["key_text"] = rows, self.model.encode_text(key_tokens, key_mask)
        return result


class Objective:
    """(1 - w) * InfoNCE (optionally caption-weighted) + w * NT-Xent, over the global batch of all ranks,
    plus ``loss.facts.weight`` times the mean fact-head loss (on this rank's batch) when ``facts`` is given,
    plus ``loss.key_contrast`` times the key term (this rank's batch): each clip whose caption names a key must
    score its caption above the same caption naming another key (:func:`key_contrast_loss`).
    """

    def __init__(self, cfg: Config, captions: list[str], facts: FactTargets | None = None):
        self.cfg, self.captions, self.facts = cfg.loss, captions, facts
        self.tfidf = TfidfSimilarity(captions) if cfg.loss.caption_weighting else None  # IDF from the whole corpus
        minilm = cfg.loss.caption_weighting and similarity_method(cfg.loss.caption_similarity) == "minilm"
        self.minilm = RowEmbeddings(captions) if minilm else None

    def __call__(self, out: dict[str, Any], index: torch.Tensor, dist: D.DistInfo,
                 batch_captions: list[str] | None = None) -> dict[str, torch.Tensor]:
        """Losses of one step; ``batch_captions`` are the captions drawn for the batch (what the text tower read)."""
        audio, text = D.gather_with_grad(out["audio"], dist), D.gather_with_grad(out["text"], dist)
        weights = None
        if self.tfidf is not None:
            all_index = D.gather_with_grad(index.to(audio.device), dist).cpu().tolist()
            batch_captions = [self.captions[i] for i in all_index]
            sim = (self.minilm.similarity(all_index) if self.minilm is not None else
                   caption_similarity(batch_captions, self.cfg.caption_similarity, self.tfidf)).to(audio.device)
            weights = caption_weights(sim, self.cfg.caption_weight_temperature)
        contrastive = infonce_loss(audio, text, out["logit_scale"], weights)
        losses = {"contrastive": contrastive, "loss": contrastive,
                  "temperature": 1.0 / out["logit_scale"].detach()}
        if "z1" in out:
            ssl = nt_xent_loss(D.gather_with_grad(out["z1"], dist), D.gather_with_grad(out["z2"], dist),
                               self.cfg.ssl_temperature)
            losses["ssl"] = ssl
            losses["loss"] = (1 - self.cfg.ssl_weight) * contrastive + self.cfg.ssl_weight * ssl
        if self.facts is not None and "fact_logits" in out:
            facts = fact_losses(out["fact_logits"], self._fact_targets(index, batch_captions))
            losses.update(facts)
            losses["loss"] = losses["loss"] + self.cfg.facts.weight * facts["facts"]
        if self.cfg.key_contrast > 0:
            key = key_contrast_loss(out)
            losses["key_contrast"] = key
            losses["loss"] = losses["loss"] + self.cfg.key_contrast * key
        return losses

    def _fact_targets(self, index: torch.Tensor, captions: list[str] | None) -> dict[str, torch.Tensor]:
        if captions is None:
            raise MuscallError("the fact heads need the batch's drawn captions: pass batch_captions")
        return _tower_targets(self.facts, index.cpu().numpy().astype(np.int64), captions)


def key_contrast_loss(out: dict[str, Any]) -> torch.Tensor:
    """Cross-entropy of each clip choosing its own caption (``text``) over the one naming another key
    (``key_text``, rows ``key_rows``) at the model's logit scale; 0 when no caption of the batch names a key."""
    if "key_text" not in out:
        return out["audio"].new_zeros(())
    audio, text = out["audio"][out["key_rows"]], out["text"][out["key_rows"]]
    logits = out["logit_scale"] * torch.stack([(audio * text).sum(-1), (audio * out["key_text"]).sum(-1)], 1)
    return F.cross_entropy(logits.float(), torch.zeros(len(logits), dtype=torch.long, device=logits.device))


class RowEmbeddings:
    """MiniLM embeddings of the training rows' captions, each encoded the first time its row is in a batch.

    A row's weighting caption never changes, so this gives the similarities MiniLM gives per batch while
    encoding each caption once per run instead of once per step (MiniLM runs on the CPU, beside a GPU model).
    """

    def __init__(self, captions: list[str]):
        self.captions = captions
        self.table: torch.Tensor | None = None  # (rows, 384) unit vectors, filled on demand
        self.known = torch.zeros(len(captions), dtype=torch.bool)

    def similarity(self, rows: list[int]) -> torch.Tensor:
        """``(B, B)`` caption cosine similarities of the rows (as ``minilm_similarity`` of their captions)."""
        index = torch.tensor(rows, dtype=torch.long)
        missing = torch.unique(index[~self.known[index]])
        if len(missing):
            emb = minilm_embeddings([self.captions[i] for i in missing.tolist()])
            if self.table is None:
                self.table = torch.zeros(len(self.captions), emb.shape[1])
            self.table[missing], self.known[missing] = emb, True
        emb = self.table[index]
        return emb @ emb.t()


def _tower_targets(facts: FactTargets, rows: np.ndarray, captions: list[str]) -> dict[str, torch.Tensor]:
    """``<tower>_<head>`` targets: the audio tower's from the rows, the text tower's from the captions read."""
    audio, text = facts.audio(rows), facts.text(rows, captions)
    return {**{f"audio_{h}": torch.from_numpy(t) for h, t in audio.items()},
            **{f"text_{h}": torch.from_numpy(t) for h, t in text.items()}}


def build_fact_targets(cfg: Config, train_rows: list, val_rows: list) -> tuple[FactTargets, FactTargets] | None:
    """Train and val targets over the training rows' classes, or None when ``loss.facts`` is off."""
    if cfg.loss.facts.weight <= 0 or not cfg.loss.facts.heads:
        return None
    vocab = FactVocab.from_rows(train_rows)
    train = FactTargets.build(train_rows, vocab, cfg.loss.facts.heads)
    return (train, FactTargets.build(val_rows, vocab, train.heads)) if train.heads else None


def fact_classes(facts: FactTargets | None) -> dict[str, int] | None:
    """Head -> number of classes, as :class:`TrainNet` builds its fact heads."""
    return None if facts is None else {h: facts.vocab.classes(h) for h in facts.heads}


@torch.no_grad()
def fact_accuracies(heads: FactHeads, facts: FactTargets, audio: np.ndarray, text: np.ndarray,
                    captions: list[str]) -> dict[str, float]:
    """``val_fact_<tower>_<head>_acc`` of every head on validation embeddings (rows in ``facts`` order)."""
    device = next(heads.parameters()).device
    embeds = {"audio": torch.from_numpy(audio).float().to(device), "text": torch.from_numpy(text).float().to(device)}
    out = fact_losses(heads(embeds), _tower_targets(facts, np.arange(len(captions)), captions))
    return {f"val_{k}": float(v) for k, v in out.items() if k.endswith("_acc")}
