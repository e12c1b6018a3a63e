"""Service settings: what to load (index, checkpoint, optional label sets / heads / window embeddings) and limits."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muscall.config import ServeConfig, from_dict

ENV_VAR = "MUSCALL_SERVE_SETTINGS"  # JSON settings handed to each uvicorn worker process


@dataclass
class Settings:
    """Everything ``create_app`` needs; paths are resolved when the service starts."""

    index_dir: Path
    checkpoint: Path
    serve: ServeConfig = field(default_factory=ServeConfig)
    labels: Path | None = None  # label sets (JSON {set: [labels]} or one label per line) for /tag and the genre menu
    heads: Path | None = None  # trained quality heads (muscall score train) for /score
    windows_dir: Path | None = None  # embedding catalog (muscall embed) whose window vectors give "moments"
    media_dir: Path | None = None  # where uploaded tracks are kept; default INDEX_DIR/media
    device: str = "cpu"
    persist: bool = True  # adds/removes are saved to index_dir (False: refused, the folder is never written)

    def __post_init__(self) -> None:
        for name in ("index_dir", "checkpoint", "labels", "heads", "windows_dir", "media_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))

    @property
    def media(self) -> Path:
        """Folder of uploaded audio and their window embeddings."""
        return self.media_dir or self.index_dir / "media"

    @property
    def max_upload_bytes(self) -> int:
        """Largest request body accepted (the upload limit plus room for the form fields)."""
        return int(self.serve.max_upload_mb * 1024 * 1024) + 64 * 1024

    @property
    def writable(self) -> bool:
        """Whether adds and removes are allowed (with any number of workers: they share the saved index)."""
        return self.persist

    def to_json(self) -> str:
        """JSON for the environment of worker processes."""
        raw = dataclasses.asdict(self)
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in raw.items()})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Inverse of ``to_json``."""
        raw: dict[str, Any] = json.loads(text)
        raw["serve"] = from_dict(ServeConfig, raw.get("serve") or {}, "serve.")
        return cls(**raw)

    @classmethod
    def from_env(cls) -> Settings:
        """Settings a ``muscall serve --workers N`` parent process put in the environment."""
        text = os.environ.get(ENV_VAR)
        if not text:
            raise RuntimeError(f"{ENV_VAR} is not set; start the service with 'muscall serve'")
        return cls.from_json(text)
