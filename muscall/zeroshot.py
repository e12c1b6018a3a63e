"""Zero-shot tagging: class names x prompt templates -> averaged, normalised text embeddings -> one matrix product.

A softmax temperature fitted on validation data (``muscall eval zeroshot --split val --fit-temperature``) is
stored in the checkpoint folder, ``CKPT/zeroshot_calibration.json`` (versioned, written atomically, keyed by
label set and tied to the weights' checksum); the tag job and the service read it with ``fitted_temperature``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from index.fileio import atomic_write_json, read_versioned_json
from muscall.embedding import embed_texts
from muscall.errors import MuscallError

# Prompt templates per label set; "{}" is the class name. The first template is the one used without ensembling.
TEMPLATES: dict[str, list[str]] = {
    "genres": ["{} music", "a {} song", "a piece of {} music", "this is a {} track", "a recording of {}",
               "an instrumental {} tune"],
    "instruments": ["music with {}", "a song featuring {}", "{} playing", "a track with a {} part",
                    "a piece that uses {}"],
    "moods": ["{} music", "a {} song", "a piece that sounds {}", "the mood is {}", "a {} sounding track"],
}
DEFAULT_TEMPLATES = ["{} music", "a {} song", "a piece of {} music", "this is a {} track"]
CALIBRATION_FILE = "zeroshot_calibration.json"
CALIBRATION_FORMAT = "muscall-zeroshot-calibration"
CALIBRATION_VERSION = 1
log = logging.getLogger(__name__)


def templates_for(label_set: str, ensemble: bool = True, custom: Sequence[str] | None = None) -> list[str]:
    """The templates for a label set (custom ones win); only the first when ensembling is off."""
    templates = list(custom) if custom else TEMPLATES.get(label_set, DEFAULT_TEMPLATES)
    bad = [t for t in templates if "{}" not in t]
    if bad:
        raise MuscallError(f"prompt template '{bad[0]}' has no '{{}}' placeholder for the label")
    return templates if ensemble else templates[:1]


def build_classifier(model, tokenizer, classnames: Sequence[str], templates: Sequence[str], max_tokens: int,
                     device: str = "cpu") -> np.ndarray:
    """One unit-norm text embedding per class: the renormalised mean over its prompts, ``(C, D)``."""
    if not classnames:
        raise MuscallError("the label set is empty; give at least one label")
    prompts = [t.format(c) for c in classnames for t in templates]
    emb = embed_texts(model, tokenizer, prompts, max_tokens, device=device)
    emb = emb.reshape(len(classnames), len(templates), -1).mean(axis=1)
    return (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``."""
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def load_label_sets(path: str | Path) -> dict[str, list[str]]:
    """Label sets from a JSON file ``{"genres": [...], ...}`` or a text file with one label per line."""
    path = Path(path)
    if not path.is_file():
        raise MuscallError(f"label file '{path}' does not exist; use the labels.json that 'muscall data synth' "
                           "wrote, or a text file with one label per line")
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise MuscallError(f"label file '{path}' is not valid JSON ({err.msg}, line {err.lineno})") from err
        sets = {k: [str(x) for x in v] for k, v in data.items() if isinstance(v, list)} if isinstance(data, dict) else {}
        if not sets:
            raise MuscallError(f"label file '{path}' must map label-set names to lists of labels")
        return sets
    labels = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return {path.stem: labels}


def _read_calibration(ckpt_dir: Path) -> dict[str, Any]:
    path = Path(ckpt_dir) / CALIBRATION_FILE
    if not path.exists():
        return {}
    return read_versioned_json(path, version=CALIBRATION_VERSION, fmt=CALIBRATION_FORMAT, what="calibration",
                               fix="delete it and fit again with 'muscall eval zeroshot --split val "
                                   "--fit-temperature'", error=MuscallError)


def save_fitted_temperature(ckpt_dir: str | Path, model_hash: str, label_set: str, fit: dict[str, Any]) -> Path:
    """Store ``fit`` (``temperature``, ``labels``, ``templates``, ...) for ``label_set``, keeping other sets."""
    path = Path(ckpt_dir) / CALIBRATION_FILE
    data = _read_calibration(Path(ckpt_dir))
    sets = data.get("sets", {}) if data.get("model_hash") == model_hash else {}
    sets[label_set] = fit
    atomic_write_json(path, {"format": CALIBRATION_FORMAT, "format_version": CALIBRATION_VERSION,
                             "model_hash": model_hash, "sets": sets})
    return path


def fitted_temperature(ckpt_dir: str | Path, model_hash: str, label_set: str, labels: Sequence[str],
                       templates: Sequence[str]) -> float | None:
    """The temperature fitted for exactly these labels and templates with these weights, else None."""
    data = _read_calibration(Path(ckpt_dir))
    fit = data.get("sets", {}).get(label_set)
    if fit is None:
        return None
    if data.get("model_hash") != model_hash:
        log.warning("%s was fitted for other weights; ignoring it", Path(ckpt_dir) / CALIBRATION_FILE)
        return None
    if list(fit.get("labels", [])) != list(labels) or list(fit.get("templates", [])) != list(templates):
        log.warning("the fitted temperature of '%s' is for other labels or templates; ignoring it", label_set)
        return None
    return float(fit["temperature"])
