"""Train scoring heads on cached frozen-encoder features: z-scored targets, early stopping, MMMOS top-k ensemble.

Each member is a :class:`~muscall.scoring.store.NormalizedScorer` (a ``QualityScorer``) trained with AdamW on
z-scored ratings (one :class:`TargetScaler` per axis, fit on the training rows), the per-axis losses of its
``ScoringConfig`` and the Sinkhorn OT term (``ot_weight``). After every epoch the utterance-level SRCC of each
axis is measured on the validation rows; the state with the best mean SRCC over the axes is kept and training
stops after ``patience`` epochs without improvement. Members differ by seed and, cycled, by pooling and loss;
for each axis the ``top_k`` members with the best validation SRCC on that axis are averaged (MMMOS).

The zero-training alignment score is fit here too: :func:`fit_alignment_calibration` (matched vs mismatched
caption cosines of the training rows).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Sequence, TypeVar

import numpy as np
import torch
import yaml
from tqdm import tqdm

from muscall.config import ConfigError, from_dict
from muscall.errors import MuscallError
from muscall.eval.quality_metrics import srcc
from muscall.losses.quality import QualityLoss
from muscall.scoring.calibration import fit_calibration
from muscall.config.scoring import ScoringConfig, ScoringConfigError, validate_scoring_config
from muscall.scoring.data import ScoringFeatures
from muscall.scoring.store import Member, NormalizedScorer, ScoringHeads
from muscall.scoring.targets import TargetScaler, fit_target_scalers
from muscall.utils.accel import torch_threads

log = logging.getLogger(__name__)
M = TypeVar("M")


@dataclass
class TrainSettings:
    """Optimisation and ensembling of the scoring heads (the heads' architecture is the ScoringConfig)."""

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    patience: int = 15  # epochs without a better validation SRCC before stopping
    seed: int = 0
    members: int = 1  # ensemble size N (members differ by seed, and by poolings / losses when given)
    top_k: int = 1  # members averaged per axis
    poolings: list[str] = field(default_factory=list)  # cycled over members; empty: the config's pooling
    losses: list[str] = field(default_factory=list)  # cycled over members; empty: the config's loss
    shuffle_labels: bool = False  # control: permute the training ratings (breaks every real relation)
    device: str = "cpu"
    threads: int | None = None  # torch CPU threads while training (small heads: 1 is often fastest); None: as is

    def check(self) -> None:
        """Raise MuscallError on an impossible setting."""
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0 or self.patience < 1:
            raise MuscallError("scoring training needs epochs >= 1, batch_size >= 2, lr > 0 and patience >= 1")
        if not 1 <= self.top_k <= self.members:
            raise MuscallError(f"--top-k {self.top_k} must be between 1 and --ensemble {self.members}")


def apply_scoring_overrides(cfg: ScoringConfig, overrides: Sequence[str]) -> ScoringConfig:
    """``cfg`` with ``scoring.key=value`` overrides applied and validated."""
    raw = dataclasses.asdict(cfg)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.startswith("scoring.") or "." in key[len("scoring."):]:
            raise ConfigError(f"override '{item}' must look like scoring.key=value (e.g. scoring.pooling=mean)")
        raw[key[len("scoring."):]] = yaml.safe_load(text) if text else ""
    out = from_dict(ScoringConfig, raw, "scoring.")
    problems = validate_scoring_config(out)
    if problems:
        raise ScoringConfigError("; ".join(problems))
    return out


def member_configs(base: ScoringConfig, settings: TrainSettings) -> list[tuple[str, ScoringConfig, int]]:
    """``(name, config, seed)`` of each ensemble member: seeds ``seed + i``, poolings / losses cycled."""
    out = []
    for i in range(settings.members):
        cfg = copy.deepcopy(base)
        if settings.poolings:
            cfg.pooling = settings.poolings[i % len(settings.poolings)]
        if settings.losses:
            cfg.loss = settings.losses[i % len(settings.losses)]
        problems = validate_scoring_config(cfg)
        if problems:
            raise ScoringConfigError(f"ensemble member {i}: " + "; ".join(problems))
        out.append((f"m{i:02d}-{cfg.pooling}-{cfg.loss}-s{settings.seed + i}", cfg, settings.seed + i))
    return out


def train_heads(base: ScoringConfig, train: ScoringFeatures, val: ScoringFeatures, settings: TrainSettings,
                progress: bool = False) -> tuple[ScoringHeads, list[dict[str, Any]]]:
    """Train every member, pick the per-axis top-k ensemble; returns the heads and a per-epoch log."""
    settings.check()
    axes = list(base.axes)
    targets = train.targets(axes)
    scalers = fit_target_scalers({a: v[np.isfinite(v)] for a, v in targets.items()})
    z_train = {a: scalers[a].normalize(targets[a]) for a in axes}
    if settings.shuffle_labels:  # validation too: early stopping on true labels would leak them into the control
        z_train, val = shuffled_labels(z_train, val, settings.seed)
    norm = feature_norm(train)
    members, history = [], []
    with torch_threads(settings.threads):
        for name, cfg, seed in member_configs(base, settings):
            member, log_rows = train_member(name, cfg, seed, train, z_train, val, scalers, norm, settings, progress)
            members.append(member)
            history += log_rows
    ensemble = {a: select_top_k([(m.name, m.val_srcc.get(a, float("nan"))) for m in members], settings.top_k)
                for a in axes}
    heads = ScoringHeads(members=members, ensemble=ensemble, scalers=scalers, audio_dim=train.audio_dim,
                         text_dim=train.text_dim, signal_dim=train.signal_dim, training=_settings_dict(settings, len(train), len(val)))
    return heads, history


def select_top_k(models_with_val_srcc: Sequence[tuple[M, float]], k: int) -> list[M]:
    """The ``k`` models with the highest validation SRCC, best first (NaN scores rank last; ties keep order)."""
    if k < 1:
        raise ValueError(f"select_top_k needs k >= 1, got {k}")
    ranked = sorted(enumerate(models_with_val_srcc), key=lambda item: (_sort_key(item[1][1]), item[0]))
    return [model for _, (model, _) in ranked[:k]]


def _sort_key(srcc: float) -> float:
    return math.inf if srcc is None or math.isnan(srcc) else -float(srcc)


def shuffled_labels(z_train: dict[str, np.ndarray], val: ScoringFeatures,
                    seed: int) -> tuple[dict[str, np.ndarray], ScoringFeatures]:
    """Training targets and validation ratings, each axis permuted over its rated rows (seeded).

    Unrated rows (NaN) stay unrated, so each axis trains on the same rows as without shuffling.
    """
    rng = np.random.default_rng(seed + 7919)
    z = {a: _permute_rated(v, rng) for a, v in z_train.items()}
    val = dataclasses.replace(val, ratings={a: _permute_rated(v, rng) for a, v in val.ratings.items()})
    return z, val


def _permute_rated(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = values.copy()
    rated = np.flatnonzero(np.isfinite(values))
    out[rated] = values[rated[rng.permutation(rated.size)]]
    return out


def train_member(name: str, cfg: ScoringConfig, seed: int, train: ScoringFeatures, z_train: dict[str, np.ndarray],
                 val: ScoringFeatures, scalers: dict[str, TargetScaler], norm: dict[str, tuple[np.ndarray, np.ndarray]],
                 settings: TrainSettings, progress: bool = False) -> tuple[Member, list[dict[str, Any]]]:
    """One member trained with early stopping on the mean validation SRCC over its axes."""
    torch.manual_seed(seed)
    device = torch.device(settings.device)
    model = NormalizedScorer(cfg, train.audio_dim, train.text_dim, train.signal_dim)
    model.set_norm(norm["audio"], norm["text"], norm.get("signal"))
    model.to(device)
    objective = QualityLoss(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    gen = np.random.default_rng(seed)
    best = (-math.inf, 0, copy.deepcopy(model.state_dict()), {})
    rows, stale = [], 0
    for epoch in tqdm(range(1, settings.epochs + 1), desc=name, unit="epoch", disable=not progress):
        train_loss, parts = _epoch(model, objective, opt, train, z_train, gen, settings, device)
        val_srcc = validation_srcc(model, val, cfg.axes, device, settings.batch_size)
        score = _mean_finite(val_srcc.values())
        rows.append({"member": name, "epoch": epoch, "loss": train_loss, **parts,
                     **{f"val_srcc_{a}": v for a, v in val_srcc.items()}})
        if score > best[0] or (score == best[0] == -math.inf):  # no finite SRCC yet: keep the latest
            best, stale = (score, epoch, copy.deepcopy(model.state_dict()), val_srcc), 0
        else:
            if score == best[0]:  # a tie (SRCC ignores scale): keep the further-trained state; patience still runs
                best = (score, epoch, copy.deepcopy(model.state_dict()), val_srcc)
            stale += 1
            if stale >= settings.patience:
                break
    model.load_state_dict(best[2])
    model.eval()
    log.info("%s: best epoch %d, validation SRCC %s", name, best[1], {a: round(v, 3) for a, v in best[3].items()})
    return Member(name, cfg, model, seed, dict(best[3]), best[1]), rows


def _epoch(model: NormalizedScorer, objective: QualityLoss, opt: torch.optim.Optimizer, train: ScoringFeatures,
           z: dict[str, np.ndarray], gen: np.random.Generator, settings: TrainSettings,
           device: torch.device) -> tuple[float, dict[str, float]]:
    """One pass over shuffled training rows; returns the mean loss and mean loss parts."""
    model.train()
    order = gen.permutation(len(train))
    total, sums, steps = 0.0, {}, 0
    for lo in range(0, len(order), settings.batch_size):
        idx = order[lo:lo + settings.batch_size]
        if len(idx) < 2:  # ranking losses and correlations need pairs
            continue
        scores, ot = model.forward_with_ot(train.batch(idx, device))
        targets = {a: torch.from_numpy(v[idx]).float().to(device) for a, v in z.items()}
        try:
            loss, parts = objective(scores, targets, ot)
        except ValueError:  # no axis with two rated rows in this batch
            continue
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if settings.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        opt.step()
        total += float(loss.detach())
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        steps += 1
    if steps == 0:
        raise MuscallError("no training batch had two rated rows; add rated rows or raise the batch size")
    return total / steps, {f"loss_{k}": v / steps for k, v in sums.items()}


@torch.no_grad()
def predict_z(model: torch.nn.Module, feats: ScoringFeatures, device: torch.device | str = "cpu",
              batch_size: int = 64) -> dict[str, np.ndarray]:
    """Per-axis z-space predictions of one member for every row of ``feats``."""
    model.eval()
    out: dict[str, list[np.ndarray]] = {}
    for lo in range(0, len(feats), batch_size):
        for axis, v in model(feats.batch(np.arange(lo, min(lo + batch_size, len(feats))), device)).items():
            out.setdefault(axis, []).append(v.double().cpu().numpy())
    return {a: np.concatenate(v) for a, v in out.items()}


def validation_srcc(model: torch.nn.Module, val: ScoringFeatures, axes: Sequence[str],
                    device: torch.device | str = "cpu", batch_size: int = 64) -> dict[str, float]:
    """Utterance-level SRCC per axis on the rated validation rows (NaN when undefined)."""
    preds = predict_z(model, val, device, batch_size)
    out = {}
    for axis in axes:
        truth = val.ratings.get(axis)
        if truth is None or axis not in preds:
            out[axis] = float("nan")
            continue
        ok = np.isfinite(truth)
        out[axis] = srcc(preds[axis][ok], truth[ok]) if ok.sum() >= 2 else float("nan")
    return out


def feature_norm(feats: ScoringFeatures) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-channel mean and std of the valid frames, tokens (and signal features) used by ``feats``'s rows."""
    a = np.unique(feats.audio_index)
    t = np.unique(feats.text_index)
    frames = feats.frames[a][feats.frame_mask[a]].astype(np.float64)
    tokens = feats.tokens[t][feats.token_mask[t]].astype(np.float64)
    out = {"audio": (frames.mean(axis=0), frames.std(axis=0)), "text": (tokens.mean(axis=0), tokens.std(axis=0))}
    if feats.signal_dim:
        signal = feats.signal[a][feats.frame_mask[a]].astype(np.float64)
        out["signal"] = (signal.mean(axis=0), signal.std(axis=0))
    return out


def fit_alignment_calibration(feats: ScoringFeatures, seed: int = 0) -> dict[str, Any]:
    """Calibrate the embedding cosine on matched captions vs captions of other source clips.

    Matched pairs: rows whose caption changes no fact (attribute ``changed`` empty or absent). Mismatched
    pairs: each matched row's audio with a matched caption of another source clip (seeded choice).
    """
    matched = np.flatnonzero(feats.matched)
    if matched.size < 2 or np.unique(feats.sources[matched]).size < 2:
        raise MuscallError("the alignment calibration needs matched captions of at least two source clips; "
                           "train on more rows")
    rng = np.random.default_rng(seed)
    a_emb = feats.audio_emb[feats.audio_index[matched]]
    t_emb = feats.text_emb[feats.text_index[matched]]
    pos = np.einsum("nd,nd->n", a_emb, t_emb)
    neg = []
    for i, row in enumerate(matched):
        others = np.flatnonzero(feats.sources[matched] != feats.sources[row])
        j = others[rng.integers(others.size)]
        neg.append(float(a_emb[i] @ t_emb[j]))
    return fit_calibration(pos, np.asarray(neg))


def split_validation(feats: ScoringFeatures, fraction: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, val) row indices holding out ``fraction`` of the source clips (when no val split exists)."""
    sources = np.unique(feats.sources)
    if sources.size < 2:
        raise MuscallError("cannot hold out validation rows: all rows come from one clip; add a 'val' split")
    rng = np.random.default_rng(seed)
    n_val = min(sources.size - 1, max(1, int(round(fraction * sources.size))))
    held = set(rng.permutation(sources)[:n_val].tolist())
    is_val = np.array([s in held for s in feats.sources])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _mean_finite(values: Any) -> float:
    v = [x for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else -math.inf


def _settings_dict(settings: TrainSettings, n_train: int, n_val: int) -> dict[str, Any]:
    return {**dataclasses.asdict(settings), "n_train": n_train, "n_val": n_val,
            "encoder": "frozen (fine-tuning is not implemented)"}
