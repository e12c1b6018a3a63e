"""Checkpoints: a folder with safetensors weights, the config, the tokenizer and the training state.

Layout of ``CKPT/``::

    model.safetensors   weights (the model's state_dict)
    config.yaml         the full Config the model was built from
    tokenizer/          Hugging Face tokenizer files
    train_state.pt      optimizer, scheduler, RNG states, epoch/step, best metric (optional)
    extra.json          small JSON blobs stored with the model (e.g. score calibration)
    meta.json           format version, file sizes and sha256 checksums (written last)

A checkpoint is written into a temp folder and renamed into place, so a crash never leaves half of one.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save_file

from index.fileio import atomic_write_json, fsync_file, read_versioned_json, replace_dir, sha256_file
from muscall.config import RETIRED_KEYS, Config, config_to_dict, drop_retired, from_dict
from muscall.errors import MuscallError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns."""

    model: torch.nn.Module
    config: Config
    tokenizer: Any
    path: Path
    train_state: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""  # checksum of the weights: identifies the model in catalogs


def save_checkpoint(path: str | Path, model: torch.nn.Module, cfg: Config, tokenizer: Any,
                    train_state: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint folder atomically (temp folder, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        state = {k: v.detach().contiguous().cpu() for k, v in _unwrap(model).state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        (tmp / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
        tokenizer.save(tmp / "tokenizer")
        if train_state is not None:
            buf = io.BytesIO()
            torch.save(train_state, buf)
            (tmp / "train_state.pt").write_bytes(buf.getvalue())
        (tmp / "extra.json").write_text(json.dumps(extra or {}, indent=2))
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        for p in files:
            fsync_file(p)
        meta = {"format_version": FORMAT_VERSION,
                "files": {str(p.relative_to(tmp)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in files}}
        atomic_write_json(tmp / "meta.json", meta)
        replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu", with_train_state: bool = False,
                    verify: bool = True) -> Checkpoint:
    """Load a checkpoint folder into a ready-to-use model (eval mode) with its config and tokenizer."""
    from muscall.models import create_model
    from muscall.models.tokenizer import CaptionTokenizer

    path = _existing(Path(path))
    meta = _read_meta(path)
    if verify:
        verify_checkpoint(path, meta)
    cfg = checkpoint_config(path)
    tokenizer = CaptionTokenizer.load(path / "tokenizer")
    model = create_model(cfg, vocab_size=tokenizer.vocab_size)
    state = load_file(str(path / "model.safetensors"), device="cpu")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise MuscallError(f"checkpoint '{path}' does not fit its config (missing {missing[:3]}, unexpected "
                           f"{unexpected[:3]}); it was written by another muscall version — retrain or convert it")
    model.to(device).eval()
    train_state = None
    if with_train_state and (path / "train_state.pt").exists():
        train_state = torch.load(path / "train_state.pt", map_location="cpu", weights_only=False)
    extra = json.loads((path / "extra.json").read_text()) if (path / "extra.json").exists() else {}
    sha = meta["files"].get("model.safetensors", {}).get("sha256", "")
    return Checkpoint(model=model, config=cfg, tokenizer=tokenizer, path=path, train_state=train_state,
                      extra=extra, sha256=sha)


def checkpoint_config(path: str | Path) -> Config:
    """The config a checkpoint folder was saved with (retired keys dropped, each logged)."""
    path = _existing(Path(path))
    raw = yaml.safe_load((path / "config.yaml").read_text())
    for key in drop_retired(raw):
        log.info("checkpoint '%s': ignoring retired config key '%s' (%s)", path, key, RETIRED_KEYS[key])
    return from_dict(Config, raw)


def record_file(path: str | Path, rel: str) -> None:
    """Checksum a file added to or rewritten in a checkpoint folder after it was saved into its meta.json."""
    path = Path(path)
    meta = _read_meta(path)
    fsync_file(path / rel)
    meta["files"][rel] = {"bytes": (path / rel).stat().st_size, "sha256": sha256_file(path / rel)}
    atomic_write_json(path / "meta.json", meta)


def verify_checkpoint(path: Path, meta: dict[str, Any] | None = None, skip: tuple[str, ...] = ()) -> None:
    """Check every file's size and checksum against meta.json (but those in ``skip``, about to be rewritten);
    raise naming the first mismatch."""
    meta = meta or _read_meta(path)
    for rel, info in meta["files"].items():
        if rel in skip:
            continue
        p = path / rel
        if not p.is_file():
            raise MuscallError(f"checkpoint '{path}' is incomplete: '{rel}' is missing; use another checkpoint")
        if p.stat().st_size != info["bytes"] or sha256_file(p) != info["sha256"]:
            raise MuscallError(f"checkpoint '{path}': '{rel}' does not match its checksum (corrupt or edited); "
                               "restore it or use another checkpoint")


def _read_meta(path: Path) -> dict[str, Any]:
    return read_versioned_json(path / "meta.json", version=FORMAT_VERSION, what="muscall checkpoint",
                               fix="use another checkpoint", missing_fix="pass the folder 'muscall train' wrote",
                               error=MuscallError)


def _existing(path: Path) -> Path:
    if path.is_dir():
        return path
    old = path.with_name(path.name + ".old")
    if old.is_dir():  # a crash between the two renames of replace_dir
        return old
    raise MuscallError(f"checkpoint '{path}' does not exist; train one with 'muscall train' or check the path")




def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model
