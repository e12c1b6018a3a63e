"""Entropic optimal transport between audio frames and text tokens (WhisQ's Sinkhorn regulariser).

For each pair ``b`` the cost is ``C[t, l] = 1 - cos(audio[t], text[l])``, the marginals are uniform over
the valid frames / tokens, and the plan solves ``min <P, C> - eps * H(P)`` by Sinkhorn iterations in the
log domain (stable for small ``eps``: only log-sum-exps of ``(f + g - C) / eps``, never ``exp(-C / eps)``).
The regulariser is the mean transport cost ``<P, C>`` over the batch: low when every frame has a close
token and every token a close frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from muscall.models.quality.layers import as_mask, zero_padding


def cosine_cost(audio: torch.Tensor, text: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Cost ``1 - cosine`` between ``audio [B, T, D]`` and ``text [B, L, D]``: ``[B, T, L]`` in ``[0, 2]``."""
    if audio.shape[-1] != text.shape[-1]:
        raise ValueError(f"audio dim {audio.shape[-1]} != text dim {text.shape[-1]}; project both to one space")
    a = F.normalize(audio, dim=-1, eps=eps)
    t = F.normalize(text, dim=-1, eps=eps)
    return 1.0 - torch.einsum("btd,bld->btl", a, t)


def sinkhorn(cost: torch.Tensor, row_mask: torch.Tensor, col_mask: torch.Tensor, eps: float = 0.05,
             n_iters: int = 50) -> torch.Tensor:
    """Entropic OT plan ``[B, T, L]`` for ``cost`` with uniform marginals on the valid rows / columns.

    Runs ``n_iters`` log-domain Sinkhorn updates of the duals ``f [B, T]``, ``g [B, L]``; the last update
    is on ``g``, so column marginals are exact and row marginals converge with the iterations. Padded rows
    and columns get zero mass. Every pair needs at least one valid row and one valid column.
    """
    if eps <= 0:
        raise ValueError(f"sinkhorn eps must be > 0, got {eps}")
    if n_iters < 1:
        raise ValueError(f"sinkhorn n_iters must be >= 1, got {n_iters}")
    if not (row_mask.any(dim=1).all() and col_mask.any(dim=1).all()):
        raise ValueError("sinkhorn: every pair needs at least one valid audio frame and one valid text token")
    pair_mask = row_mask.unsqueeze(2) & col_mask.unsqueeze(1)
    cost = cost.masked_fill(~pair_mask, 0.0)
    log_a = _log_uniform(row_mask, cost.dtype)
    log_b = _log_uniform(col_mask, cost.dtype)
    f = cost.new_zeros(cost.shape[:2])
    g = cost.new_zeros(cost.shape[0], cost.shape[2])
    for _ in range(n_iters):
        z = ((g.unsqueeze(1) - cost) / eps).masked_fill(~col_mask.unsqueeze(1), float("-inf"))
        f = torch.where(row_mask, eps * (log_a - torch.logsumexp(z, dim=2)), torch.zeros_like(f))
        z = ((f.unsqueeze(2) - cost) / eps).masked_fill(~row_mask.unsqueeze(2), float("-inf"))
        g = torch.where(col_mask, eps * (log_b - torch.logsumexp(z, dim=1)), torch.zeros_like(g))
    log_plan = (f.unsqueeze(2) + g.unsqueeze(1) - cost) / eps
    return torch.where(pair_mask, torch.exp(log_plan.masked_fill(~pair_mask, 0.0)), torch.zeros_like(cost))


def ot_cost(audio: torch.Tensor, text: torch.Tensor, audio_mask: torch.Tensor | None = None,
            text_mask: torch.Tensor | None = None, eps: float = 0.05, n_iters: int = 50,
            differentiable: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Transport plan ``[B, T, L]`` and OT cost ``<P, C>`` per pair ``[B]`` between frames and tokens.

    With ``differentiable=False`` (default) the plan is computed without autograd and treated as a
    constant: the gradient of ``<P, C>`` w.r.t. the features is then ``P* dC``, the exact gradient of the
    entropic OT value (envelope theorem), at a fraction of the memory of backpropagating the iterations.
    The cost and plan are float32 whatever the input dtype.
    """
    am, tm = as_mask(audio, audio_mask), as_mask(text, text_mask)
    with torch.autocast(device_type=audio.device.type, enabled=False):  # float32 even under AMP
        cost = cosine_cost(zero_padding(audio, am).float(), zero_padding(text, tm).float())
        with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
            plan = sinkhorn(cost if differentiable else cost.detach(), am, tm, eps=eps, n_iters=n_iters)
        pair_mask = am.unsqueeze(2) & tm.unsqueeze(1)
        per_pair = (plan * cost.masked_fill(~pair_mask, 0.0)).sum(dim=(1, 2))
    return plan, per_pair


def sinkhorn_loss(audio: torch.Tensor, text: torch.Tensor, audio_mask: torch.Tensor | None = None,
                  text_mask: torch.Tensor | None = None, weight: float = 1.0, eps: float = 0.05,
                  n_iters: int = 50, differentiable: bool = False) -> torch.Tensor:
    """``weight * mean_b <P_b, C_b>``: the OT alignment regulariser for matched audio-text pairs (scalar)."""
    _, per_pair = ot_cost(audio, text, audio_mask, text_mask, eps=eps, n_iters=n_iters,
                          differentiable=differentiable)
    return weight * per_pair.mean()


def _log_uniform(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``log(1 / n_valid)`` on valid entries (0 on padded ones, which are never read)."""
    n = mask.sum(dim=1, keepdim=True).clamp_min(1).to(dtype)
    return (-torch.log(n)).expand(mask.shape).contiguous()
