"""Regression losses for quality scores ``pred [B]`` vs ``target [B]``, a name registry and the scorer's objective.

* ``l1``, ``mse``: the usual.
* ``clipped_mse`` (UTMOS, Saeki et al. 2022): ``(y - y_hat)^2`` where ``|y - y_hat| > tau``, else 0, averaged
  over the batch: errors already within the rating noise are not chased.
* ``ranking`` (UTMOS's contrastive term): over ordered pairs ``i != j``,
  ``max(0, |(y_i - y_j) - (y_hat_i - y_hat_j)| - margin)``, averaged: predicted gaps should match true gaps.
* ``utmos``: ``clipped_mse + rank_weight * ranking`` (the "UTMOS loss" of MMMOS).
* ``dcq`` (MMMOS's Dual-Criterion Quality loss): ``mse_weight * MSE + QDC + QAC`` over ordered pairs
  ``i != j`` with ``d_ij = y_hat_i - y_hat_j`` and ``t_ij = y_i - y_j``: the quantitative discrepancy
  constraint ``QDC = mean (d_ij - t_ij)^2`` and the qualitative alignment constraint
  ``QAC = -mean d_ij * sign(t_ij)`` (rewards predicted gaps with the true sign). Interpretation note: the
  MMMOS code (robert0518/MMMOS, ``dual_crit_qual_loss.py``) describes DCQ as "MSE combined with a relative
  perception constraint (QDC + QAC)" but returns only QDC + QAC; ``mse_weight=1`` (default) follows the
  description, ``mse_weight=0`` the code. QAC is linear, so DCQ alone is minimised at ``d = t + sign(t) / 2``
  per pair (a slight over-spreading that the MSE term pulls back).
* ``ccc``: ``1 - CCC`` with Lin's concordance correlation
  ``CCC = 2 cov / (var_pred + var_true + (mean_pred - mean_true)^2)`` (population moments), 0 iff
  ``pred == target`` (for a non-constant target).

:class:`QualityLoss` joins them for training: the per-axis losses of a ``ScoringConfig`` over the scores of
:class:`muscall.models.quality.heads.QualityScorer`, plus ``ot_weight`` times its OT cost.
"""

from __future__ import annotations

import functools
import inspect
from typing import Callable

import torch
import torch.nn.functional as F

from muscall.config.scoring import ScoringConfig, ScoringConfigError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return F.l1_loss(pred, target)


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    return F.mse_loss(pred, target)


def clipped_mse_loss(pred: torch.Tensor, target: torch.Tensor, tau: float = 0.25) -> torch.Tensor:
    """UTMOS clipped MSE: squared error where ``|error| > tau``, 0 inside the margin, mean over the batch."""
    err = pred - target
    return torch.where(err.abs() > tau, err.pow(2), torch.zeros_like(err)).mean()


def _pair_diffs(x: torch.Tensor) -> torch.Tensor:
    """``x_i - x_j`` for all ordered pairs: ``[B, B]``."""
    return x.unsqueeze(1) - x.unsqueeze(0)


def _off_diagonal_mean(m: torch.Tensor) -> torch.Tensor:
    """Mean over the ``B (B - 1)`` off-diagonal entries of ``[B, B]`` (0 when ``B < 2``)."""
    n = m.shape[0]
    if n < 2:
        return m.sum() * 0.0
    off = ~torch.eye(n, dtype=torch.bool, device=m.device)
    return m[off].mean()


def margin_ranking_loss(pred: torch.Tensor, target: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """UTMOS contrastive term: mean over pairs ``i != j`` of ``relu(|dy_ij - dy_hat_ij| - margin)``."""
    gap_err = (_pair_diffs(target) - _pair_diffs(pred)).abs()
    return _off_diagonal_mean(F.relu(gap_err - margin))


def utmos_loss(pred: torch.Tensor, target: torch.Tensor, tau: float = 0.25, margin: float = 0.2,
               rank_weight: float = 0.5) -> torch.Tensor:
    """``clipped_mse(tau) + rank_weight * margin_ranking(margin)``."""
    return clipped_mse_loss(pred, target, tau) + rank_weight * margin_ranking_loss(pred, target, margin)


def dcq_loss(pred: torch.Tensor, target: torch.Tensor, mse_weight: float = 1.0) -> torch.Tensor:
    """MMMOS Dual-Criterion Quality loss: ``mse_weight * MSE + QDC + QAC`` (see the module docstring)."""
    d_pred, d_true = _pair_diffs(pred), _pair_diffs(target)
    qdc = _off_diagonal_mean((d_pred - d_true).pow(2))
    qac = -_off_diagonal_mean(d_pred * torch.sign(d_true))
    return mse_weight * F.mse_loss(pred, target) + qdc + qac


def concordance_cc(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Lin's concordance correlation coefficient with population (biased) moments."""
    mp, mt = pred.mean(), target.mean()
    cov = ((pred - mp) * (target - mt)).mean()
    denom = pred.var(unbiased=False) + target.var(unbiased=False) + (mp - mt).pow(2)
    return 2.0 * cov / (denom + eps)


def ccc_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``1 - CCC``: 0 when predictions equal the (non-constant) targets, up to 2 when anti-concordant."""
    return 1.0 - concordance_cc(pred, target, eps)


LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "l1": l1_loss,
    "mse": mse_loss,
    "clipped_mse": clipped_mse_loss,
    "ranking": margin_ranking_loss,
    "utmos": utmos_loss,
    "dcq": dcq_loss,
    "ccc": ccc_loss,
}


def loss_params(name: str) -> list[str]:
    """Keyword arguments (besides ``pred``, ``target``) that loss ``name`` accepts."""
    fn = _lookup(name)
    return [p for p in inspect.signature(fn).parameters if p not in ("pred", "target")]


def make_loss(name: str, strict: bool = True, **kwargs: float) -> LossFn:
    """Loss ``fn(pred, target) -> scalar`` by name with bound hyperparameters.

    With ``strict=False``, keyword arguments the loss does not take are dropped (handy for passing one
    shared set such as ``tau``, ``margin``, ``rank_weight`` to whichever loss a run selects).
    """
    fn = _lookup(name)
    accepted = loss_params(name)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown and strict:
        raise ScoringConfigError(f"loss '{name}' has no argument '{unknown[0]}' (it accepts: {accepted or 'none'})")
    bound = {k: v for k, v in kwargs.items() if k in accepted}
    return functools.partial(fn, **bound) if bound else fn


def _lookup(name: str) -> Callable[..., torch.Tensor]:
    if name not in LOSSES:
        raise ScoringConfigError(f"unknown loss '{name}'; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]


class QualityLoss:
    """The scorer's training objective: the per-axis losses of ``ScoringConfig`` + ``ot_weight * OT``."""

    def __init__(self, cfg: ScoringConfig):
        self.cfg = cfg
        shared = cfg.loss_kwargs()
        self.loss_fns: dict[str, LossFn] = {a: make_loss(cfg.loss_for(a), strict=False, **shared) for a in cfg.axes}

    def __call__(self, scores: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
                 ot: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total training loss and its detached parts ``{axis: loss, "ot": ...}``.

        Non-finite targets (an axis a clip has no rating for) are skipped; an axis needs two rated clips.
        """
        total: torch.Tensor | None = None
        parts: dict[str, torch.Tensor] = {}
        for axis in self.cfg.axes:
            if axis not in scores or axis not in targets:
                continue
            pred, target = scores[axis], targets[axis].to(scores[axis])
            rated = torch.isfinite(target)
            if int(rated.sum()) < 2:
                continue
            value = self.loss_fns[axis](pred[rated], target[rated])
            parts[axis] = value.detach()
            total = value if total is None else total + value
        if total is None:
            raise ValueError(f"no axis has both scores and >= 2 finite targets (scores: {sorted(scores)}, "
                             f"targets: {sorted(targets)})")
        if ot is not None and self.cfg.ot_weight > 0:
            parts["ot"] = ot.detach()
            total = total + self.cfg.ot_weight * ot
        return total, parts
