"""Reader stage: deterministic inputs from folders and manifests, decoding equal to MelSource, failures kept."""

from __future__ import annotations

import numpy as np
import pytest

from muscall.catalog.reader import TrackReader, inputs_digest, load_inputs, read_tracks, scan_folder
from muscall.config import load_config
from muscall.data.manifest import read_manifest
from muscall.data.mels import MelSource
from muscall.errors import MuscallError

AUDIO = load_config("tiny").audio


def test_folder_ids_are_sorted_relative_paths_and_titles_are_stems(tone_dir):
    inputs = scan_folder(tone_dir)
    ids = [t.track_id for t in inputs]
    assert ids == sorted(ids) and len(ids) == 7
    assert ids[0] == "a/tone1.wav" and "b/tone0.wav" in ids
    first = inputs[0]
    assert first.title == "tone1" and first.path == str(tone_dir.resolve() / "a" / "tone1.wav")
    assert first.tags == [] and first.attributes == {}


def test_manifest_inputs_carry_tags_attributes_and_caption(tone_manifest):
    inputs = load_inputs(tone_manifest)
    rows = read_manifest(tone_manifest)
    assert [t.track_id for t in inputs] == [r.id for r in rows]
    assert inputs[1].tags == rows[1].tags and inputs[1].attributes["genre"] == rows[1].attributes["genre"]
    assert inputs[1].attributes["caption"] == rows[1].caption
    assert inputs[1].title == "tone1" and inputs[1].path.endswith("tone1.wav")


def test_manifest_with_repeated_id_is_refused(tmp_path, tone_manifest):
    text = tone_manifest.read_text().splitlines()
    bad = tmp_path / "dup.jsonl"
    bad.write_text("\n".join(text + text[:1]) + "\n")
    with pytest.raises(MuscallError, match="appears twice"):
        load_inputs(bad)


def test_unknown_source_is_a_clear_error(tmp_path):
    with pytest.raises(MuscallError, match="neither a folder"):
        load_inputs(tmp_path / "nothing.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MuscallError, match="no audio files"):
        load_inputs(tmp_path / "empty")


def test_digest_changes_with_the_inputs(tone_dir):
    inputs = scan_folder(tone_dir)
    assert inputs_digest(inputs) == inputs_digest(scan_folder(tone_dir))
    assert inputs_digest(inputs) != inputs_digest(inputs[:-1])


def test_decoding_equals_mel_source(tone_manifest):
    inputs = load_inputs(tone_manifest)
    reader = TrackReader(inputs, AUDIO)
    source = MelSource(read_manifest(tone_manifest), tone_manifest, AUDIO)
    for i in (0, 3):
        track = reader[i]
        assert track.error is None and track.position == i
        np.testing.assert_array_equal(track.mel, source[i])
    assert reader[3].duration == pytest.approx(2.6, abs=1e-3)


def test_corrupt_and_missing_files_come_back_as_errors(tmp_path, tone):
    good = tone("good.wav", seconds=1.0)
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really audio")
    inputs = scan_folder(tmp_path)
    inputs[0].path = str(tmp_path / "gone.wav")  # bad.wav -> a missing file
    inputs.append(scan_folder(tmp_path)[0])  # bad.wav again, as itself
    out = [TrackReader(inputs, AUDIO)[i] for i in range(3)]
    assert "does not exist" in out[0].error and out[0].mel is None
    assert out[1].error is None and out[1].mel is not None and inputs[1].path == str(good)
    assert "not a readable audio file" in out[2].error


def test_worker_processes_keep_the_order(tone_dir):
    inputs = scan_folder(tone_dir)[:3]
    reader = TrackReader(inputs, AUDIO, positions=[2, 0, 1])
    inline = list(read_tracks(reader, workers=0))
    pooled = list(read_tracks(reader, workers=1))
    assert [t.position for t in pooled] == [2, 0, 1] == [t.position for t in inline]
    n_mels = AUDIO.n_mels
    for a, b in zip(inline, pooled):
        np.testing.assert_array_equal(a.mel[:n_mels], b.mel[:n_mels])
        # the chroma rows' long-STFT projection sums in another order on one worker thread than on two
        np.testing.assert_allclose(a.mel[n_mels:], b.mel[n_mels:], rtol=0, atol=1e-4)
