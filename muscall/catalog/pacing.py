"""How the embedding job shares the machine's cores between its decoding workers and the model's forward pass.

On a CPU machine decoding (read, resample, log-mel, fingerprint) and the forward pass run on the same cores, so
the job cannot beat ``cores / (decode + forward core-seconds per track)``. It measures both stages on its first
track and gives decoding ``ceil(cores * decode share)`` worker processes and the model the cores left (at least
one thread): too few workers starve the model, while a worker too many only blocks on its full queue. More
torch threads than free cores cost more than they give (their spin-waits fight the workers for the cores). On
a GPU the model leaves the cores to decoding: one thread feeds the card and the rest decode.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from muscall.audio.windows import crop_frames, hop_frames, track_windows
from muscall.catalog.mapper import TrackMapper
from muscall.catalog.reader import TrackReader
from muscall.utils.accel import torch_threads

CALIBRATION_TRIES = 3  # inputs tried in turn when the first ones cannot be decoded


@dataclass(frozen=True)
class CoreSplit:
    """Decoding worker processes and forward-pass threads, with the measured costs that chose them."""

    workers: int
    threads: int
    decode_s: float | None = None  # core-seconds to decode the calibration track
    forward_s: float | None = None  # core-seconds (one thread) of the model over the same track's windows

    def describe(self) -> str:
        """One line for the job's log."""
        plural = "" if self.workers == 1 else "es"
        where = "inline" if self.workers == 0 else f"in {self.workers} process{plural}"
        text = f"decoding {where}, model on {self.threads} thread"
        text += "" if self.threads == 1 else "s"
        if self.decode_s is not None and self.forward_s is not None:
            share = self.decode_s / (self.decode_s + self.forward_s)
            text += f" (measured: decoding is {share:.0%} of the CPU cost per track)"
        return text


def cores_per_process() -> int:
    """The cores this process may use, shared evenly with the other torchrun ranks on this machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


def split_cores(cores: int, decode_s: float, forward_s: float) -> tuple[int, int]:
    """(workers, threads) on ``cores`` CPU cores for stages costing ``decode_s`` and ``forward_s`` core-seconds."""
    if cores <= 1:
        return 0, 1  # one core: decode inline, no process to feed
    share = decode_s / max(decode_s + forward_s, 1e-9)
    workers = min(cores, max(1, math.ceil(cores * share)))
    return workers, max(1, cores - workers)


def choose_split(reader: TrackReader, mapper: TrackMapper, workers: int | None, threads: int | None,
                 cores: int | None = None) -> CoreSplit:
    """The job's split: the user's settings where given, the rest from the costs measured on ``reader``'s tracks.

    A chosen thread count never exceeds the process's own (``OMP_NUM_THREADS``, torchrun's one per rank)."""
    cores = cores or cores_per_process()
    given = torch.get_num_threads()
    if workers is not None:  # the user fixed the workers: the model gets the cores they leave
        return CoreSplit(workers, threads if threads is not None else min(given, max(1, cores - workers)))
    if torch.device(mapper.device).type == "cuda":
        return CoreSplit(max(1, cores - 1), threads if threads is not None else 1)
    costs = measure_costs(reader, mapper)  # None: nothing decodable among the first inputs; the job reports them
    auto_workers, auto_threads = split_cores(cores, *(costs or (1.0, 1.0)))
    return CoreSplit(auto_workers, threads if threads is not None else min(given, auto_threads),
                     *(costs or (None, None)))


def measure_costs(reader: TrackReader, mapper: TrackMapper) -> tuple[float, float] | None:
    """(decode, forward) core-seconds of the first decodable track among the first few, at one thread each."""
    with torch_threads(1):
        for i in range(min(CALIBRATION_TRIES, len(reader))):
            start = time.perf_counter()
            track = reader[i]
            decode_s = time.perf_counter() - start
            if track.mel is None:
                continue
            return decode_s, _forward_seconds(mapper, track.mel)
    return None


def _forward_seconds(mapper: TrackMapper, mel: np.ndarray) -> float:
    """Seconds of the model over all of ``mel``'s windows, timed on up to one batch after a warm-up batch."""
    windows = track_windows(mel, crop_frames(mapper.audio), hop_frames(mapper.audio))[0]
    batch = torch.from_numpy(np.ascontiguousarray(windows[: mapper.batch_size])).to(mapper.device)
    with torch.no_grad():
        mapper.model.encode_audio(batch)  # warm-up: first-call allocations
        start = time.perf_counter()
        mapper.model.encode_audio(batch)
        seconds = time.perf_counter() - start
    return seconds * len(windows) / len(batch)

