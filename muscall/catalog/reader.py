"""Reader stage: what to embed (a folder or a manifest, in a fixed order) and its decoded whole-track log-mels.

Decoding is the one front end (:class:`muscall.audio.features.MelFrontEnd`, as in training and evaluation), so
the catalog's vectors equal ``embed_mels`` of the same audio. A file that cannot be used comes back as a
:class:`DecodedTrack` with ``error`` set; it never stops the job.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from muscall.audio.decode import AUDIO_SUFFIXES
from muscall.audio.features import MelFrontEnd
from muscall.audio.fingerprint import fingerprint, levels
from muscall.config import AudioConfig
from muscall.data.manifest import clip_segment, read_manifest, resolve_audio_path
from muscall.errors import AudioLoadError, MuscallError
from muscall.keys import chroma_profile
from muscall.utils.processes import loader_worker_init

MANIFEST_SUFFIXES = (".jsonl", ".json")


@dataclass
class TrackInput:
    """One track to embed: its catalog id, audio file, title and the metadata that travels with it."""

    track_id: str
    path: str
    title: str
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class DecodedTrack:
    """Reader output for input ``position``: a whole-track log-mel ``(n_mels, frames)`` and the track's recording
    fingerprint and level profile (``muscall.audio.fingerprint``), or an error."""

    position: int
    mel: np.ndarray | None = None
    duration: float | None = None  # seconds of decoded audio
    error: str | None = None
    fingerprint: np.ndarray | None = None
    levels: np.ndarray | None = None
    chroma: np.ndarray | None = None  # the track's chroma profile (muscall.keys), stored for key-aware search


def load_inputs(source: str | Path, split: str | None = None) -> list[TrackInput]:
    """Tracks of a folder (scanned recursively) or a JSONL manifest, in a deterministic order."""
    path = Path(source)
    if path.is_dir():
        return scan_folder(path)
    if path.is_file() and path.suffix in MANIFEST_SUFFIXES:
        return manifest_inputs(path, split)
    raise MuscallError(f"--source '{source}' is neither a folder of audio files nor a JSONL manifest; pass a "
                       "folder or the manifest.jsonl written by 'muscall data synth|import'")


def scan_folder(root: str | Path) -> list[TrackInput]:
    """Audio files under ``root`` sorted by relative path; the relative path is the id, the stem the title."""
    root = Path(root).resolve()
    files = sorted((p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES),
                   key=lambda p: p.relative_to(root).as_posix())
    if not files:
        raise MuscallError(f"folder '{root}' holds no audio files ({', '.join(AUDIO_SUFFIXES)}); "
                           "check the path or convert the files")
    return [TrackInput(p.relative_to(root).as_posix(), str(p), p.stem) for p in files]


def manifest_inputs(manifest: str | Path, split: str | None = None) -> list[TrackInput]:
    """Rows of a manifest in file order, with their ids, tags, attributes and caption (under attributes)."""
    rows = read_manifest(manifest, split=split)
    if not rows:
        raise MuscallError(f"manifest '{manifest}' has no rows{f' in split {split!r}' if split else ''}; "
                           "check --source and --split")
    seen: set[str] = set()
    out = []
    for row in rows:
        if row.id in seen:
            raise MuscallError(f"manifest '{manifest}': id '{row.id}' appears twice; catalog ids must be unique")
        seen.add(row.id)
        attrs = dict(row.attributes)
        if row.caption:
            attrs.setdefault("caption", row.caption)
        if row.extra:
            attrs.setdefault("extra", dict(row.extra))  # a source's own fields, returned by GET /tracks/{id}
        path = resolve_audio_path(row, manifest)
        out.append(TrackInput(row.id, str(path), Path(row.audio_path).stem, list(row.tags), attrs))
    return out


def inputs_digest(inputs: Sequence[TrackInput]) -> str:
    """Checksum of the ordered inputs (ids, paths, metadata): a resumed job must see the same list."""
    digest = hashlib.sha256()
    for t in inputs:
        digest.update(json.dumps([t.track_id, t.path, t.title, t.tags, t.attributes], sort_keys=True,
                                 default=str).encode("utf-8"))
    return digest.hexdigest()


class TrackReader(Dataset):
    """Decoded tracks of ``inputs`` at ``positions`` (all by default); item ``i`` is a :class:`DecodedTrack`."""

    def __init__(self, inputs: Sequence[TrackInput], audio: AudioConfig, positions: Sequence[int] | None = None):
        self.inputs, self.audio = list(inputs), audio
        self.positions = list(range(len(self.inputs))) if positions is None else list(positions)
        self._front = MelFrontEnd(audio)

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> DecodedTrack:
        pos = self.positions[i]
        try:
            return self.decode(pos)
        except AudioLoadError as err:
            return DecodedTrack(pos, error=err.reason)
        except (MuscallError, OSError, RuntimeError, ValueError, MemoryError) as err:
            return DecodedTrack(pos, error=f"{type(err).__name__}: {err}")

    def decode(self, pos: int) -> DecodedTrack:
        """Decode input ``pos`` to a whole-track log-mel; raises on unusable audio."""
        inp = self.inputs[pos]
        wave = self._front.wave(inp.path, segment=clip_segment(inp.attributes, f"track '{inp.track_id}': "))
        mel = self._front.mel(wave)
        return DecodedTrack(pos, mel, duration=len(wave) / self.audio.sample_rate,
                            fingerprint=fingerprint(mel, self.audio), levels=levels(mel, self.audio),
                            chroma=chroma_profile(wave, self.audio.sample_rate))


def read_tracks(reader: TrackReader, workers: int = 0, prefetch: int = 4) -> Iterator[DecodedTrack]:
    """Decoded tracks in ``reader`` order; ``workers`` processes decode ahead of the consumer."""
    if workers <= 0:
        for i in range(len(reader)):
            yield reader[i]
        return
    loader = DataLoader(reader, batch_size=None, shuffle=False, num_workers=workers, collate_fn=_identity,
                        worker_init_fn=loader_worker_init(_one_thread), prefetch_factor=prefetch,
                        persistent_workers=False)
    yield from loader


def _identity(item: DecodedTrack) -> DecodedTrack:
    return item


def _one_thread(_worker: int) -> None:
    torch.set_num_threads(1)  # decoding workers must not compete with the model for every core
