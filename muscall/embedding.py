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
    """Normalised text embeddings ``(N, D)``, read through the tokenizer's vocabulary bridge when it has one: unseen
    words mapped, and a text with such words mixed with its nearest training captions (:func:`_with_neighbours`)."""
    texts = list(texts)
    out = [_encode_text(model, *tokenizer.encode_queries(texts[lo:lo + batch_size], max_tokens), device)
           for lo in range(0, len(texts), batch_size)]
    if not out:
        return np.zeros((0, model.embed_dim), np.float32)
    emb = torch.cat(out).numpy().astype(np.float32)
    bridge = getattr(tokenizer, "bridge", None)
    return _with_neighbours(model, tokenizer, bridge, texts, emb, max_tokens, batch_size, device) \
        if bridge is not None and bridge.neighbours else emb


def _with_neighbours(model, tokenizer, bridge, texts: list[str], emb: np.ndarray, max_tokens: int, batch_size: int,
                     device) -> np.ndarray:
    """Each text with words the tower never saw, as ``(1 - u) * its embedding + u * the mean embedding of its
    nearest training captions`` (``u`` its share of unknown content words), normalised; other rows unchanged."""
    found = [(i, share, rows) for i, (share, rows) in enumerate(bridge.nearest_captions(texts)) if rows]
    if not found:
        return emb

    table = _caption_table(model, tokenizer, bridge, max_tokens, batch_size, device)
    out = emb.copy()
    for i, share, rows in found:
        mean = table[rows].mean(0)
        mixed = (1.0 - share) * emb[i] + share * mean / max(float(np.linalg.norm(mean)), 1e-12)
        out[i] = mixed / max(float(np.linalg.norm(mixed)), 1e-12)
    return out


def prime_bridge(model, tokenizer, max_tokens: int, batch_size: int = 256, device: str | torch.device = "cpu") -> None:
    """Load MiniLM and embed the bridge's neighbour captions now (a service at start-up), so the first query with a
    word the model never saw costs no more than the next."""
    bridge = getattr(tokenizer, "bridge", None)
    if bridge is None:
        return
    bridge.prime()
    if bridge.neighbours:
        with torch.no_grad():
            _caption_table(model, tokenizer, bridge, max_tokens, batch_size, device)


def _caption_table(model, tokenizer, bridge, max_tokens: int, batch_size: int, device) -> np.ndarray:
    """The tower's embeddings of the bridge's kept training captions (their own words, read without the bridge),
    cached on the bridge per model state."""
    def embed(captions: list[str]) -> np.ndarray:
        return torch.cat([_encode_text(model, *tokenizer.encode_batch(captions[lo:lo + batch_size], max_tokens),
                                       device) for lo in range(0, len(captions), batch_size)]).numpy()

    return bridge.caption_embeddings(model, embed)


def _encode_text(model, tokens: torch.Tensor, mask: torch.Tensor, device) -> torch.Tensor:
    with autocast(device):
        emb = model.encode_text(tokens.to(device), mask.to(device), normalize=False)
    return F.normalize(emb.float(), dim=-1).cpu()  # normalised in float32 after bf16/fp16 autocast


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
