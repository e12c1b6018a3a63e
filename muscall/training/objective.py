"""Joins the model and the losses: the network DDP wraps, and the training objective over its outputs."""

from __future__ import annotations

import torch
from torch import nn

from muscall.config import Config
from muscall.losses import SSLHead, TfidfSimilarity, caption_similarity, caption_weights, infonce_loss, nt_xent_loss
from muscall.utils import distributed as D


class TrainNet(nn.Module):
    """The dual encoder plus the SSL projection head, in one module so DDP syncs both.

    With SSL on, the audio batch is the crops followed by an augmented view of the first ``len(view)`` of them
    (``loss.ssl_fraction`` of the batch); the SimCLR pair is (crop, view), so SSL costs one extra audio forward
    per paired clip rather than two.
    """

    def __init__(self, model: nn.Module, cfg: Config):
        super().__init__()
        self.model = model
        self.ssl_head = SSLHead(model.embed_dim, cfg.loss.ssl_projection_dim) if cfg.loss.ssl else None

    def forward(self, mel: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor,
                view: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        n = mel.shape[0]
        audio_in = mel if view is None else torch.cat([mel, view])
        out = self.model(audio_in, tokens, mask)
        result = {"audio": out["audio_embeds"][:n], "text": out["text_embeds"], "logit_scale": out["logit_scale"]}
        if view is not None and self.ssl_head is not None:
            z = self.ssl_head(out["audio_embeds"])
            result["z1"], result["z2"] = z[:len(view)], z[n:]
        return result


class Objective:
    """(1 - w) * InfoNCE (optionally caption-weighted) + w * NT-Xent, over the global batch of all ranks."""

    def __init__(self, cfg: Config, captions: list[str]):
        self.cfg, self.captions = cfg.loss, captions
        self.tfidf = TfidfSimilarity(captions) if cfg.loss.caption_weighting else None  # IDF from the whole corpus

    def __call__(self, out: dict[str, torch.Tensor], index: torch.Tensor, dist: D.DistInfo) -> dict[str, torch.Tensor]:
        audio, text = D.gather_with_grad(out["audio"], dist), D.gather_with_grad(out["text"], dist)
        weights = None
        if self.tfidf is not None:
            all_index = D.gather_with_grad(index.to(audio.device), dist).cpu().tolist()
            batch_captions = [self.captions[i] for i in all_index]
            sim = caption_similarity(batch_captions, self.cfg.caption_similarity, self.tfidf).to(audio.device)
            weights = caption_weights(sim, self.cfg.caption_weight_temperature)
        contrastive = infonce_loss(audio, text, out["logit_scale"], weights)
        losses = {"contrastive": contrastive, "loss": contrastive,
                  "temperature": 1.0 / out["logit_scale"].detach()}
        if "z1" in out:
            ssl = nt_xent_loss(D.gather_with_grad(out["z1"], dist), D.gather_with_grad(out["z2"], dist),
                               self.cfg.ssl_temperature)
            losses["ssl"] = ssl
            losses["loss"] = (1 - self.cfg.ssl_weight) * contrastive + self.cfg.ssl_weight * ssl
        return losses
