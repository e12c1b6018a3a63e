"""Deterministic embeddings: full-track windows for audio, batched captions for text.

A track's embedding is the L2-normalised mean of the embeddings of its fixed windows (``audio.clip_seconds``
long, ``audio.window_hop_seconds`` apart, the last aligned to the end; see
:func:`muscall.audio.windows.track_windows`), so the same audio always gives the same vector. Validation and
evaluation embed (clip, caption) pairs with :func:`embed_pairs`, one caption rule for both. On CUDA the towers
run under bf16/fp16 autocast (:mod:`muscall.utils.accel`); on the CPU in float32, as always.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from muscall.audio.windows import crop_frames, hop_frames, track_windows
from muscall.data.manifest import ClipRow, caption_of
from muscall.utils.accel import autocast


@dataclass
class TrackEmbeddings:
    """Track vectors ``(N, D)`` and, per track, its window vectors ``(W_i, D)`` with start frames."""

    tracks: np.ndarray
    windows: list[np.ndarray]
    starts: list[np.ndarray]


@torch.no_grad()
def embed_mels(model, mels: Iterable[np.ndarray], audio_cfg, batch_size: int = 32,
               device: str | torch.device = "cpu") -> TrackEmbeddings:
    """Embed whole-track log-mels ``(n_mels, frames)`` through fixed windows, batching windows across tracks."""
    n_frames, hop = crop_frames(audio_cfg), hop_frames(audio_cfg)
    pending: list[np.ndarray] = []
    owners: list[int] = []
    starts: list[np.ndarray] = []
    out: list[torch.Tensor] = []
    for i, mel in enumerate(mels):
        wins, first_frames = track_windows(mel, n_frames, hop)
        starts.append(first_frames)
        pending.extend(wins)
        owners.extend([i] * len(wins))
        while len(pending) >= batch_size:
            out.append(_encode(model, pending[:batch_size], device))
            pending = pending[batch_size:]
    if pending:
        out.append(_encode(model, pending, device))
    if not out:
        return TrackEmbeddings(np.zeros((0, model.embed_dim), np.float32), [], [])
    win = torch.cat(out)
    owner = torch.tensor(owners)
    n = len(starts)
    sums = torch.zeros(n, win.shape[1]).index_add_(0, owner, win)
    tracks = F.normalize(sums, dim=-1).numpy()
    windows = [w.numpy() for w in torch.split(win, [len(s) for s in starts])]  # each track's windows are contiguous
    return TrackEmbeddings(tracks.astype(np.float32), windows, starts)


@torch.no_grad()
def embed_texts(model, tokenizer, texts: Sequence[str], max_tokens: int, batch_size: int = 256,
                device: str | torch.device = "cpu") -> np.ndarray:
    """Normalised text embeddings ``(N, D)`` (through the tokenizer's vocabulary bridge, when it has one)."""
    out = []
    for lo in range(0, len(texts), batch_size):
        tokens, mask = tokenizer.encode_queries(list(texts[lo:lo + batch_size]), max_tokens)
        with autocast(device):
            emb = model.encode_text(tokens.to(device), mask.to(device), normalize=False)
        out.append(F.normalize(emb.float(), dim=-1).cpu())  # normalised in float32 after bf16/fp16 autocast
    if not out:
        return np.zeros((0, model.embed_dim), np.float32)
    return torch.cat(out).numpy().astype(np.float32)


def embed_pairs(model, tokenizer, mels: Iterable[np.ndarray], rows: Sequence[ClipRow], audio_cfg, max_tokens: int,
                caption_field: str, device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Track embeddings of the rows' whole log-mels and embeddings of the text they are evaluated on
    (:func:`caption_of` with ``data.caption_field``): the one rule for validation and evaluation."""
    audio = embed_mels(model, mels, audio_cfg, device=device).tracks
    text = embed_texts(model, tokenizer, [caption_of(r, caption_field) for r in rows], max_tokens, device=device)
    return audio, text


def _encode(model, windows: list[np.ndarray], device) -> torch.Tensor:
    x = torch.from_numpy(np.stack(windows)).to(device)
    with autocast(device):
        emb = model.encode_audio(x, normalize=False)
    return F.normalize(emb.float(), dim=-1).cpu()  # normalised in float32 after bf16/fp16 autocast
