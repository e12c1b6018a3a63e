"""Writer stage: per-part results of the embedding job, then one merged, finalized shard catalog.

A *part* is a fixed slice of ``part_size`` inputs. Its tracks that decoded are committed as shard ``part`` of
``CATALOG/parts`` (an ``index.ShardWriter`` directory, float32) and its failures as ``failures-<part>.jsonl``;
a part where every track failed leaves ``part-<part>.empty`` instead. Parts are the unit of resumption and of
work sharing between ranks. Failed tracks make parts short, and a finished catalog may only have a short last
shard, so ``merge_parts`` repacks the parts' rows, in input order, into ``shard_size`` shards of the final
catalog (with ``ShardWriter.pending``, so an interrupted merge resumes too) and gathers ``failures.jsonl``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from index import ShardCatalog, ShardWriter, TrackMeta
from index.fileio import atomic_write_text
from index.shards import Shard, load_catalog
from muscall.errors import MuscallError

FAILURES = "failures.jsonl"
PARTS = "parts"
Progress = Callable[[int], None]


class PartStore:
    """The parts directory of one embedding job (see the module docstring)."""

    def __init__(self, directory: str | Path, part_size: int, model_hash: str):
        self.directory = Path(directory)
        self.writer = ShardWriter(self.directory, shard_size=part_size, dtype="float32", model_hash=model_hash)

    def done(self) -> set[int]:
        """Parts already committed (with tracks, or empty because every track failed)."""
        empty = {int(p.name[5:10]) for p in self.directory.glob("part-*.empty")}
        return self.writer.completed_shards() | empty

    def write(self, part: int, metas: Sequence[TrackMeta], tracks: np.ndarray,
              windows: Sequence[np.ndarray] | None, failures: Sequence[dict[str, Any]],
              fingerprints: Sequence[np.ndarray] | None = None, levels: Sequence[np.ndarray] | None = None) -> None:
        """Commit one part: failures first, then the shard (or the empty marker) that marks it done."""
        lines = "".join(json.dumps(f, ensure_ascii=False) + "\n" for f in failures)
        atomic_write_text(self.directory / f"failures-{part:05d}.jsonl", lines)
        if metas:
            self.writer.write_shard(part, tracks, metas, windows=windows, fingerprints=fingerprints, levels=levels)
        else:
            atomic_write_text(self.directory / f"part-{part:05d}.empty", json.dumps({"failed": len(failures)}))

    def failures(self, n_parts: int) -> list[dict[str, Any]]:
        """All failures in input order."""
        out: list[dict[str, Any]] = []
        for part in range(n_parts):
            path = self.directory / f"failures-{part:05d}.jsonl"
            if path.exists():
                out += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        return out


def merge_parts(parts_dir: str | Path, out_dir: str | Path, n_parts: int, part_size: int, shard_size: int,
                dtype: str, model_hash: str, keep_windows: bool, progress: Progress | None = None) -> ShardCatalog:
    """Repack committed parts ``0..n_parts-1`` into a finalized catalog in ``out_dir``; write failures.jsonl."""
    store = PartStore(parts_dir, part_size, model_hash)  # adopts parts committed by every rank
    missing = sorted(set(range(n_parts)) - store.done())
    if missing:
        raise MuscallError(f"{parts_dir}: part(s) {missing[:10]} are not embedded yet; rerun the embed command "
                           "to finish them")
    out_dir = Path(out_dir)
    failures = store.failures(n_parts)
    atomic_write_text(out_dir / FAILURES, "".join(json.dumps(f, ensure_ascii=False) + "\n" for f in failures))
    parts = list(load_catalog(parts_dir, verify=True, allow_partial=True).iter_shards())
    n_rows = sum(len(p.metadata) for p in parts)
    if n_rows == 0:
        raise MuscallError(f"every one of the {len(failures)} track(s) failed to decode; see {out_dir / FAILURES}")
    final = ShardWriter(out_dir, shard_size=shard_size, dtype=dtype, model_hash=model_hash, dim=parts[0].embeddings.shape[1])
    prints = all(p.fingerprints is not None for p in parts)  # parts of an older run may have none
    levels = prints and all(p.levels is not None for p in parts)
    for shard, start, stop in final.pending(n_rows):
        emb, metas, wins, fps, lvls = _gather(parts, start, stop, keep_windows, prints, levels)
        final.write_shard(shard, emb, metas, windows=wins, fingerprints=fps, levels=lvls)
        if progress:
            progress(stop - start)
    return final.finalize()


def remove_parts(parts_dir: str | Path) -> None:
    """Delete the parts directory once the merged catalog is final."""
    shutil.rmtree(parts_dir, ignore_errors=True)


def _gather(parts: list[Shard], start: int, stop: int, keep_windows: bool, prints: bool, levels: bool) -> tuple[
        np.ndarray, list[TrackMeta], list[np.ndarray] | None, list[np.ndarray] | None, list[np.ndarray] | None]:
    """Rows ``[start, stop)`` of the concatenated parts: embeddings, metadata, per-track windows, fingerprints and
    level profiles."""
    embs, metas, wins, fps, lvls = [], [], [], [], []
    offset = 0
    for part in parts:
        n = len(part.metadata)
        lo, hi = max(start - offset, 0), min(stop - offset, n)
        if lo < hi:
            embs.append(np.asarray(part.embeddings[lo:hi], dtype=np.float32))
            metas += part.metadata[lo:hi]
            if keep_windows:
                wins += [np.asarray(part.track_windows(r), dtype=np.float32) for r in range(lo, hi)]
            if prints:
                fps += [np.asarray(part.track_fingerprint(r)) for r in range(lo, hi)]
            if levels:
                lvls += [np.asarray(part.track_levels(r)) for r in range(lo, hi)]
        offset += n
        if offset >= stop:
            break
    return (np.concatenate(embs), metas, (wins if keep_windows else None), (fps if prints else None),
            (lvls if levels else None))
