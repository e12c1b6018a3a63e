"""Frozen-encoder features for the scoring heads, extracted once and kept in memory (optionally an ``.npz`` cache).

Per rated row: the audio tower's frame features and mask (``MusCALL.audio_frames``), low-level signal
features time-aligned with those frames (:mod:`muscall.audio.signal`), the text tower's token features
and mask (``MusCALL.text_tokens``), the token ids (the fact check reads the words themselves) and both
normalised global embeddings. The audio is the first
``seconds`` of the clip (``None``: the whole clip), decoded at the checkpoint's sample rate; clips are
encoded one exact length at a time (never padded), so a clip's features never depend on its batch.

Audio and text arrays are stored once per unique clip path / caption; rows point into them by index
(a degraded corpus has many rows per caption). Only the frozen encoder is implemented: the heads train on
these cached features; fine-tuning the encoder together with the heads is not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm import tqdm

from index.fileio import atomic_path
from muscall.audio.features import MelFrontEnd
from muscall.audio.signal import SIGNAL_DIM, signal_features
from muscall.audio.windows import frames_to_seconds
from muscall.config import AudioConfig
from muscall.data.manifest import ClipRow, resolve_audio_path
from muscall.errors import MuscallError
from muscall.models.audio_encoder import min_input_frames

log = logging.getLogger(__name__)
CACHE_VERSION = 5
_ARRAYS = ("audio_index", "text_index", "frames", "frame_mask", "audio_emb", "tokens", "token_mask", "text_emb",
           "matched", "sources", "signal", "token_ids")


@dataclass
class ScoringFeatures:
    """Rows (ids, systems, captions, ratings) pointing into per-clip audio and per-caption text arrays."""

    ids: list[str]
    systems: list[str]
    captions: list[str]
    ratings: dict[str, np.ndarray]  # axis -> [N] float64, NaN where a row has no rating
    audio_index: np.ndarray  # [N] int64 into the audio arrays
    text_index: np.ndarray  # [N] int64 into the text arrays
    frames: np.ndarray  # [A, T, C] float32 (zero padded)
    frame_mask: np.ndarray  # [A, T] bool
    audio_emb: np.ndarray  # [A, D] float32, L2-normalised
    tokens: np.ndarray  # [U, L, W] float32 (zero padded)
    token_mask: np.ndarray  # [U, L] bool
    text_emb: np.ndarray  # [U, D] float32, L2-normalised
    matched: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # [N] caption states the clip truly
    sources: np.ndarray = field(default_factory=lambda: np.zeros(0, "<U1"))  # [N] source clip (for mismatches)
    signal: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, SIGNAL_DIM), np.float32))  # [A, T, F]
    token_ids: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))  # [U, L] tokenizer ids, 0 padded
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (row id, reason) of rows that failed to load

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def audio_dim(self) -> int:
        """Frame feature width ``C``."""
        return int(self.frames.shape[-1])

    @property
    def signal_dim(self) -> int:
        """Signal feature width ``F`` (0 when the features have none)."""
        return int(self.signal.shape[-1]) if self.signal.shape[0] == self.frames.shape[0] else 0

    @property
    def text_dim(self) -> int:
        """Token feature width ``W``."""
        return int(self.tokens.shape[-1])

    def subset(self, index: Sequence[int] | np.ndarray) -> "ScoringFeatures":
        """The rows at ``index`` (audio and text arrays are shared, not copied)."""
        idx = np.asarray(index, dtype=np.int64)
        return dataclasses.replace(
            self, ids=[self.ids[i] for i in idx], systems=[self.systems[i] for i in idx],
            captions=[self.captions[i] for i in idx], ratings={a: v[idx] for a, v in self.ratings.items()},
            audio_index=self.audio_index[idx], text_index=self.text_index[idx], matched=self.matched[idx],
            sources=self.sources[idx], skipped=[])

    def batch(self, index: Sequence[int] | np.ndarray, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """Model inputs for rows ``index``: frames, mask, text_tokens, text_mask, audio_emb, text_emb (+ signal,
        token_ids)."""
        idx = np.asarray(index, dtype=np.int64)
        a, t = self.audio_index[idx], self.text_index[idx]
        t_len = max(1, int(self.token_mask[t].sum(axis=1).max()))
        a_len = max(1, int(self.frame_mask[a].sum(axis=1).max()))
        arrays = {"frames": self.frames[a, :a_len], "mask": self.frame_mask[a, :a_len],
                  "text_tokens": self.tokens[t, :t_len], "text_mask": self.token_mask[t, :t_len],
                  "audio_emb": self.audio_emb[a], "text_emb": self.text_emb[t]}
        if self.signal_dim:
            arrays["signal"] = self.signal[a, :a_len]
        if self.token_ids.shape[0] == self.tokens.shape[0]:
            arrays["token_ids"] = self.token_ids[t, :t_len]
        return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in arrays.items()}

    def targets(self, axes: Sequence[str]) -> dict[str, np.ndarray]:
        """``{axis: ratings [N]}`` for ``axes``; a missing axis raises naming the axes available."""
        missing = [a for a in axes if a not in self.ratings]
        if missing:
            raise MuscallError(f"the rated rows have no '{missing[0]}' ratings (axes found: "
                               f"{', '.join(self.ratings) or 'none'}); set scoring.axes to axes the manifest rates")
        return {a: self.ratings[a] for a in axes}


class FeatureExtractor:
    """The frozen dual encoder turned into per-clip frame/embedding and per-caption token/embedding features."""

    def __init__(self, model: torch.nn.Module, tokenizer: Any, audio_cfg: AudioConfig, max_tokens: int,
                 seconds: float | None = None, device: str | torch.device = "cpu", batch_size: int = 16):
        if seconds is not None and seconds <= 0:
            raise MuscallError(f"seconds={seconds}: give a positive number of seconds, or None for whole clips")
        self.model = model.eval()
        self.tokenizer, self.audio_cfg, self.max_tokens = tokenizer, audio_cfg, max_tokens
        self.seconds, self.device, self.batch_size = seconds, torch.device(device), max(1, batch_size)
        self.front = MelFrontEnd(audio_cfg, max_seconds=seconds, device=self.device)

    def settings(self) -> dict[str, Any]:
        """What decides the features (stored with trained heads so prediction extracts the same way)."""
        return {"seconds": self.seconds, "max_tokens": self.max_tokens}

    def load_clip(self, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
        """``(log-mel [n_mels, T], waveform [samples])`` of the first ``seconds`` of a file."""
        wave = self.front.wave(path)
        return self.mel(wave), wave

    def crop(self, wave: np.ndarray | torch.Tensor) -> np.ndarray:
        """The first ``seconds`` of a mono waveform as float32 ``[samples]``."""
        x = np.asarray(wave.detach().cpu() if isinstance(wave, torch.Tensor) else wave, dtype=np.float32).ravel()
        return x[: self.front.max_samples]

    @torch.no_grad()
    def mel(self, wave: np.ndarray | torch.Tensor) -> np.ndarray:
        """Log-mel ``[n_mels, T]`` of the first ``seconds`` of a mono waveform at the model's sample rate."""
        x = self.crop(wave)
        if x.size <= self.front.logmel.n_fft // 2 or self.front.logmel.num_frames(x.size) < min_input_frames():
            need = frames_to_seconds([min_input_frames()], self.audio_cfg)[0]
            raise MuscallError(f"audio of {x.size / self.audio_cfg.sample_rate:.2f} s is too short for the audio "
                               f"tower; it needs at least {need:.2f} s (use longer clips or a larger --seconds)")
        return self.front.mel(x)

    def signal(self, mel: np.ndarray, wave: np.ndarray, n_frames: int) -> np.ndarray:
        """Signal features ``[n_frames, SIGNAL_DIM]`` of a clip, aligned with its ``n_frames`` tower frames."""
        a = self.audio_cfg
        return signal_features(mel[: a.n_mels], wave, n_frames, a.hop_length, a.sample_rate)  # mel rows only

    @torch.no_grad()
    def audio(self, mels: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(frames [T', C], embedding [D])`` per log-mel; equal lengths are batched, nothing is padded."""
        out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(mels)
        by_len: dict[int, list[int]] = {}
        for i, mel in enumerate(mels):
            by_len.setdefault(int(mel.shape[-1]), []).append(i)
        for group in by_len.values():
            for lo in range(0, len(group), self.batch_size):
                chunk = group[lo:lo + self.batch_size]
                x = torch.from_numpy(np.stack([mels[i] for i in chunk])).to(self.device)
                frames, _ = self.model.audio_frames(x)
                emb = self.model.encode_audio(x, normalize=True)
                for j, i in enumerate(chunk):
                    out[i] = (frames[j].float().cpu().numpy(), emb[j].float().cpu().numpy())
        return out  # type: ignore[return-value]

    @torch.no_grad()
    def text(self, captions: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(tokens [L, W] (valid tokens only), embedding [D], token ids [L])`` per caption."""
        out = []
        for lo in range(0, len(captions), 64):
            ids, mask = self.tokenizer.encode_batch(list(captions[lo:lo + 64]), self.max_tokens)
            ids, mask = ids.to(self.device), mask.to(self.device)
            tokens = self.model.text_tokens(ids, mask).float().cpu().numpy()
            emb = self.model.encode_text(ids, mask, normalize=True).float().cpu().numpy()
            lengths, ids = mask.sum(dim=1).cpu().numpy(), ids.cpu().numpy().astype(np.int64)
            out += [(tokens[j, : lengths[j]], emb[j], ids[j, : lengths[j]]) for j in range(len(lengths))]
        return out


def extract_features(extractor: FeatureExtractor, rows: Sequence[ClipRow], manifest_path: str | Path | None = None,
                     progress: bool = False, chunk: int = 64) -> ScoringFeatures:
    """Features of ``rows``; a row whose audio cannot be used is skipped and listed in ``skipped`` (logged)."""
    paths = [str(resolve_audio_path(r, manifest_path)) if manifest_path else r.audio_path for r in rows]
    unique_paths = list(dict.fromkeys(paths))
    audio: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    failed: dict[str, str] = {}
    for lo in tqdm(range(0, len(unique_paths), chunk), desc="features", unit="chunk", disable=not progress):
        clips, names = [], []
        for path in unique_paths[lo:lo + chunk]:
            try:
                clips.append(extractor.load_clip(path))
                names.append(path)
            except MuscallError as err:
                failed[path] = str(err)
        for name, (mel, wave), (frames, emb) in zip(names, clips, extractor.audio([c[0] for c in clips])):
            audio[name] = (frames, emb, extractor.signal(mel, wave, frames.shape[0]))
    keep = [i for i, p in enumerate(paths) if p in audio]
    skipped = [(rows[i].id, failed[paths[i]]) for i in range(len(rows)) if paths[i] in failed]
    for row_id, reason in skipped[:5]:
        log.warning("skipping row %s: %s", row_id, reason)
    if not keep:
        raise MuscallError(f"none of the {len(rows)} rows has usable audio (first problem: "
                           f"{skipped[0][1] if skipped else 'no rows'}); check the manifest's audio paths")
    captions = list(dict.fromkeys(rows[i].caption for i in keep))
    text = dict(zip(captions, extractor.text(captions)))
    return _assemble([rows[i] for i in keep], [paths[i] for i in keep], audio, text, skipped)


def _assemble(rows: list[ClipRow], paths: list[str], audio: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
              text: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], skipped: list[tuple[str, str]]
              ) -> ScoringFeatures:
    audio_keys, text_keys = list(dict.fromkeys(paths)), list(text)
    a_pos = {k: i for i, k in enumerate(audio_keys)}
    t_pos = {k: i for i, k in enumerate(text_keys)}
    frames, frame_mask = _pad([audio[k][0] for k in audio_keys])
    signal, _ = _pad([audio[k][2] for k in audio_keys])
    tokens, token_mask = _pad([text[k][0] for k in text_keys])
    token_ids, _ = _pad([text[k][2] for k in text_keys], np.int64)
    axes = list(dict.fromkeys(a for r in rows for a in r.ratings))
    return ScoringFeatures(
        ids=[r.id for r in rows], systems=[r.system or "" for r in rows], captions=[r.caption for r in rows],
        ratings={a: np.array([r.ratings.get(a, np.nan) for r in rows], dtype=np.float64) for a in axes},
        audio_index=np.array([a_pos[p] for p in paths], dtype=np.int64),
        text_index=np.array([t_pos[r.caption] for r in rows], dtype=np.int64),
        frames=frames, frame_mask=frame_mask, audio_emb=np.stack([audio[k][1] for k in audio_keys]),
        tokens=tokens, token_mask=token_mask, text_emb=np.stack([text[k][1] for k in text_keys]),
        matched=np.array([not r.attributes.get("changed") for r in rows], dtype=bool),
        sources=np.array([str(r.attributes.get("source_id", p)) for r, p in zip(rows, paths)]),
        signal=signal, token_ids=token_ids, skipped=skipped)


def _pad(seqs: list[np.ndarray], dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``[T_i, ...]`` arrays into zero-padded ``[N, T, ...]`` of ``dtype`` and a ``[N, T]`` mask."""
    length = max(max(s.shape[0] for s in seqs), 1)
    out = np.zeros((len(seqs), length, *seqs[0].shape[1:]), dtype=dtype)
    mask = np.zeros((len(seqs), length), dtype=bool)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = True
    return out, mask


def cache_key(checkpoint_sha: str, settings: dict[str, Any], rows: Sequence[ClipRow]) -> str:
    """Hash of what decides the features: the encoder weights, the extraction settings and the rows."""
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, checkpoint_sha, settings], sort_keys=True).encode())
    for r in rows:
        digest.update(json.dumps([r.id, r.audio_path, r.caption, r.system, r.ratings,
                                  r.attributes.get("changed"), r.attributes.get("source_id")]).encode())
    return digest.hexdigest()


def save_feature_cache(path: str | Path, feats: ScoringFeatures, key: str) -> Path:
    """Write features as one ``.npz`` (atomic) tagged with ``key``."""
    meta = {"version": CACHE_VERSION, "key": key, "ids": feats.ids, "systems": feats.systems,
            "captions": feats.captions, "axes": list(feats.ratings), "skipped": feats.skipped}
    arrays = {name: getattr(feats, name) for name in _ARRAYS}
    arrays.update({f"rating_{a}": v for a, v in feats.ratings.items()})
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)
    return Path(path)


def load_feature_cache(path: str | Path, key: str) -> ScoringFeatures | None:
    """The cached features when ``path`` exists and was written for ``key``, else None."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("version") != CACHE_VERSION or meta.get("key") != key:
                log.info("feature cache %s is for other rows or another encoder; recomputing", path)
                return None
            arrays = {name: data[name] for name in _ARRAYS}
            ratings = {a: data[f"rating_{a}"] for a in meta["axes"]}
    except (OSError, ValueError, KeyError) as err:
        log.warning("feature cache %s is unreadable (%s); recomputing", path, err)
        return None
    return ScoringFeatures(ids=meta["ids"], systems=meta["systems"], captions=meta["captions"], ratings=ratings,
                           skipped=[tuple(s) for s in meta["skipped"]], **arrays)
