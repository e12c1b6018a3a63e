"""The embedding job end to end: equal to embed_mels, metadata, failures, resumption, refusal of changed runs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from index.shards import load_catalog
from muscall.catalog.reader import TrackReader, load_inputs
from muscall.embedding import embed_mels
from muscall.errors import MuscallError


def _rows(catalog_dir):
    cat = load_catalog(catalog_dir)
    shards = list(cat.iter_shards())
    return (np.concatenate([np.asarray(s.embeddings, dtype=np.float32) for s in shards]),
            [m for s in shards for m in s.metadata], shards)


def test_catalog_vectors_equal_embed_mels(ckpt, tone_manifest, manifest_catalog):
    inputs = load_inputs(tone_manifest)
    reader = TrackReader(inputs, ckpt.config.audio)
    ref = embed_mels(ckpt.model, [reader[i].mel for i in range(len(inputs))], ckpt.config.audio, batch_size=32)
    emb, metas, shards = _rows(manifest_catalog)
    assert [m.track_id for m in metas] == [t.track_id for t in inputs]
    np.testing.assert_allclose(emb, ref.tracks, atol=1e-6)  # float32 shards: only renormalisation rounding
    windows = [w for s in shards for w in (s.track_windows(i) for i in range(len(s.metadata)))]
    for got, want in zip(windows, ref.windows):
        np.testing.assert_allclose(got, want, atol=1e-6)
    cat = load_catalog(manifest_catalog)
    assert cat.model_hash == ckpt.sha256 and cat.dim == ckpt.model.embed_dim and cat.complete
    assert [s.rows for s in cat.shards] == [4, 2]


def test_metadata_rows(ckpt, tone_manifest, manifest_catalog):
    _, metas, _ = _rows(manifest_catalog)
    inputs = load_inputs(tone_manifest)
    m, inp = metas[3], inputs[3]
    assert (m.track_id, m.title, m.path, m.tags) == (inp.track_id, "tone3", inp.path, inp.tags)
    assert m.duration == pytest.approx(2.6, abs=1e-3)
    assert m.attributes["genre"] == inp.attributes["genre"] and m.attributes["caption"] == inp.attributes["caption"]
    starts = m.attributes["window_starts"]
    assert starts[0] == 0.0 and starts == sorted(starts) and len(starts) == 2
    chroma = m.attributes["chroma"]  # for key-aware search (muscall.keys)
    assert len(chroma) == 12 and sum(chroma) == pytest.approx(1.0, abs=1e-3)
    plan = json.loads((manifest_catalog / "job.json").read_text())
    assert plan["complete"] and plan["settings"]["model_hash"] == ckpt.sha256
    assert not (manifest_catalog / "parts").exists()


def test_corrupt_file_goes_to_failures_and_the_job_goes_on(ckpt, tone_dir, tmp_path, embed):
    src = tmp_path / "src"
    shutil.copytree(tone_dir / "a", src)  # 3 tracks
    (src / "broken.wav").write_bytes(b"RIFF\x00\x00garbage")  # sorts first: parts [broken, tone1], [tone3, tone5]
    result = embed(ckpt, src, tmp_path / "cat", keep_windows=False)
    failures = [json.loads(line) for line in (tmp_path / "cat" / "failures.jsonl").read_text().splitlines()]
    assert len(failures) == 1 and failures[0]["path"] == str(src.resolve() / "broken.wav")
    assert "not a readable audio file" in failures[0]["reason"] and failures[0]["track_id"] == "broken.wav"
    assert result.n_failed == 1 and result.catalog.n_rows == 3
    assert [s.rows for s in result.catalog.shards] == [2, 1]  # repacked: only the last shard is short
    _, metas, shards = _rows(tmp_path / "cat")
    assert [m.track_id for m in metas] == ["tone1.wav", "tone3.wav", "tone5.wav"]
    assert shards[0].windows is None and "window_starts" not in metas[0].attributes


def test_killed_job_resumes_to_the_same_catalog(ckpt, tone_dir, tmp_path, embed, signature):
    source = tone_dir / "b"  # 4 tracks: parts of 2
    full = embed(ckpt, source, tmp_path / "full")
    done = []

    def crash_after_first(part: int) -> None:
        done.append(part)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        embed(ckpt, source, tmp_path / "resumed", on_part_done=crash_after_first)
    assert done == [0] and not (tmp_path / "resumed" / "catalog.json").exists()
    resumed = embed(ckpt, source, tmp_path / "resumed")
    assert resumed.n_embedded == 2  # part 0 (2 tracks) was not embedded again
    assert signature(tmp_path / "resumed") == signature(tmp_path / "full")
    ids = [m.track_id for m in _rows(tmp_path / "resumed")[1]]
    assert ids == ["tone0.wav", "tone2.wav", "tone4.wav", "tone6.wav"] and full.catalog.n_rows == 4
    again = embed(ckpt, source, tmp_path / "resumed")  # a finished job is a no-op
    assert again.n_embedded == 0 and signature(tmp_path / "resumed") == signature(tmp_path / "full")


def test_rerun_with_other_settings_is_refused(ckpt, tone_dir, tmp_path, embed):
    with pytest.raises(RuntimeError):
        embed(ckpt, tone_dir / "a", tmp_path / "cat", on_part_done=lambda part: (_ for _ in ()).throw(RuntimeError()))
    with pytest.raises(MuscallError, match="shard_size: was 2, now 3"):
        embed(ckpt, tone_dir / "a", tmp_path / "cat", shard_size=3)


def test_bad_settings_are_clear_errors(ckpt, tone_dir, tmp_path, embed):
    with pytest.raises(MuscallError, match="--batch-size must be >= 1"):
        embed(ckpt, tone_dir, tmp_path / "cat", batch_size=0)


def test_non_finite_embedding_becomes_a_failure(ckpt, tone_dir, tmp_path, embed):
    import dataclasses

    import torch

    class FirstWindowNaN(torch.nn.Module):
        """The real model, except that its very first window comes out NaN."""

        def __init__(self, model):
            super().__init__()
            self.model, self.embed_dim, self.calls = model, model.embed_dim, 0

        def encode_audio(self, x, normalize=True):
            out = self.model.encode_audio(x, normalize=normalize)
            self.calls += 1
            return torch.full_like(out, float("nan")) if self.calls == 1 else out

    broken = dataclasses.replace(ckpt, model=FirstWindowNaN(ckpt.model))
    result = embed(broken, tone_dir / "a", tmp_path / "cat", batch_size=1)
    failures = [json.loads(line) for line in (tmp_path / "cat" / "failures.jsonl").read_text().splitlines()]
    assert [f["track_id"] for f in failures] == ["tone1.wav"] and "non-finite" in failures[0]["reason"]
    assert [m.track_id for m in _rows(tmp_path / "cat")[1]] == ["tone3.wav", "tone5.wav"]
    assert result.n_failed == 1
