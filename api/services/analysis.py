"""Zero-shot tags and quality / alignment scores of one clip or track (blocking; routes use a thread pool)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from api.services.errors import ApiError
from api.services.state import ServiceState
from muscall.scoring.predict import score_clip
from muscall.zeroshot import build_classifier, fitted_temperature, softmax, templates_for

UNCALIBRATED_NOTE = ("alignment is the raw cosine mapped to [0, 1] ((cos + 1) / 2), not a calibrated probability: "
                     "fit a calibration with 'muscall score train --into-checkpoint' to calibrate it")


@dataclass
class LabelScore:
    """One label of a zero-shot tagging."""

    label: str
    probability: float
    cosine: float


def resolve_labels(state: ServiceState, label_set: str | None, labels: Sequence[str] | None) -> tuple[str, list[str]]:
    """The (name, labels) to tag with: the caller's labels, else a named set, else the only loaded set."""
    if labels:
        clean = list(dict.fromkeys(str(x).strip() for x in labels if str(x).strip()))
        if not clean:
            raise ApiError(422, "labels is empty; give labels like 'jazz,rock,ambient'")
        return label_set or "custom", clean
    sets = state.label_sets
    if label_set is None:
        if len(sets) == 1:
            return next(iter(sets.items()))
        if not sets:
            raise ApiError(422, "this server has no label sets (start it with --labels); pass your own labels")
        raise ApiError(422, f"choose a label_set ({', '.join(sorted(sets))}) or pass your own labels")
    if label_set not in sets:
        known = ", ".join(sorted(sets)) or "none loaded (start the server with --labels)"
        raise ApiError(422, f"unknown label_set {label_set!r}; known sets: {known}; or pass your own labels")
    return label_set, sets[label_set]


@dataclass
class Tagging:
    """A single-label zero-shot tagging: the best ``top`` labels, the tag (None when abstained), how it was made."""

    results: list[LabelScore]
    label: str | None
    abstained: bool
    abstain_below: float | None
    temperature: float
    calibration: str  # "fitted" (the checkpoint's temperature for these labels) or "none" (the model's)


def tag_vector(state: ServiceState, vec: np.ndarray, set_name: str, labels: list[str], top: int,
               abstain_below: float | None = None) -> Tagging:
    """Softmax over the labels of ``cos(clip, label prompts) / T``; best ``top`` first.

    ``T`` is the temperature fitted for these labels and stored with the checkpoint, else the model's learned
    one. The top label is the tag unless its probability is below ``abstain_below`` (default: the server's
    ``tag_abstain_below``); then the tagging abstains ("none of these").
    """
    weights = _classifier(state, set_name, labels)
    cos = weights @ np.asarray(vec, dtype=np.float32)
    ckpt = state.checkpoint
    fitted = fitted_temperature(ckpt.path, ckpt.sha256, set_name, labels, templates_for(set_name))
    temperature = fitted if fitted is not None else 1.0 / _logit_scale(state)
    probs = softmax(cos[None].astype(np.float64), temperature)[0]
    order = np.argsort(-probs, kind="stable")[:top]
    if abstain_below is None:
        abstain_below = state.settings.serve.tag_abstain_below
    abstained = abstain_below is not None and float(probs[order[0]]) < abstain_below
    return Tagging([LabelScore(labels[i], round(float(probs[i]), 6), round(float(cos[i]), 6)) for i in order],
                   None if abstained else labels[order[0]], abstained, abstain_below, temperature,
                   "none" if fitted is None else "fitted")


def _classifier(state: ServiceState, set_name: str, labels: list[str]) -> np.ndarray:
    """Prompt-ensembled label embeddings, cached by label set and labels."""
    ckpt = state.checkpoint
    key = (set_name, tuple(labels))

    def build() -> np.ndarray:
        return build_classifier(ckpt.model, ckpt.tokenizer, labels, templates_for(set_name),
                                ckpt.config.model.text.max_tokens, device=str(state.device))

    return state.classifier_cache.get_or_compute(key, build)[0]


def _logit_scale(state: ServiceState) -> float:
    """The model's learned softmax scale (1 / temperature)."""
    scale = getattr(state.checkpoint.model, "scale", None)
    return float(scale().detach().cpu()) if callable(scale) else 100.0


def score_wave(state: ServiceState, wave: np.ndarray, prompt: str | None) -> dict[str, Any]:
    """Quality axes (trained heads) and text alignment of a clip; see ``muscall.scoring.predict.score_clip``."""
    bundle = state.scorer
    if bundle.heads is None and not prompt:
        raise ApiError(422, "give a prompt: no trained quality heads are loaded, so only the clip's alignment with "
                            "a text prompt can be scored (start the server with --heads for quality axes)")
    raw = score_clip(bundle, wave, prompt)
    cosine = raw.pop("cosine", None)
    alignment = raw.pop("alignment", None)
    calibrated = alignment is not None
    if cosine is not None and alignment is None:
        alignment = (cosine + 1.0) / 2.0
    clean = {k: float(v) for k, v in raw.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    return {"scores": clean, "cosine": cosine, "alignment": alignment, "alignment_calibrated": calibrated,
            "heads": bundle.heads is not None,
            "note": None if calibrated or cosine is None else UNCALIBRATED_NOTE}
