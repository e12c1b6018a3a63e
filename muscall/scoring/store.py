"""Trained scoring heads on disk: a folder of safetensors members, one JSON description and a checksum manifest.

Layout of ``HEADS/``::

    members/<name>.safetensors  one NormalizedScorer state_dict per trained member (kept or not)
    heads.json                  format version, each member's ScoringConfig / seed / validation SRCC, the
                                per-axis ensemble (member names averaged, MMMOS top-k), target scalers,
                                feature settings, the encoder checkpoint (path + sha256), the alignment
                                calibration, the training settings
    meta.json                   file sizes and sha256 checksums (written last)

The folder is written under a temp name and renamed into place. The calibration can also be written into
the encoder checkpoint's ``extra.json`` as ``"alignment_calibration"`` (:func:`store_calibration_in_checkpoint`).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from index.fileio import atomic_write_json, read_versioned_json, replace_dir, sha256_file
from muscall.audio.signal import SIGNAL_DIM
from muscall.checkpoint import load_checkpoint, save_checkpoint
from muscall.config import from_dict
from muscall.errors import MuscallError
from muscall.models.quality.heads import QualityScorer
from muscall.config.scoring import ScoringConfig
from muscall.scoring.targets import TargetScaler

FORMAT_VERSION = 1
_HEADS_FILE = {"version": FORMAT_VERSION, "what": "scoring-heads folder", "error": MuscallError,
               "fix": "retrain them with 'muscall score train' or restore the folder",
               "missing_fix": "pass the --out folder of 'muscall score train'"}
CALIBRATION_KEY = "alignment_calibration"


class NormalizedScorer(nn.Module):
    """A :class:`QualityScorer` behind a fixed per-channel standardisation of frames and tokens (fit on train)."""

    audio_mean: torch.Tensor
    audio_std: torch.Tensor
    text_mean: torch.Tensor
    text_std: torch.Tensor

    def __init__(self, cfg: ScoringConfig, audio_dim: int, text_dim: int, signal_dim: int = 0):
        super().__init__()
        self.scorer = QualityScorer(cfg, audio_dim, text_dim, signal_dim)
        self.register_buffer("audio_mean", torch.zeros(audio_dim))
        self.register_buffer("audio_std", torch.ones(audio_dim))
        self.register_buffer("text_mean", torch.zeros(text_dim))
        self.register_buffer("text_std", torch.ones(text_dim))
        if self.scorer.signal_dim:
            self.register_buffer("signal_mean", torch.zeros(self.scorer.signal_dim))
            self.register_buffer("signal_std", torch.ones(self.scorer.signal_dim))

    def set_norm(self, audio: tuple[np.ndarray, np.ndarray], text: tuple[np.ndarray, np.ndarray],
                 signal: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Set the (mean, std) per channel of frames, of tokens and (when used) of signal features."""
        pairs = [("audio", audio), ("text", text)] + ([("signal", signal)] if self.scorer.signal_dim else [])
        for name, (mean, std) in pairs:
            getattr(self, f"{name}_mean").copy_(torch.as_tensor(mean, dtype=torch.float32))
            getattr(self, f"{name}_std").copy_(torch.as_tensor(np.maximum(std, 1e-6), dtype=torch.float32))

    def forward_with_ot(self, batch: dict[str, torch.Tensor],
                        with_ot: bool = True) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """Scores (z-space) and the OT term for a batch from :meth:`ScoringFeatures.batch`."""
        frames = (batch["frames"] - self.audio_mean) / self.audio_std
        tokens = batch.get("text_tokens")
        if tokens is not None:
            tokens = (tokens - self.text_mean) / self.text_std
        signal = raw = batch.get("signal")
        if signal is not None and self.scorer.signal_dim:
            signal = (signal - self.signal_mean) / self.signal_std
        return self.scorer.forward_with_ot(frames, batch["mask"], tokens, batch.get("text_mask"),
                                           batch.get("audio_emb"), batch.get("text_emb"), with_ot=with_ot,
                                           signal=signal, signal_raw=raw, token_ids=batch.get("token_ids"))

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Scores ``{axis: [B]}`` in z-space."""
        return self.forward_with_ot(batch, with_ot=False)[0]


@dataclass
class Member:
    """One trained scorer and how it did on validation."""

    name: str
    cfg: ScoringConfig
    model: NormalizedScorer
    seed: int = 0
    val_srcc: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0

    def describe(self) -> dict[str, Any]:
        """JSON description (no weights)."""
        return {"name": self.name, "seed": self.seed, "best_epoch": self.best_epoch,
                "val_srcc": {a: _finite(v) for a, v in self.val_srcc.items()},
                "scoring": dataclasses.asdict(self.cfg)}


@dataclass
class ScoringHeads:
    """Trained members, the per-axis ensemble, target scalers and what is needed to feed them."""

    members: list[Member]
    ensemble: dict[str, list[str]]  # axis -> names of the members averaged for it
    scalers: dict[str, TargetScaler]
    audio_dim: int
    text_dim: int
    signal_dim: int = 0  # width of the signal features the members were trained with (0: none)
    features: dict[str, Any] = field(default_factory=dict)  # FeatureExtractor.settings()
    checkpoint: dict[str, str] = field(default_factory=dict)  # {"path", "sha256"} of the encoder
    calibration: dict[str, Any] | None = None
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def axes(self) -> list[str]:
        """Axes the ensemble scores."""
        return list(self.ensemble)

    def member(self, name: str) -> Member:
        """The member called ``name``."""
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(name)

    @torch.no_grad()
    def predict(self, batch: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Ensemble scores on the rating scale ``{axis: [B]}`` (text axes only when the batch has tokens)."""
        outputs = {m.name: m.model.eval()(batch) for m in self.members if _used(m.name, self.ensemble)}
        scores = {}
        for axis, names in self.ensemble.items():
            got = [outputs[n][axis] for n in names if axis in outputs[n]]
            if got:
                z = torch.stack(got).mean(dim=0).double().cpu().numpy()
                scores[axis] = self.scalers[axis].denormalize(z) if axis in self.scalers else z
        return scores

    def to(self, device: str | torch.device) -> "ScoringHeads":
        """Move every member to ``device``."""
        for m in self.members:
            m.model.to(device)
        return self


def save_heads(path: str | Path, heads: ScoringHeads) -> Path:
    """Write ``heads`` to the folder ``path`` atomically (temp folder, checksums, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        (tmp / "members").mkdir()
        for m in heads.members:
            state = {k: v.detach().contiguous().cpu() for k, v in m.model.state_dict().items()}
            save_file(state, str(tmp / "members" / f"{m.name}.safetensors"))
        atomic_write_json(tmp / "heads.json", describe(heads))
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        atomic_write_json(tmp / "meta.json", {"format_version": FORMAT_VERSION, "files": {
            str(p.relative_to(tmp)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in files}})
        replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def describe(heads: ScoringHeads) -> dict[str, Any]:
    """The ``heads.json`` content."""
    return {"format_version": FORMAT_VERSION, "axes": heads.axes, "ensemble": heads.ensemble,
            "scalers": {a: s.to_dict() for a, s in heads.scalers.items()},
            "audio_dim": heads.audio_dim, "text_dim": heads.text_dim, "signal_dim": heads.signal_dim,
            "features": heads.features,
            "checkpoint": heads.checkpoint, CALIBRATION_KEY: heads.calibration, "training": heads.training,
            "members": [m.describe() for m in heads.members]}


def load_heads(path: str | Path, device: str | torch.device = "cpu", verify: bool = True) -> ScoringHeads:
    """Load a folder written by :func:`save_heads` (members in eval mode on ``device``)."""
    path = Path(path)
    meta = read_versioned_json(path / "meta.json", **_HEADS_FILE)
    if verify:
        _verify(path, meta)
    info = read_versioned_json(path / "heads.json", **_HEADS_FILE)
    signal_dim = int(info.get("signal_dim", 0))
    if signal_dim and signal_dim != SIGNAL_DIM:
        raise MuscallError(f"scoring heads '{path}' were trained on {signal_dim} signal features; this muscall computes "
                           f"{SIGNAL_DIM} (the set changed: pitch drift, then chroma and tempo were added); retrain them "
                           "with 'muscall score train'")
    members = []
    for desc in info["members"]:
        # heads saved before the fact check existed have no ta_fact_check setting, and no fact-check weights
        cfg = from_dict(ScoringConfig, {"ta_fact_check": False, **desc["scoring"]}, "scoring.")
        model = NormalizedScorer(cfg, info["audio_dim"], info["text_dim"], int(info.get("signal_dim", 0)))
        model.load_state_dict(load_file(str(path / "members" / f"{desc['name']}.safetensors")))
        members.append(Member(desc["name"], cfg, model.to(device).eval(), desc.get("seed", 0),
                              {a: _nan(v) for a, v in desc.get("val_srcc", {}).items()}, desc.get("best_epoch", 0)))
    return ScoringHeads(members=members, ensemble=info["ensemble"],
                        scalers={a: TargetScaler.from_dict(s) for a, s in info["scalers"].items()},
                        audio_dim=info["audio_dim"], text_dim=info["text_dim"],
                        signal_dim=int(info.get("signal_dim", 0)), features=info.get("features", {}),
                        checkpoint=info.get("checkpoint", {}), calibration=info.get(CALIBRATION_KEY),
                        training=info.get("training", {}))


def store_calibration_in_checkpoint(checkpoint: str | Path, calibration: dict[str, Any]) -> str:
    """Rewrite ``checkpoint`` (atomically) with ``extra["alignment_calibration"]``; returns its weights sha256."""
    ckpt = load_checkpoint(checkpoint, with_train_state=True)
    extra = dict(ckpt.extra)
    extra[CALIBRATION_KEY] = calibration
    save_checkpoint(ckpt.path, ckpt.model, ckpt.config, ckpt.tokenizer, train_state=ckpt.train_state, extra=extra)
    return sha256_file(Path(ckpt.path) / "model.safetensors")


def _used(name: str, ensemble: dict[str, list[str]]) -> bool:
    return any(name in names for names in ensemble.values())


def _verify(path: Path, meta: dict[str, Any]) -> None:
    for rel, info in meta["files"].items():
        p = path / rel
        if not p.is_file() or p.stat().st_size != info["bytes"] or sha256_file(p) != info["sha256"]:
            raise MuscallError(f"scoring heads '{path}': '{rel}' is missing or does not match its checksum; "
                               "retrain with 'muscall score train' or restore the folder")



def _finite(v: float) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def _nan(v: float | None) -> float:
    return float("nan") if v is None else float(v)
