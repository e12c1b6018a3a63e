"""The embedding job: reader -> mapper -> writer over a whole collection, resumable and shardable over ranks.

Inputs are cut into parts of ``shard_size`` tracks in a fixed order; under ``torchrun`` rank ``r`` embeds parts
``r, r + world, ...`` and commits each one as it finishes (see ``writer``), so a killed job restarts where it
stopped and any number of ranks gives the same catalog. Rank 0 then waits for the other ranks (by files, not
a collective, so a long tail never hits a process-group timeout) and merges the parts into ``CATALOG``.
``CATALOG/job.json`` records the settings; a rerun with other inputs or settings is refused.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from tqdm import tqdm

from index import ShardCatalog, TrackMeta
from index.shards import load_catalog
from muscall.catalog.mapper import TrackMapper
from muscall.catalog.pacing import CoreSplit, choose_split
from muscall.catalog.plan import check_or_write_plan, mark_complete, read_plan, wait_for
from muscall.catalog.reader import DecodedTrack, TrackInput, TrackReader, inputs_digest, load_inputs, read_tracks
from muscall.catalog.writer import FAILURES, PARTS, PartStore, merge_parts, remove_parts
from muscall.checkpoint import Checkpoint
from muscall.errors import MuscallError
from muscall.keys import chroma_attribute
from muscall.utils.accel import torch_threads
from muscall.utils.distributed import DistInfo, barrier

PLAN = "job.json"
PLAN_FORMAT = "muscall-embed-job"
PartHook = Callable[[int], None]
log = logging.getLogger(__name__)


@dataclass
class EmbedJob:
    """Settings of one ``muscall embed`` run."""

    source: str
    out: str
    batch_size: int = 32
    shard_size: int = 10_000
    dtype: str | None = None  # float16 | float32; None: the checkpoint config's index.embedding_dtype
    keep_windows: bool | None = None  # None: the checkpoint config's index.keep_window_embeddings
    workers: int | None = None  # decoding processes; None: sized to the machine (see ``pacing``)
    threads: int | None = None  # torch threads of the forward pass; None: the cores the workers leave
    split: str | None = None  # manifest split to embed (default: every row)
    progress: bool = True

    def validate(self) -> None:
        """Raise MuscallError for a setting out of range."""
        for name, low in (("batch_size", 1), ("shard_size", 1), ("workers", 0), ("threads", 1)):
            if getattr(self, name) is not None and getattr(self, name) < low:
                raise MuscallError(f"--{name.replace('_', '-')} must be >= {low}, got {getattr(self, name)}")
        if self.dtype not in (None, "float16", "float32"):
            raise MuscallError(f"--dtype must be float16 or float32, got {self.dtype!r}")


@dataclass
class EmbedResult:
    """What a run did (``catalog`` and ``n_failed`` are set on rank 0 only)."""

    out: Path
    n_inputs: int
    n_embedded: int  # tracks embedded by this rank in this run (0 when everything was already done)
    seconds: float
    catalog: ShardCatalog | None = None
    n_failed: int | None = None
    split: CoreSplit | None = None  # how this rank shared its cores (None when it had nothing to embed)

    @property
    def tracks_per_second(self) -> float:
        """This rank's embedding throughput in this run."""
        return self.n_embedded / self.seconds if self.seconds > 0 else 0.0


def run_embed_job(ckpt: Checkpoint, job: EmbedJob, dist: DistInfo | None = None,
                  on_part_done: PartHook | None = None, inputs: Sequence[TrackInput] | None = None) -> EmbedResult:
    """Embed every input into ``job.out`` (see the module docstring); ``on_part_done(part)`` after each part."""
    dist, t0 = dist or DistInfo(), time.perf_counter()
    job.validate()
    inputs = list(inputs) if inputs is not None else load_inputs(job.source, job.split)
    out, settings = Path(job.out), plan_settings(ckpt, job, inputs)
    if dist.is_main:
        check_or_write_plan(out / PLAN, PLAN_FORMAT, settings, _clear_rank_markers(out))
    barrier(dist)
    plan = read_plan(out / PLAN, PLAN_FORMAT, settings)
    if plan.get("complete"):
        return _result(out, inputs, 0, t0, dist, None)
    store = PartStore(out / PARTS, job.shard_size, ckpt.sha256)
    barrier(dist)  # every rank's ShardWriter is open (it cleans stale temp files) before anyone writes
    n_parts = math.ceil(len(inputs) / job.shard_size)
    done = store.done()
    mine = [p for p in range(dist.rank, n_parts, dist.world_size) if p not in done]
    mapper = TrackMapper(ckpt.model, ckpt.config.audio, job.batch_size, _device_of(ckpt.model))
    n, split = embed_parts(mapper, inputs, mine, store, job, settings["keep_windows"], dist.rank, on_part_done)
    if not dist.is_main:
        (out / PARTS / f"rank-{dist.rank}.done").touch()
        _wait_until_complete(out / PLAN)  # by file, not a barrier: the merge may outlast a collective's timeout
        return EmbedResult(out, len(inputs), n, time.perf_counter() - t0, split=split)
    wait_for([out / PARTS / f"rank-{r}.done" for r in range(1, dist.world_size)])
    with tqdm(unit="track", desc="merge shards", disable=not job.progress) as bar:
        merge_parts(out / PARTS, out, n_parts, job.shard_size, job.shard_size, settings["dtype"], ckpt.sha256,
                    settings["keep_windows"], progress=bar.update)
    mark_complete(out / PLAN)
    remove_parts(out / PARTS)
    return _result(out, inputs, n, t0, dist, split)


def plan_settings(ckpt: Checkpoint, job: EmbedJob, inputs: Sequence[TrackInput]) -> dict[str, Any]:
    """The settings a resumed run must share with the first one."""
    index_cfg = ckpt.config.index
    return {"model_hash": ckpt.sha256, "n_inputs": len(inputs), "inputs_sha256": inputs_digest(inputs),
            "shard_size": job.shard_size, "dtype": job.dtype or index_cfg.embedding_dtype,
            "keep_windows": index_cfg.keep_window_embeddings if job.keep_windows is None else job.keep_windows,
            "audio": asdict(ckpt.config.audio)}


def embed_parts(mapper: TrackMapper, inputs: Sequence[TrackInput], parts: Sequence[int], store: PartStore,
                job: EmbedJob, keep_windows: bool, rank: int = 0,
                on_part_done: PartHook | None = None) -> tuple[int, CoreSplit | None]:
    """Decode, embed and commit ``parts`` in order; return the number of tracks embedded and the core split."""
    size = job.shard_size
    spans = [range(p * size, min((p + 1) * size, len(inputs))) for p in parts]
    reader = TrackReader(inputs, mapper.audio, [i for span in spans for i in span])
    if not len(reader):
        return 0, None
    split = choose_split(reader, mapper, job.workers, job.threads)
    log.info("embed: %s", split.describe())
    embedded = 0
    desc = "embed" if rank == 0 else f"embed rank {rank}"
    # closing the stream stops its decoding workers now, not whenever the generator is collected
    with torch_threads(split.threads), closing(read_tracks(reader, split.workers)) as stream, \
            tqdm(total=len(reader), unit="track", desc=desc, position=rank, disable=not job.progress) as bar:
        for part, span in zip(parts, spans):
            decoded: list[DecodedTrack] = []
            failures: list[dict[str, Any]] = []
            emb = mapper.embed(_mels(stream, len(span), inputs, decoded, failures, bar))
            metas, keep = _metas(mapper, inputs, decoded, emb.starts, emb.tracks, failures, keep_windows)
            windows = [emb.windows[i] for i in keep] if keep_windows else None
            prints = [decoded[i].fingerprint for i in keep]
            store.write(part, metas, emb.tracks[keep], windows, failures, prints, [decoded[i].levels for i in keep])
            embedded += len(metas)
            if on_part_done is not None:
                on_part_done(part)
    return embedded, split


def _mels(stream: Iterator[DecodedTrack], count: int, inputs: Sequence[TrackInput], decoded: list[DecodedTrack],
          failures: list[dict[str, Any]], bar: tqdm) -> Iterator[np.ndarray]:
    """The next ``count`` tracks' log-mels; failures are recorded and skipped, the rest kept (mel-free)."""
    for _ in range(count):
        track = next(stream)
        bar.update(1)
        if track.error is not None:
            failures.append(_failure(inputs, track.position, track.error))
            continue
        mel, track.mel = track.mel, None
        decoded.append(track)
        yield mel


def _metas(mapper: TrackMapper, inputs: Sequence[TrackInput], decoded: list[DecodedTrack], starts: list[np.ndarray],
           tracks: np.ndarray, failures: list[dict[str, Any]], keep_windows: bool) -> tuple[list[TrackMeta], list[int]]:
    """Metadata rows of the embedded tracks and their indices; a non-finite vector becomes a failure."""
    finite = np.isfinite(tracks).all(axis=1) & (np.linalg.norm(tracks, axis=1) > 0) if len(tracks) else []
    metas, keep = [], []
    for i, track in enumerate(decoded):
        inp = inputs[track.position]
        if not finite[i]:
            failures.append(_failure(inputs, track.position, "the model produced a zero or non-finite embedding"))
            continue
        attrs = dict(inp.attributes)
        if keep_windows:
            attrs["window_starts"] = mapper.start_seconds(starts[i])
        if track.chroma is not None:
            attrs.update(chroma_attribute(track.chroma))
        metas.append(TrackMeta(inp.track_id, inp.path, inp.title, round(track.duration, 3), list(inp.tags), attrs))
        keep.append(i)
    failures.sort(key=lambda f: f["position"])
    return metas, keep


def _failure(inputs: Sequence[TrackInput], position: int, reason: str) -> dict[str, Any]:
    """One failures.jsonl record."""
    inp = inputs[position]
    return {"position": position, "track_id": inp.track_id, "path": inp.path, "reason": reason}


def _result(out: Path, inputs: Sequence[TrackInput], n: int, t0: float, dist: DistInfo,
            split: CoreSplit | None) -> EmbedResult:
    """Result with the finished catalog (rank 0)."""
    result = EmbedResult(out, len(inputs), n, time.perf_counter() - t0, split=split)
    if dist.is_main:
        result.catalog = load_catalog(out, verify=False)
        path = out / FAILURES
        result.n_failed = sum(1 for line in path.read_text().splitlines() if line) if path.exists() else 0
    return result


def _wait_until_complete(plan: Path, poll_seconds: float = 0.5) -> None:
    """Block until rank 0 has merged the parts, so that every rank leaves the process group together."""
    while not read_plan(plan, PLAN_FORMAT).get("complete"):
        time.sleep(poll_seconds)


def _clear_rank_markers(out: Path) -> Callable[[], None]:
    """A callback deleting stale ``rank-*.done`` markers of an earlier run."""
    def clear() -> None:
        for marker in (out / PARTS).glob("rank-*.done"):
            marker.unlink()
    return clear


def _device_of(model: Any) -> Any:
    """The device of the model's parameters."""
    return next(model.parameters()).device
