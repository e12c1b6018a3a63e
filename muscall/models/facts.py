"""The audio tower's fact branch: clip-level harmony and tempo statistics beside the CNN's pooled features.

The CNN sees a log-mel whose bands are wider than a semitone below about 1 kHz and pools into 3 frequency
rows, so it hears genre and instruments but not key or mode; its receptive fields see rhythm patterns but
nothing forces it to measure a beat period. Captions name both. This branch reads what the CNN cannot:

- **harmony** (when the front end appends chroma rows, ``audio.chroma_n_fft > 0``): each frame's chroma
  relative to its loudest pitch class (0 dB at the peak, floored at ``-CHROMA_RANGE_DB``, scaled to [0, 1]),
  then its masked mean, standard deviation and the mean outer product (pitch-class co-occurrence: which
  notes sound together, i.e. chord quality and mode).
- **rhythm** (``model.audio.rhythm``): the onset envelope (:func:`muscall.audio.signal.onset_envelope`, the
  one the quality heads' tempo profile reads), its autocorrelation normalised by lag 0, read at every lag
  from 240 BPM down to 40 BPM. A beat period shows as a peak at its lag (and its multiples).

The statistics go through a BatchNorm (a fixed affine map in eval mode) and a two-layer MLP; the result is
concatenated to the CNN's pooled features before the projection. Padding (``lengths``) is masked out of
every statistic, so a right-padded clip gets the same output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from muscall.audio.signal import onset_envelope
from muscall.config import CHROMA_ROWS

CHROMA_RANGE_DB = 40.0
BPM_RANGE = (40.0, 240.0)


def tempo_lags(frame_rate: float, bpm_range: tuple[float, float] = BPM_RANGE) -> tuple[int, int]:
    """Smallest and largest autocorrelation lag in frames for beats between ``bpm_range`` (inclusive)."""
    return max(1, math.floor(60.0 * frame_rate / bpm_range[1])), math.ceil(60.0 * frame_rate / bpm_range[0])


def chroma_statistics(chroma_db: Tensor, mask: Tensor) -> Tensor:
    """``(B, 12, T)`` dB chroma and a frame mask ``(B, T)`` -> ``(B, 12 + 12 + 78)`` mean, std, co-occurrence."""
    rel = (chroma_db - chroma_db.amax(dim=1, keepdim=True)).clamp_min(-CHROMA_RANGE_DB) / CHROMA_RANGE_DB + 1.0
    w = mask.to(rel.dtype)[:, None, :]  # (B, 1, T)
    n = w.sum(dim=-1).clamp_min(1.0)  # (B, 1)
    mean = (rel * w).sum(dim=-1) / n
    var = ((rel - mean[..., None]).square() * w).sum(dim=-1) / n
    co = torch.einsum("bit,bjt->bij", rel * w, rel) / n[..., None]
    rows, cols = torch.triu_indices(CHROMA_ROWS, CHROMA_ROWS, device=co.device)
    return torch.cat([mean, var.clamp_min(1e-8).sqrt(), co[:, rows, cols]], dim=-1)


def onset_autocorrelation(mel_db: Tensor, mask: Tensor, lags: tuple[int, int]) -> Tensor:
    """``(B, n_mels, T)`` dB log-mel -> ``(B, hi - lo + 1)`` onset-envelope autocorrelation at lags lo..hi.

    Lags at or beyond a clip's valid length read 0.
    """
    lo, hi = lags
    onset = onset_envelope(mel_db)  # (B, T - 1)
    valid = (mask[:, 1:] & mask[:, :-1]).to(onset.dtype)
    n = valid.sum(dim=-1, keepdim=True).clamp_min(1.0)
    env = (onset - (onset * valid).sum(dim=-1, keepdim=True) / n) * valid  # zero mean over valid frames, 0 outside
    size = 1 << (2 * env.shape[-1] - 1).bit_length()
    spec = torch.fft.rfft(env, n=size)
    ac = torch.fft.irfft(spec.real.square() + spec.imag.square(), n=size)[..., : env.shape[-1]]
    ac = ac / ac[..., :1].clamp_min(1e-6)
    if ac.shape[-1] <= hi:
        ac = F.pad(ac, (0, hi + 1 - ac.shape[-1]))
    return ac[..., lo : hi + 1]


class FactBranch(nn.Module):
    """Harmony and/or rhythm statistics of a ``(B, rows, T)`` front-end output -> ``(B, width)`` features."""

    def __init__(self, n_mels: int, chroma: bool, rhythm: bool, frame_rate: float, width: int):
        super().__init__()
        self.n_mels, self.chroma, self.rhythm = n_mels, chroma, rhythm
        self.lags = tempo_lags(frame_rate)
        dim = (2 * CHROMA_ROWS + CHROMA_ROWS * (CHROMA_ROWS + 1) // 2 if chroma else 0)
        dim += (self.lags[1] - self.lags[0] + 1) if rhythm else 0
        self.input_dim = dim
        self.output_dim = width
        self.norm = nn.BatchNorm1d(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, width), nn.ReLU(inplace=True), nn.Linear(width, width),
                                 nn.ReLU(inplace=True))

    def statistics(self, x: Tensor, mask: Tensor) -> Tensor:
        """The raw ``(B, input_dim)`` statistics (before normalisation) of front-end rows ``x``."""
        parts = []
        if self.chroma:
            parts.append(chroma_statistics(x[:, self.n_mels : self.n_mels + CHROMA_ROWS].float(), mask))
        if self.rhythm:
            parts.append(onset_autocorrelation(x[:, : self.n_mels].float(), mask, self.lags))
        return torch.cat(parts, dim=-1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """``(B, rows, T)`` and a frame mask ``(B, T)`` (True = real input) -> ``(B, width)``."""
        return self.mlp(self.norm(self.statistics(x, mask)))
