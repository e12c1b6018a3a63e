"""Zero-shot label scores of stored track embeddings: single-label softmax or calibrated multi-label.

* ``single``: ``softmax(cos / T)`` over the labels (each row sums to 1); the top label is the tag. ``T``
  defaults to the model's learned temperature ``1 / exp(logit_scale)``, the scale the model was trained with.
  A ``threshold`` (optional) drops a top label whose probability is below it.
* ``multi``: every label is judged alone. With ``calibration="catalog"`` (default) a label's cosine is
  standardised over the whole catalog and squashed, ``p = sigmoid((cos - mean_label) / (std_label * T))``,
  ``T`` = 1 by default: prompts differ in how close they sit to every track, and the z-score removes that
  per-label offset, so one threshold means the same for every label (0.9 ~ 2.2 standard deviations above the
  label's catalog mean). With ``calibration="none"`` the score is the raw cosine and the threshold applies to
  it. Each label may have its own threshold (``"rock=0.8,default=0.9"``); a label is a tag when ``p >= t``.

Calibration, one setting per mode (``resolve_calibration``): multi ``catalog`` (default) or ``none``; single
``fitted`` (default: the temperature fitted on validation data and stored with the checkpoint, see
``muscall.zeroshot``, when there is one for these labels; else the model's) or ``none`` (the model's). An
explicit temperature always wins. In single mode "abstain below P" is the uniform threshold ``P``: a track whose
top probability is below it gets no label (it is marked abstained).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from muscall.errors import MuscallError
from muscall.zeroshot import softmax

MODES = ("single", "multi")
CALIBRATIONS = {"multi": ("catalog", "none"), "single": ("fitted", "none")}
MULTI_DEFAULT_THRESHOLD = 0.9


@dataclass
class Scorer:
    """Scores ``(n, C)`` and chosen labels for unit-norm embeddings ``(n, D)``."""

    labels: list[str]
    weights: np.ndarray  # (C, D) unit-norm classifier (prompt-ensembled text embeddings)
    mode: str = "single"
    temperature: float = 1.0
    thresholds: np.ndarray | None = None  # (C,), NaN where a label has none
    mean: np.ndarray | None = None  # (C,) catalog cosine mean per label (multi, catalog calibration)
    std: np.ndarray | None = None

    def score(self, emb: np.ndarray) -> np.ndarray:
        """Per-label scores: probabilities (single), calibrated probabilities or cosines (multi)."""
        cos = np.ascontiguousarray(emb, dtype=np.float32) @ self.weights.T
        if self.mode == "single":
            return softmax(cos, self.temperature).astype(np.float32)
        if self.mean is None or self.std is None:
            return cos
        z = (cos - self.mean) / (self.std * self.temperature)
        return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)  # overflow-free sigmoid

    def select(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(top label index per row, boolean ``(n, C)`` of the labels that become tags)."""
        top = scores.argmax(axis=1)
        thr = self.thresholds if self.thresholds is not None else np.full(len(self.labels), np.nan)
        if self.mode == "single":
            chosen = np.zeros_like(scores, dtype=bool)
            rows = np.arange(len(scores))
            top_thr = thr[top]
            chosen[rows, top] = np.isnan(top_thr) | (scores[rows, top] >= np.nan_to_num(top_thr))
            return top, chosen
        return top, scores >= thr[None, :]


def parse_thresholds(spec: str | float | None, labels: Sequence[str], mode: str) -> np.ndarray:
    """Per-label thresholds from ``0.9`` or ``"rock=0.8,jazz=0.7,default=0.9"`` (NaN: none)."""
    default = MULTI_DEFAULT_THRESHOLD if mode == "multi" else math.nan
    if spec is None or spec == "":
        return np.full(len(labels), default, dtype=np.float64)
    per: dict[str, float] = {}
    for item in str(spec).split(","):
        key, _, value = item.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise MuscallError(f"--threshold '{spec}': '{value}' is not a number; use 0.9 or "
                               "'label=0.8,default=0.9'") from None
        if not key or key.strip() == "default":
            default = number
        else:
            per[key.strip()] = number
    unknown = sorted(set(per) - set(labels))
    if unknown:
        raise MuscallError(f"--threshold names unknown label(s) {unknown}; the labels are {list(labels)}")
    return np.array([per.get(label, default) for label in labels], dtype=np.float64)


def check_mode(mode: str, calibration: str | None, temperature: float | None) -> str:
    """The calibration to use (None: the mode's default); MuscallError for a bad mode, calibration or temperature."""
    if mode not in MODES:
        raise MuscallError(f"--mode '{mode}' is not one of {list(MODES)}")
    allowed = CALIBRATIONS[mode]
    if calibration is not None and calibration not in allowed:
        raise MuscallError(f"--calibration '{calibration}' does not apply to --mode {mode}; use one of "
                           f"{list(allowed)}")
    if temperature is not None and not temperature > 0:
        raise MuscallError(f"--temperature must be > 0, got {temperature}")
    return calibration or allowed[0]


def abstain_thresholds(mode: str, threshold: str | float | None, abstain_below: float | None) -> str | float | None:
    """The threshold spec with ``abstain_below`` folded in (single mode: the uniform threshold)."""
    if abstain_below is None:
        return threshold
    if mode != "single":
        raise MuscallError("--abstain-below is for --mode single; in multi mode a track with no label over "
                           "--threshold already gets no tag")
    if threshold is not None:
        raise MuscallError("give --abstain-below or --threshold, not both: in single mode both set the probability "
                           "the top label needs")
    if not 0.0 <= abstain_below <= 1.0:
        raise MuscallError(f"--abstain-below must be a probability in [0, 1], got {abstain_below}")
    return abstain_below


class LabelStats:
    """Streaming per-label mean and standard deviation of cosines over a catalog (float64 sums)."""

    def __init__(self, weights: np.ndarray):
        self.weights = weights
        self.n = 0
        self.total = np.zeros(len(weights))
        self.squares = np.zeros(len(weights))

    def update(self, emb: np.ndarray) -> None:
        """Add a chunk of unit-norm embeddings."""
        cos = (np.ascontiguousarray(emb, dtype=np.float32) @ self.weights.T).astype(np.float64)
        self.n += len(cos)
        self.total += cos.sum(axis=0)
        self.squares += (cos * cos).sum(axis=0)

    def result(self) -> tuple[list[float], list[float]]:
        """(means, standard deviations); a constant label gets std 1e-6."""
        mean = self.total / max(self.n, 1)
        var = np.maximum(self.squares / max(self.n, 1) - mean * mean, 0.0)
        return mean.tolist(), np.maximum(np.sqrt(var), 1e-6).tolist()
