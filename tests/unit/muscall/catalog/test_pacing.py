"""The embedding job's split of the cores between decoding workers and the model's threads."""

from __future__ import annotations

import pytest
import torch

from muscall.catalog.mapper import TrackMapper
from muscall.catalog.pacing import CoreSplit, choose_split, measure_costs, split_cores
from muscall.utils.accel import torch_threads
from muscall.catalog.reader import TrackReader, scan_folder

from .conftest import embed


@pytest.mark.parametrize("cores, decode_s, forward_s, expected", [
    (2, 0.052, 0.020, (2, 1)),  # decoding is 72% of the cost: both cores decode, the model sleeps until fed
    (2, 0.010, 0.200, (1, 1)),  # a heavy model: one worker keeps ahead of it
    (16, 0.052, 0.020, (12, 4)),  # ceil(16 * 0.72) workers, the rest to the model
    (16, 0.010, 0.090, (2, 14)),
    (1, 0.052, 0.020, (0, 1)),  # one core: decode inline, no process to feed
])
def test_split_gives_each_stage_its_share_of_the_cores(cores, decode_s, forward_s, expected):
    assert split_cores(cores, decode_s, forward_s) == expected


def test_user_settings_win_and_the_model_gets_the_cores_the_workers_leave(ckpt, tone_dir):
    reader = TrackReader(scan_folder(tone_dir), ckpt.config.audio)
    mapper = TrackMapper(ckpt.model, ckpt.config.audio)
    assert choose_split(reader, mapper, workers=3, threads=5, cores=4) == CoreSplit(3, 5)
    with torch_threads(4):
        assert choose_split(reader, mapper, workers=1, threads=None, cores=4) == CoreSplit(1, 3)
        assert choose_split(reader, mapper, workers=4, threads=None, cores=4) == CoreSplit(4, 1)
    with torch_threads(1):  # OMP_NUM_THREADS=1 (or torchrun's one thread per rank) caps the chosen count
        assert choose_split(reader, mapper, workers=0, threads=None, cores=4) == CoreSplit(0, 1)


def test_on_a_gpu_one_thread_feeds_the_card_and_the_other_cores_decode(ckpt, tone_dir):
    reader = TrackReader(scan_folder(tone_dir), ckpt.config.audio)
    gpu_mapper = TrackMapper(ckpt.model, ckpt.config.audio, device="cuda:0")  # never run: nothing is measured
    assert choose_split(reader, gpu_mapper, workers=None, threads=None, cores=8) == CoreSplit(7, 1)


def test_the_automatic_split_is_measured_on_the_first_decodable_track(ckpt, tone_dir, tmp_path):
    broken = tmp_path / "aaa-broken.wav"
    broken.write_bytes(b"not audio")
    inputs = scan_folder(tmp_path) + scan_folder(tone_dir)
    reader = TrackReader(inputs, ckpt.config.audio)
    mapper = TrackMapper(ckpt.model, ckpt.config.audio)
    decode_s, forward_s = measure_costs(reader, mapper)
    assert decode_s > 0 and forward_s > 0
    split = choose_split(reader, mapper, workers=None, threads=None, cores=2)
    assert split.decode_s and split.forward_s and 1 <= split.workers <= 2 and split.threads == 1
    assert "decoding in" in split.describe() and "of the CPU cost" in split.describe()


def test_nothing_decodable_falls_back_to_an_even_split(ckpt, tmp_path):
    for name in "abc":
        (tmp_path / f"{name}.wav").write_bytes(b"not audio")
    reader = TrackReader(scan_folder(tmp_path), ckpt.config.audio)
    mapper = TrackMapper(ckpt.model, ckpt.config.audio)
    assert measure_costs(reader, mapper) is None
    with torch_threads(4):
        assert choose_split(reader, mapper, workers=None, threads=None, cores=4) == CoreSplit(2, 2)


def test_the_job_reports_its_split_and_restores_the_thread_count(ckpt, tone_dir, tmp_path):
    before = torch.get_num_threads()
    result = embed(ckpt, tone_dir, tmp_path / "cat", workers=None, threads=None)
    assert result.split is not None and result.split.decode_s is not None
    assert result.catalog.n_rows == 7 and torch.get_num_threads() == before
    again = embed(ckpt, tone_dir, tmp_path / "cat", workers=None, threads=None)  # complete: nothing to split
    assert again.n_embedded == 0 and again.split is None


@pytest.mark.parametrize("field, value", [("workers", -1), ("threads", 0)])
def test_out_of_range_settings_are_refused(ckpt, tone_dir, tmp_path, field, value):
    from muscall.errors import MuscallError

    with pytest.raises(MuscallError, match=f"--{field} must be >="):
        embed(ckpt, tone_dir, tmp_path / "cat", **{field: value})
