"""``QualityScorer``: per-axis quality heads over the dual encoder's audio frames, plus the TA co-attention path.

Inputs come from the dual encoder: ``frames, mask = model.audio_frames(mel)`` (``[B, T, C]``, ``[B, T]``),
``tokens = model.text_tokens(ids, attention_mask)`` (``[B, L, W]``) and optionally the normalised global
embeddings ``model.encode_audio`` / ``model.encode_text`` (``[B, D]``).

* audio axes (default ``MI``): pooling (DRASP | ASP | mean) over frames -> one MLP per axis; with
  ``signal_features`` (and ``signal_dim > 0``) the pool reads ``[frames; signal]``, the tower's frames
  concatenated with low-level signal features aligned to them (:mod:`muscall.audio.signal`);
* text axes (default ``TA``): :class:`~muscall.models.quality.coattention.CoAttentionTA`, only when tokens are
  given (without text, text axes are left out of the output); with ``ta_signal_features`` its audio side is
  ``[frames; signal]`` too; with ``ta_fact_check`` its head also reads the key, mode and tempo agreement of
  :class:`~muscall.models.quality.factcheck.FactCheck` (signal chroma and tempo against what the prompt states);
* training: :meth:`QualityScorer.forward_with_ot` also returns the Sinkhorn OT cost between projected frames
  and tokens; the objective that weighs it (:class:`muscall.losses.quality.QualityLoss`) lives with the losses.
"""

from __future__ import annotations

import torch
from torch import nn

from muscall.audio.signal import SIGNAL_DIM
from muscall.models.quality.coattention import CoAttentionTA
from muscall.models.quality.drasp import make_pooling
from muscall.models.quality.factcheck import FactCheck
from muscall.models.quality.layers import mlp_head
from muscall.models.quality.sinkhorn import sinkhorn_loss
from muscall.config.scoring import ScoringConfig, ScoringConfigError, validate_scoring_config


class QualityScorer(nn.Module):
    """Predict one score ``[B]`` per configured quality axis from audio frames (and text tokens for TA)."""

    def __init__(self, cfg: ScoringConfig, audio_dim: int, text_dim: int | None = None, signal_dim: int = 0):
        super().__init__()
        problems = validate_scoring_config(cfg)
        if problems:
            raise ScoringConfigError("invalid scoring config: " + "; ".join(problems))
        self.cfg = cfg
        self.audio_axes = [a for a in cfg.axes if a not in cfg.text_axes]
        self.text_axes = [a for a in cfg.axes if a in cfg.text_axes]
        if self.text_axes and text_dim is None:
            raise ScoringConfigError(f"axes {self.text_axes} use text; pass text_dim (the text token width)")
        self.pool_signal = bool(signal_dim and cfg.signal_features and self.audio_axes)
        self.ta_signal = bool(signal_dim and cfg.ta_signal_features and self.text_axes)
        # the fact check reads chroma and tempo at their places in muscall.audio.signal's layout
        self.fact_check = bool(signal_dim == SIGNAL_DIM and cfg.ta_fact_check and self.text_axes)
        self.signal_dim = signal_dim if self.pool_signal or self.ta_signal or self.fact_check else 0  # 0: none reads it
        self.pool = make_pooling(cfg.pooling, audio_dim + (signal_dim if self.pool_signal else 0), cfg.segment_size,
                                 cfg.attention_hidden) if self.audio_axes else None
        pooled_dim = self.pool.out_dim if self.pool is not None else 0
        self.heads = nn.ModuleDict({a: mlp_head(pooled_dim, cfg.hidden, cfg.dropout) for a in self.audio_axes})
        ta_audio_dim = audio_dim + (signal_dim if self.ta_signal else 0)
        self.text_paths = nn.ModuleDict({
            a: CoAttentionTA(ta_audio_dim, text_dim, dim=cfg.coattn_dim, heads=cfg.coattn_heads,
                             layers=cfg.coattn_layers, pooling=cfg.ta_pooling, hidden=cfg.hidden,
                             dropout=cfg.dropout, extra_dim=FactCheck.out_dim if self.fact_check else 0)
            for a in self.text_axes
        })
        self.fact_checks = nn.ModuleDict({a: FactCheck(text_dim) for a in self.text_axes} if self.fact_check else {})

    def forward(self, frames: torch.Tensor, mask: torch.Tensor | None = None,
                text_tokens: torch.Tensor | None = None, text_mask: torch.Tensor | None = None,
                audio_emb: torch.Tensor | None = None, text_emb: torch.Tensor | None = None,
                signal: torch.Tensor | None = None, signal_raw: torch.Tensor | None = None,
                token_ids: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``{axis: score [B]}`` for the audio axes, plus the text axes when ``text_tokens`` is given."""
        scores, _ = self.forward_with_ot(frames, mask, text_tokens, text_mask, audio_emb, text_emb, with_ot=False,
                                         signal=signal, signal_raw=signal_raw, token_ids=token_ids)
        return scores

    def forward_with_ot(self, frames: torch.Tensor, mask: torch.Tensor | None = None,
                        text_tokens: torch.Tensor | None = None, text_mask: torch.Tensor | None = None,
                        audio_emb: torch.Tensor | None = None, text_emb: torch.Tensor | None = None,
                        with_ot: bool = True, signal: torch.Tensor | None = None,
                        signal_raw: torch.Tensor | None = None, token_ids: torch.Tensor | None = None
                        ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """Scores and the mean OT cost between projected frames and tokens (``None`` without text or OT).

        ``signal [B, T, signal_dim]`` (same frames and mask as ``frames``) is required when the scorer
        was built with ``signal_dim > 0``; ``signal_raw`` is the same before any standardisation (the fact
        check reads chroma and tempo on their own scale; default: ``signal``); ``token_ids [B, L]`` (the
        tokenizer ids of ``text_tokens``) are required by the fact check.
        """
        scores: dict[str, torch.Tensor] = {}
        joined = self._audio_input(frames, signal) if self.signal_dim else frames  # [frames; signal]
        if self.pool is not None:
            pooled = self.pool(joined if self.pool_signal else frames, mask)
            for axis in self.audio_axes:
                scores[axis] = self.heads[axis](pooled).squeeze(-1)
        ot_terms = []
        if text_tokens is not None:
            ta_frames = joined if self.ta_signal else frames
            raw = (self._checked_signal(frames, signal if signal_raw is None else signal_raw).to(frames.dtype)
                   if self.fact_check else None)
            for axis in self.text_axes:
                path = self.text_paths[axis]
                a, am, t, tm = path.project(ta_frames, mask, text_tokens, text_mask)
                facts = None if raw is None else self.fact_checks[axis](raw, mask, text_tokens, text_mask, token_ids)
                scores[axis] = path.score(a, am, t, tm, audio_emb, text_emb, extra=facts)
                if facts is not None:
                    scores[axis] = scores[axis] + self.fact_checks[axis].direct(facts).squeeze(-1)
                if with_ot and self.cfg.ot_weight > 0:
                    ot_terms.append(sinkhorn_loss(a, t, am, tm, eps=self.cfg.sinkhorn_eps,
                                                  n_iters=self.cfg.sinkhorn_iters))
        ot = torch.stack(ot_terms).mean() if ot_terms else None
        return {a: scores[a] for a in self.cfg.axes if a in scores}, ot

    def _audio_input(self, frames: torch.Tensor, signal: torch.Tensor | None) -> torch.Tensor:
        """``[frames; signal]``, the input of a path that reads signal features."""
        return torch.cat([frames, self._checked_signal(frames, signal).to(frames.dtype)], dim=-1)

    def _checked_signal(self, frames: torch.Tensor, signal: torch.Tensor | None) -> torch.Tensor:
        """``signal``, or a ValueError unless it is ``[B, T, signal_dim]`` beside ``frames [B, T, C]``."""
        if signal is None or signal.shape[:2] != frames.shape[:2] or signal.shape[-1] != self.signal_dim:
            got = None if signal is None else tuple(signal.shape)
            raise ValueError(f"this scorer needs signal features shaped {tuple(frames.shape[:2])} + ({self.signal_dim},) "
                             f"beside the frames, got {got}")
        return signal
