"""Audio tower: a CLIP-style modified ResNet-50 over log-mels, pooled by attention (or a masked mean).

The log-mel ``(B, n_mels, T)`` is read as a 1-channel image (frequency x time). Topology follows the
ResNet-50 used by CLIP and MusCALL: a 3-convolution stem with an average pool, four stages of bottleneck
blocks (widths ``w, 2w, 4w, 8w``, expansion 4), anti-aliased downsampling (an average pool before each
strided step instead of strided convolutions). Total downsampling is 32x on both axes.

Input normalisation: a BatchNorm over the mel bins (one mean/variance per band, as PANNs' ``bn0``). dB
log-mels sit around -80..+40 with very different levels per band; the BatchNorm brings each band to zero
mean, unit variance from training statistics and is a fixed affine map in eval mode (deterministic).

With chroma rows in the input (``audio.chroma_n_fft > 0``) or ``model.audio.rhythm`` on, a
:class:`~muscall.models.facts.FactBranch` adds key/mode and tempo statistics to the pooled features; the CNN
itself only ever reads the mel rows.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from muscall.config import AudioEncoderConfig
from muscall.errors import MuscallError
from muscall.models.facts import FactBranch
from muscall.models.pooling import AttentionPool, MeanPool

EXPANSION = 4
DOWNSAMPLE = 32  # total stride of the tower on each axis


def pooled_length(n: int) -> int:
    """Length of an axis of ``n`` bins after the tower (stride-2 stem conv, then four 2x average pools)."""
    n = (n + 1) // 2  # 3x3 conv, stride 2, padding 1
    for _ in range(4):  # stem avgpool, then the pools of stages 2, 3 and 4
        n //= 2
    return n


def min_input_frames() -> int:
    """Fewest log-mel frames that leave at least one frame after the tower."""
    return DOWNSAMPLE - 1


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> (avgpool) -> 1x1 bottleneck with an avgpool+1x1 shortcut when the shape changes."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        out = planes * EXPANSION
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride > 1 or inplanes != out:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(stride) if stride > 1 else nn.Identity(),
                nn.Conv2d(inplanes, out, 1, bias=False),
                nn.BatchNorm2d(out),
            )

    def forward(self, x: Tensor) -> Tensor:
        """Residual block output."""
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(self.pool(y)))
        return self.relu(y + identity)


class ResNetAudioEncoder(nn.Module):
    """Log-mel ``(B, rows, T)`` -> pooled features ``(B, output_dim)`` for any ``T >= 31``.

    ``rows`` is ``n_mels + chroma_rows``; ``frame_rate`` (frames per second) places the rhythm branch's lags.
    """

    def __init__(self, n_mels: int, cfg: AudioEncoderConfig, chroma_rows: int = 0, frame_rate: float = 31.25):
        super().__init__()
        if len(cfg.layers) != 4 or min(cfg.layers) < 1:
            raise MuscallError(f"model.audio.layers={cfg.layers}: give four positive block counts, e.g. [3, 4, 6, 3]")
        if cfg.base_width < 2 or cfg.base_width % 2:
            raise MuscallError(f"model.audio.base_width={cfg.base_width}: use an even width >= 2 (e.g. 16)")
        self.n_mels = n_mels
        self.rows = n_mels + chroma_rows
        self.freq_bins = pooled_length(n_mels)
        if self.freq_bins < 1:
            raise MuscallError(f"audio.n_mels={n_mels} is too few for the audio tower; use at least {DOWNSAMPLE}")
        w = cfg.base_width
        self.input_norm = nn.BatchNorm1d(n_mels)
        self.stem = nn.Sequential(
            nn.Conv2d(1, w // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w // 2), nn.ReLU(inplace=True),
            nn.Conv2d(w // 2, w // 2, 3, padding=1, bias=False), nn.BatchNorm2d(w // 2), nn.ReLU(inplace=True),
            nn.Conv2d(w // 2, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            nn.AvgPool2d(2),
        )
        self._inplanes = w
        self.layer1 = self._make_layer(w, cfg.layers[0])
        self.layer2 = self._make_layer(w * 2, cfg.layers[1], stride=2)
        self.layer3 = self._make_layer(w * 4, cfg.layers[2], stride=2)
        self.layer4 = self._make_layer(w * 8, cfg.layers[3], stride=2)
        self.output_dim = w * 8 * EXPANSION
        if cfg.pooling == "attention":
            self.pool: nn.Module = AttentionPool(self.output_dim, cfg.attention_heads, self.freq_bins)
        elif cfg.pooling == "mean":
            self.pool = MeanPool()
        else:
            raise MuscallError(f"model.audio.pooling='{cfg.pooling}': use attention or mean")
        self.facts: FactBranch | None = None
        if chroma_rows or cfg.rhythm:
            self.facts = FactBranch(n_mels, bool(chroma_rows), cfg.rhythm, frame_rate, cfg.fact_width)
            self.output_dim += self.facts.output_dim

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * EXPANSION
        layers += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def feature_map(self, mel: Tensor) -> Tensor:
        """Final feature map ``(B, C, F', T')`` of a log-mel batch ``(B, n_mels, T)``."""
        self._check_input(mel)
        x = self.input_norm(mel[:, : self.n_mels].float()).unsqueeze(1)
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x

    def frame_mask(self, mel: Tensor, lengths: Tensor | None, frames: int) -> Tensor:
        """``(B, T')`` True where a pooled frame covers real input (``lengths`` in input frames; None: all)."""
        batch = mel.shape[0]
        if lengths is None:
            return torch.ones(batch, frames, dtype=torch.bool, device=mel.device)
        valid = (lengths.to(mel.device).long() * frames + mel.shape[-1] - 1) // mel.shape[-1]  # ceil(len * T'/T)
        valid = valid.clamp(1, frames)
        return torch.arange(frames, device=mel.device)[None, :] < valid[:, None]

    def frames(self, mel: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Frame features ``(B, T', C)`` (frequency averaged) and their mask ``(B, T')``, before pooling."""
        fmap = self.feature_map(mel)
        mask = self.frame_mask(mel, lengths, fmap.shape[-1])
        return fmap.mean(dim=2).transpose(1, 2), mask

    def forward(self, mel: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Pooled features ``(B, output_dim)``."""
        fmap = self.feature_map(mel)
        pooled = self.pool(fmap, self.frame_mask(mel, lengths, fmap.shape[-1]))
        if self.facts is None:
            return pooled
        frames = mel.shape[-1]
        mask = torch.arange(frames, device=mel.device)[None, :].expand(mel.shape[0], frames)
        mask = mask < (frames if lengths is None else lengths.to(mel.device)[:, None])
        return torch.cat([pooled, self.facts(mel, mask)], dim=-1)

    def _check_input(self, mel: Tensor) -> None:
        if mel.dim() != 3 or mel.shape[1] != self.rows:
            raise MuscallError(f"audio encoder expects log-mels shaped (batch, {self.rows}, frames), got "
                               f"{tuple(mel.shape)}; compute features with the model's audio config")
        if mel.shape[-1] < min_input_frames():
            raise MuscallError(f"audio input has {mel.shape[-1]} frames; the audio tower needs at least "
                               f"{min_input_frames()} (pad or use longer clips)")
