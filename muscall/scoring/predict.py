"""Score clips with trained heads (and/or the calibrated zero-training alignment): a library call and JSONL jobs.

:func:`load_scorer_bundle` joins the frozen encoder, its feature extractor, optional trained heads and the
alignment calibration; :func:`score_clip` scores one waveform or log-mel (with an optional prompt);
:func:`predict_jsonl` follows the audiobox-aesthetics convention: one input line ``{"path": ..., "prompt": ...}``
gives one output line of scores, in the same order; a bad line or file gives ``{"error": ...}`` instead and
the job goes on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from tqdm import tqdm

from index.fileio import atomic_path
from muscall.checkpoint import Checkpoint, load_checkpoint
from muscall.errors import MuscallError
from muscall.scoring.calibration import apply_calibration
from muscall.scoring.data import FeatureExtractor
from muscall.scoring.store import CALIBRATION_KEY, ScoringHeads, load_heads

log = logging.getLogger(__name__)
PATH_KEYS = ("path", "data_path", "audio_path")
PROMPT_KEYS = ("prompt", "text", "caption")


@dataclass
class ScorerBundle:
    """Everything :func:`score_clip` needs: encoder checkpoint, extractor, optional heads and calibration."""

    checkpoint: Checkpoint
    extractor: FeatureExtractor
    heads: ScoringHeads | None = None
    calibration: dict[str, Any] | None = None

    @property
    def outputs(self) -> list[str]:
        """Keys a fully scored clip (with a prompt) gets."""
        axes = self.heads.axes if self.heads is not None else []
        return axes + ["cosine"] + (["alignment"] if self.calibration else [])


def load_scorer_bundle(heads: str | Path | None = None, checkpoint: str | Path | None = None,
                       device: str | torch.device = "cpu", seconds: float | None = None) -> ScorerBundle:
    """Load heads (their encoder checkpoint unless ``checkpoint`` is given) or a checkpoint alone."""
    if heads is None and checkpoint is None:
        raise MuscallError("give trained heads (--heads) or an encoder checkpoint (--checkpoint)")
    loaded = load_heads(heads, device) if heads is not None else None
    ckpt_path = checkpoint or (loaded.checkpoint.get("path") if loaded else None)
    if not ckpt_path:
        raise MuscallError(f"heads '{heads}' do not name their encoder checkpoint; pass --checkpoint")
    if checkpoint is None and not Path(ckpt_path).is_dir():
        raise MuscallError(f"heads '{heads}' name the encoder checkpoint '{ckpt_path}', which does not exist here; "
                           "pass --checkpoint with the checkpoint they were trained on")
    return scorer_for(load_checkpoint(ckpt_path, device=device), loaded, heads, device, seconds)


def scorer_for(ckpt: Checkpoint, loaded: ScoringHeads | None, heads: str | Path | None = None,
               device: str | torch.device = "cpu", seconds: float | None = None) -> ScorerBundle:
    """The bundle of a loaded encoder and (optionally) loaded heads: checks they belong together, builds the
    feature extractor with the heads' settings and picks the alignment calibration (heads', else checkpoint's)."""
    if loaded is not None and loaded.checkpoint.get("sha256") not in (None, "", ckpt.sha256):
        raise MuscallError(f"heads '{heads}' were trained on another encoder (weights sha256 "
                           f"{loaded.checkpoint['sha256'][:12]}..., '{ckpt.path}' has {ckpt.sha256[:12]}...); "
                           "pass the checkpoint they were trained with, or retrain the heads")
    settings = loaded.features if loaded is not None else {}
    secs = seconds if seconds is not None else settings.get("seconds", ckpt.config.audio.clip_seconds)
    extractor = FeatureExtractor(ckpt.model, ckpt.tokenizer, ckpt.config.audio,
                                 int(settings.get("max_tokens", ckpt.config.model.text.max_tokens)), secs, device)
    calibration = (loaded.calibration if loaded is not None else None) or ckpt.extra.get(CALIBRATION_KEY)
    if calibration is None:
        log.warning("no alignment calibration in %s; only the raw cosine is reported (fit one with "
                    "'muscall score train --into-checkpoint')", heads or ckpt.path)
    return ScorerBundle(ckpt, extractor, loaded, calibration)


@torch.no_grad()
def score_clip(bundle: ScorerBundle, wave_or_mel: np.ndarray | torch.Tensor, prompt: str | None = None) -> dict[str, float]:
    """Scores of one clip: trained axes (text axes need ``prompt``), ``cosine`` and calibrated ``alignment``.

    ``wave_or_mel`` is a mono waveform ``[samples]`` at the model's sample rate (its first ``seconds`` are
    used), or a log-mel ``[feature_rows, T]`` from the same front end (used as given; heads trained with signal
    features need the waveform).
    """
    x = wave_or_mel.detach().cpu().numpy() if isinstance(wave_or_mel, torch.Tensor) else np.asarray(wave_or_mel)
    ex = bundle.extractor
    wave = None
    if x.ndim == 2 and x.shape[0] == ex.audio_cfg.feature_rows:
        mel = x.astype(np.float32)
    elif x.ndim == 1 or (x.ndim == 2 and 1 in x.shape):
        wave = ex.crop(x.ravel())
        mel = ex.mel(wave)
    else:
        raise MuscallError(f"score_clip takes a mono waveform [samples] or a log-mel "
                           f"[{ex.audio_cfg.feature_rows}, T], "
                           f"got shape {x.shape}")
    frames, a_emb = ex.audio([mel])[0]
    batch = {"frames": torch.from_numpy(frames)[None], "mask": torch.ones(1, frames.shape[0], dtype=torch.bool),
             "audio_emb": torch.from_numpy(a_emb)[None]}
    if bundle.heads is not None and bundle.heads.signal_dim:
        if wave is None:
            raise MuscallError("these scoring heads use signal features computed from the waveform; pass the "
                               "waveform instead of a log-mel")
        batch["signal"] = torch.from_numpy(ex.signal(mel, wave, frames.shape[0]))[None]
    out: dict[str, float] = {}
    prompt = prompt.strip() if isinstance(prompt, str) else None
    if prompt:
        tokens, t_emb, ids = ex.text([prompt])[0]
        batch.update(text_tokens=torch.from_numpy(tokens)[None], text_emb=torch.from_numpy(t_emb)[None],
                     text_mask=torch.ones(1, tokens.shape[0], dtype=torch.bool), token_ids=torch.from_numpy(ids)[None])
    if bundle.heads is not None:
        device = next(bundle.checkpoint.model.parameters()).device
        scores = bundle.heads.predict({k: v.to(device) for k, v in batch.items()})
        out.update({axis: float(v[0]) for axis, v in scores.items()})
    if prompt:
        cos = float(np.dot(a_emb, t_emb))
        out["cosine"] = cos
        if bundle.calibration:
            out["alignment"] = float(apply_calibration(bundle.calibration, cos))
    return out


def score_line(bundle: ScorerBundle, line: str, base_dir: Path | None = None) -> dict[str, Any]:
    """Scores for one input JSONL line, or ``{"error": ...}`` naming what is wrong with it."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as err:
        return {"error": f"not valid JSON ({err.msg}); write one object per line like "
                         '{"path": "a.wav", "prompt": "calm piano"}'}
    if not isinstance(item, dict):
        return {"error": 'expected a JSON object like {"path": "a.wav", "prompt": "calm piano"}'}
    path = next((item[k] for k in PATH_KEYS if isinstance(item.get(k), str) and item[k]), None)
    if path is None:
        return {"error": f"no audio path: give one of the keys {', '.join(PATH_KEYS)}"}
    prompt = next((item[k] for k in PROMPT_KEYS if isinstance(item.get(k), str)), None)
    try:
        wave = bundle.extractor.load_clip(_resolve(path, base_dir))[1]
        return {k: round(v, 6) for k, v in score_clip(bundle, wave, prompt).items()}
    except MuscallError as err:
        return {"error": str(err)}
    except Exception as err:  # noqa: BLE001 - one bad file must never stop a batch job
        return {"error": f"{path}: {type(err).__name__}: {err}"}


def predict_jsonl(bundle: ScorerBundle, input_path: str | Path, output_path: str | Path,
                  progress: bool = False) -> dict[str, int]:
    """Score every line of ``input_path`` into ``output_path`` (same order, one line each, written atomically)."""
    input_path = Path(input_path)
    if not input_path.is_file():
        raise MuscallError(f"input '{input_path}' does not exist; give a JSONL file of "
                           '{"path": ..., "prompt": ...} lines')
    counts = {"lines": 0, "errors": 0}
    with open(input_path, encoding="utf-8") as src, atomic_path(output_path) as tmp, \
            open(tmp, "w", encoding="utf-8") as dst:
        for line in tqdm(src, desc="score", unit="clip", disable=not progress):
            if not line.strip():
                continue
            _write(dst, score_line(bundle, line, input_path.parent), counts)
    return counts


def _write(dst: TextIO, result: dict[str, Any], counts: dict[str, int]) -> None:
    counts["lines"] += 1
    counts["errors"] += "error" in result
    dst.write(json.dumps(result, ensure_ascii=False) + "\n")


def _resolve(path: str, base_dir: Path | None) -> Path:
    """``path`` as given when it exists (or is absolute), else relative to the input file's folder."""
    p = Path(path)
    if p.is_absolute() or p.exists() or base_dir is None:
        return p
    return base_dir / p
