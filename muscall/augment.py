"""SimCLR-style log-mel augmentations for the SSL objective: batched, per-example random, seeded by a Generator.

On log-mels (``(B, n_mels, frames)``, dB of a power spectrum), as training reads them from the feature
cache, where no waveform exists: :func:`gain_mel` (a level offset), :func:`add_noise_mel` (white, pink or
brown noise power at a random SNR), :func:`pitch_shift_mel`, :func:`time_mask` and :func:`freq_mask`.
:class:`AugmentPipeline` chains them with the settings of ``cfg.augment``.

A random recording chain stands in for microphones, rooms, codecs and mastering the corpus never had
(:meth:`AugmentPipeline.chain`, on the contrastive crops): :func:`reverb_smear_mel` (a decaying sum over past
frames in the power domain), :func:`tilt_mel` (an EQ slope in dB across the bands), :func:`band_limit_mel`
(bands above a cutoff pulled to the floor), :func:`noise_floor_mel` (a flat noise floor log-added below the
peak) and :func:`gain_mel`.

Pitch shift warps the mel axis: output bin ``m`` (centre ``f_m``) reads the input at frequency
``f_m / 2**(s/12)``, linearly interpolated between bins. That is a true pitch shift of every partial (not a
shift by whole bins, which on the mel scale is not a constant frequency ratio below ~1 kHz), keeps tempo
(resampling the waveform changes both), costs one gather, and works on cached features.

Every function takes a ``torch.Generator`` and probability ``p``; each example independently gets the
augmentation with probability ``p`` and its own random parameters. The same generator seed gives the same
output. Random numbers are drawn on the CPU generator and moved to the input's device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from muscall.config import NOISE_COLORS, AudioConfig, AugmentConfig, ChainConfig, validate_augment_config
from muscall.errors import MuscallError

NOISE_EXPONENTS = dict(zip(NOISE_COLORS, (0.0, 1.0, 2.0)))  # power spectral density ~ 1 / f**exponent


def _rand(shape: tuple[int, ...], gen: torch.Generator, like: Tensor) -> Tensor:
    return torch.rand(shape, generator=gen).to(like.device)


def _uniform(batch: int, lo: float, hi: float, gen: torch.Generator, like: Tensor) -> Tensor:
    return lo + (hi - lo) * _rand((batch,), gen, like)


def _coin(batch: int, p: float, gen: torch.Generator, like: Tensor) -> Tensor:
    """``(B,)`` bool, True with probability ``p`` (always drawn, so the generator advances the same way)."""
    return _rand((batch,), gen, like) < p


def _where(chosen: Tensor, new: Tensor, old: Tensor) -> Tensor:
    return torch.where(chosen.view(-1, *([1] * (old.dim() - 1))), new, old)


def _pick_exponents(batch: int, colors: tuple[str, ...], gen: torch.Generator) -> Tensor:
    if not colors or any(c not in NOISE_EXPONENTS for c in colors):  # a direct caller's colours (configs: checks.py)
        raise MuscallError(f"noise colours {list(colors)}: choose from {list(NOISE_COLORS)}")
    table = torch.tensor([NOISE_EXPONENTS[c] for c in colors])
    return table[torch.randint(len(colors), (batch,), generator=gen)]


def gain_mel(mel: Tensor, gen: torch.Generator, p: float = 1.0, min_db: float = -6.0,
             max_db: float = 6.0) -> Tensor:
    """Scale the level: add a random offset in ``[min_db, max_db]`` dB."""
    db = _uniform(mel.shape[0], min_db, max_db, gen, mel)
    return _where(_coin(mel.shape[0], p, gen, mel), mel + db[:, None, None], mel)


def mel_centres_hz(n_mels: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None) -> Tensor:
    """Centre frequencies (Hz) of HTK mel filters, as :mod:`muscall.audio.features` builds them."""
    top = sample_rate / 2 if f_max is None else f_max
    mels = torch.linspace(_hz_to_mel(torch.tensor(f_min)).item(), _hz_to_mel(torch.tensor(top)).item(), n_mels + 2,
                          dtype=torch.float64)
    return _mel_to_hz(mels[1:-1])


def _hz_to_mel(hz: Tensor) -> Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: Tensor) -> Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def add_noise_mel(mel: Tensor, gen: torch.Generator, centres_hz: Tensor, p: float = 1.0, min_snr_db: float = 5.0,
                  max_snr_db: float = 30.0, colors: tuple[str, ...] = ("white", "pink", "brown")) -> Tensor:
    """Add white/pink/brown noise power (colour drawn per example, chi-square fluctuating) at a random SNR.

    Noise power per mel bin follows the colour's PSD times the filter bandwidth (which grows with frequency).
    """
    batch, n_mels, frames = mel.shape
    exponents = _pick_exponents(batch, colors, gen)
    snr = _uniform(batch, min_snr_db, max_snr_db, gen, mel)
    chosen = _coin(batch, p, gen, mel)
    fluct = torch.randn((batch, n_mels, frames, 4), generator=gen).pow(2).mean(dim=-1).to(mel.device)
    centres = centres_hz.double().clamp_min(1.0)
    bandwidth = torch.gradient(centres)[0].abs().clamp_min(1e-3)
    shape = (bandwidth[None, :] * centres[None, :] ** (-exponents.double()[:, None])).float().to(mel.device)
    shape = shape / shape.mean(dim=1, keepdim=True)  # (B, n_mels), mean 1
    power = 10.0 ** (mel.float() / 10.0)
    noise_power = power.mean(dim=(1, 2)) / 10.0 ** (snr / 10.0)
    noisy = 10.0 * torch.log10(power + noise_power[:, None, None] * shape[:, :, None] * fluct)
    return _where(chosen, noisy.to(mel.dtype), mel)


def warp_mel_pitch(mel: Tensor, semitones: Tensor, centres_hz: Tensor) -> Tensor:
    """Shift each example's pitch by ``semitones[b]`` by warping the mel axis (bins off the scale get the floor)."""
    batch, n_mels, _ = mel.shape
    centres = centres_hz.double()
    mel_pos = _hz_to_mel(centres)
    step = (mel_pos[-1] - mel_pos[0]) / max(n_mels - 1, 1)
    source_hz = centres[None, :] / (2.0 ** (semitones.detach().cpu().double()[:, None] / 12.0))
    index = ((_hz_to_mel(source_hz) - mel_pos[0]) / step).float().to(mel.device)  # (B, n_mels) fractional bins
    lo = index.floor().clamp(0, n_mels - 1).long()
    hi = (lo + 1).clamp(max=n_mels - 1)
    frac = (index - lo.float()).clamp(0.0, 1.0)[:, :, None]
    warped = _gather_bins(mel, lo) * (1 - frac) + _gather_bins(mel, hi) * frac
    outside = ((index < 0) | (index > n_mels - 1))[:, :, None]
    floor = mel.amin(dim=(1, 2), keepdim=True).expand_as(warped)
    return torch.where(outside, floor, warped)


def pitch_shift_mel(mel: Tensor, gen: torch.Generator, centres_hz: Tensor, p: float = 1.0,
                    max_semitones: float = 2.0) -> Tensor:
    """Shift pitch by a random ``[-max, +max]`` semitones per example (see :func:`warp_mel_pitch`)."""
    semitones = _uniform(mel.shape[0], -max_semitones, max_semitones, gen, mel)
    chosen = _coin(mel.shape[0], p, gen, mel)
    return _where(chosen, warp_mel_pitch(mel, semitones, centres_hz), mel)


def _gather_bins(mel: Tensor, index: Tensor) -> Tensor:
    """``out[b, m, t] = mel[b, index[b, m], t]``."""
    return mel.gather(1, index[:, :, None].expand(-1, -1, mel.shape[2]))


def _span_mask(batch: int, length: int, max_width: int, n_masks: int, gen: torch.Generator, like: Tensor) -> Tensor:
    """``(B, length)`` bool: the union of ``n_masks`` random spans of width ``0..max_width`` per row."""
    widths = torch.randint(0, max_width + 1, (batch, n_masks), generator=gen)
    starts = (torch.rand((batch, n_masks), generator=gen) * (length - widths + 1)).long()
    pos = torch.arange(length)[None, None, :]
    spans = (pos >= starts[:, :, None]) & (pos < (starts + widths)[:, :, None])
    return spans.any(dim=1).to(like.device)


def time_mask(mel: Tensor, gen: torch.Generator, p: float = 1.0, max_fraction: float = 0.1,
              n_masks: int = 2) -> Tensor:
    """SpecAugment time masking: ``n_masks`` spans of up to ``max_fraction`` of the frames, set to the mean."""
    return _mask_axis(mel, gen, 2, p, max_fraction, n_masks)


def freq_mask(mel: Tensor, gen: torch.Generator, p: float = 1.0, max_fraction: float = 0.15,
              n_masks: int = 2) -> Tensor:
    """SpecAugment frequency masking: ``n_masks`` bands of up to ``max_fraction`` of the bins, set to the mean."""
    return _mask_axis(mel, gen, 1, p, max_fraction, n_masks)


def _mask_axis(mel: Tensor, gen: torch.Generator, axis: int, p: float, max_fraction: float, n_masks: int) -> Tensor:
    """Fill random spans along ``axis`` (1: mel bins, 2: frames) of each chosen example with its mean."""
    batch, length = mel.shape[0], mel.shape[axis]
    spans = _span_mask(batch, length, int(max_fraction * length), n_masks, gen, mel)
    chosen = _coin(batch, p, gen, mel)
    fill = mel.mean(dim=(1, 2), keepdim=True).expand_as(mel)
    return torch.where((spans & chosen[:, None]).unsqueeze(3 - axis), fill, mel)


def tilt_mel(mel: Tensor, gen: torch.Generator, p: float = 1.0, min_db: float = -9.0, max_db: float = 9.0) -> Tensor:
    """EQ tilt: add a linear dB ramp across the bands, ``slope`` dB higher at the top band than at the bottom."""
    slope = _uniform(mel.shape[0], min_db, max_db, gen, mel)
    ramp = torch.linspace(-0.5, 0.5, mel.shape[1], device=mel.device)
    return _where(_coin(mel.shape[0], p, gen, mel), mel + slope[:, None, None] * ramp[None, :, None], mel)


def band_limit_mel(mel: Tensor, gen: torch.Generator, p: float = 1.0, min_keep: float = 0.5,
                   max_keep: float = 1.0) -> Tensor:
    """Band-limit: bands at and above a random ``keep`` fraction of the mel axis drop to the example's floor."""
    batch, n_mels, _ = mel.shape
    cutoff = (_uniform(batch, min_keep, max_keep, gen, mel) * n_mels).ceil()
    above = torch.arange(n_mels, device=mel.device)[None, :] >= cutoff[:, None]
    floor = mel.amin(dim=(1, 2), keepdim=True).expand_as(mel)
    chosen = _coin(batch, p, gen, mel)
    return torch.where((above & chosen[:, None])[:, :, None], floor, mel)


def noise_floor_mel(mel: Tensor, gen: torch.Generator, p: float = 1.0, min_db: float = -70.0,
                    max_db: float = -30.0) -> Tensor:
    """Log-add a flat noise floor ``[min_db, max_db]`` dB below the example's peak (chi-square fluctuating)."""
    batch = mel.shape[0]
    level = mel.amax(dim=(1, 2)) + _uniform(batch, min_db, max_db, gen, mel)
    fluct = torch.randn((*mel.shape, 4), generator=gen).pow(2).mean(dim=-1).to(mel.device)
    noisy = 10.0 * torch.log10(10.0 ** (mel.float() / 10.0) + 10.0 ** (level[:, None, None] / 10.0) * fluct)
    return _where(_coin(batch, p, gen, mel), noisy.to(mel.dtype), mel)


def reverb_smear_mel(mel: Tensor, gen: torch.Generator, frame_rate: float, p: float = 1.0,
                     seconds: tuple[float, float] = (0.0, 0.8), wet: tuple[float, float] = (0.0, 0.5)) -> Tensor:
    """Reverb smear: power ``P[t] + wet * sum_k>=1 a**k P[t-k]`` with ``a`` decaying 60 dB in a random time."""
    batch, n_mels, frames = mel.shape
    decay_s = _uniform(batch, seconds[0], seconds[1], gen, mel).clamp_min(1e-3)
    mix = _uniform(batch, wet[0], wet[1], gen, mel)
    chosen = _coin(batch, p, gen, mel)
    length = max(2, min(frames, math.ceil(float(seconds[1]) * frame_rate) + 1))
    lags = torch.arange(length, device=mel.device, dtype=torch.float32)
    kernel = 10.0 ** (-6.0 * lags[None, :] / (decay_s[:, None] * frame_rate))  # (B, length): 1, a, a**2, ...
    kernel = torch.cat([torch.ones_like(kernel[:, :1]), mix[:, None] * kernel[:, 1:]], dim=1)
    power = 10.0 ** (mel.float() / 10.0)
    padded = F.pad(power.reshape(1, batch * n_mels, frames), (length - 1, 0))
    weights = kernel.flip(1).repeat_interleave(n_mels, dim=0)[:, None, :]  # causal: lag k reads frame t - k
    smeared = F.conv1d(padded, weights, groups=batch * n_mels).reshape(batch, n_mels, frames)
    return _where(chosen, (10.0 * torch.log10(smeared.clamp_min(1e-10))).to(mel.dtype), mel)


def recording_chain_mel(mel: Tensor, gen: torch.Generator, cfg: ChainConfig, frame_rate: float) -> Tensor:
    """Room, EQ, band limit, noise floor and level of one random chain per chosen example (``cfg.p``)."""
    chosen = _coin(mel.shape[0], cfg.p, gen, mel)
    out = reverb_smear_mel(mel, gen, frame_rate, 1.0, tuple(cfg.reverb_s), tuple(cfg.reverb_wet))
    out = tilt_mel(out, gen, 1.0, *cfg.tilt_db)
    out = band_limit_mel(out, gen, 1.0, *cfg.cutoff)
    out = noise_floor_mel(out, gen, 1.0, *cfg.noise_db)
    out = gain_mel(out, gen, 1.0, *cfg.gain_db)
    return _where(chosen, out, mel)


class AugmentPipeline:
    """Random log-mel augmentations with the settings of ``cfg.augment``; :meth:`mel` gives one SSL view."""

    def __init__(self, audio: AudioConfig, cfg: AugmentConfig):
        problems = validate_augment_config(cfg)
        if problems:
            raise MuscallError("invalid augment config: " + "; ".join(problems))
        self.cfg = cfg
        self.centres_hz = mel_centres_hz(audio.n_mels, audio.sample_rate, audio.f_min, audio.f_max)
        self.rows = audio.feature_rows
        self.frame_rate = audio.sample_rate / audio.hop_length

    def chain(self, mel: Tensor, gen: torch.Generator) -> Tensor:
        """A random recording chain (``augment.chain``) on a share ``p`` of ``(B, rows, frames)``; chroma untouched."""
        mel, chroma = self._split(mel)
        mel = recording_chain_mel(mel, gen, self.cfg.chain, self.frame_rate)
        return torch.cat([mel, chroma], dim=1) if chroma.shape[1] else mel

    def _split(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        """(mel bands, chroma rows) of a front-end batch, after checking its row count."""
        if mel.shape[1] != self.rows:
            raise MuscallError(f"log-mel has {mel.shape[1]} rows but the pipeline was built for "
                               f"{self.rows}; pass the same audio config")
        n_mels = self.centres_hz.shape[0]
        return mel[:, :n_mels], mel[:, n_mels:]

    def mel(self, mel: Tensor, gen: torch.Generator, level_and_noise: bool = False) -> Tensor:
        """Pitch shift and masking on ``(B, n_mels, frames)``; also gain and noise when ``level_and_noise``.

        Chroma rows after the mel bands (``audio.chroma_n_fft > 0``) pass through unchanged: a view that moved
        pitch but kept its chroma would teach the SSL head to ignore the key.
        """
        c = self.cfg
        mel, chroma = self._split(mel)
        if level_and_noise:
            mel = gain_mel(mel, gen, c.p_gain, *c.gain_db)
            mel = add_noise_mel(mel, gen, self.centres_hz, c.p_noise, *c.snr_db, colors=tuple(c.noise_colors))
        mel = pitch_shift_mel(mel, gen, self.centres_hz, c.p_pitch_shift, c.max_semitones)
        mel = time_mask(mel, gen, c.time_mask.p, c.time_mask.max_fraction, c.time_mask.count)
        mel = freq_mask(mel, gen, c.freq_mask.p, c.freq_mask.max_fraction, c.freq_mask.count)
        return torch.cat([mel, chroma], dim=1) if chroma.shape[1] else mel


__all__ = ["AugmentPipeline", "add_noise_mel", "band_limit_mel", "freq_mask", "gain_mel", "mel_centres_hz",
           "noise_floor_mel", "pitch_shift_mel", "recording_chain_mel", "reverb_smear_mel", "tilt_mel", "time_mask",
           "warp_mel_pitch"]
