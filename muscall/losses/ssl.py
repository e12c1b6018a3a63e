"""SimCLR objective for the audio tower: NT-Xent over two augmented views and an MLP projection head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from muscall.errors import MuscallError


def nt_xent_loss(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """SimCLR's NT-Xent: each of the 2B views must pick its partner among the other 2B - 1 (cosine / T)."""
    if z1.shape != z2.shape or z1.dim() != 2:
        raise MuscallError(f"nt_xent_loss needs two (batch, dim) tensors of one shape, got "
                           f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    if temperature <= 0:
        raise MuscallError(f"NT-Xent temperature must be positive, got {temperature}")
    batch = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=-1)
    logits = (z @ z.t()) / temperature
    logits = logits.masked_fill(torch.eye(2 * batch, dtype=torch.bool, device=z.device), float("-inf"))
    idx = torch.arange(batch, device=z.device)
    targets = torch.cat([idx + batch, idx])
    return F.cross_entropy(logits, targets)


class SSLHead(nn.Module):
    """SimCLR projection MLP ``in_dim -> hidden -> out_dim`` (ReLU); the loss is taken on its output."""

    def __init__(self, in_dim: int, out_dim: int = 128, hidden_dim: int | None = None):
        super().__init__()
        hidden = hidden_dim or in_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden, bias=False), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, out_dim, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        """Projected features ``(B, out_dim)``."""
        return self.net(x)
