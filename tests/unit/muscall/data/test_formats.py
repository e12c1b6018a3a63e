"""muscall.data.formats via ``muscall data import --format``: each dataset layout, written by the test, imports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import mutagen.flac
import numpy as np
import pytest

from muscall.audio.ffmpeg import encode
from muscall.cli.main import main
from muscall.data.formats import FormatOptions, detect_format
from muscall.data.formats.tags import caption_from_tags
from muscall.data.importer import import_source
from muscall.data.manifest import read_manifest
from muscall.errors import MuscallError

CHECKS = dict(sample_rate=16000, min_seconds=0.5, max_seconds=120.0, workers=1, progress=False)
MUSICCAPS_HEADER = ["ytid", "start_s", "end_s", "audioset_positive_labels", "aspect_list", "caption", "author_id",
                    "is_balanced_subset", "is_audioset_eval"]


def _csv(path: Path, header: list[str], rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _rejects(manifest: Path) -> dict[str, str]:
    lines = [json.loads(x) for x in manifest.with_name(f"{manifest.stem}.rejects.jsonl").read_text().splitlines()]
    return {x.get("id") or Path(x["path"]).name: x["reason"] for x in lines}


def test_musiccaps_csv_with_audio_folder(tone, tmp_path):
    tone("clips/aaa.wav", seconds=2.0)
    tone("clips/bbb.wav", seconds=14.0)  # the whole video: offset recorded, not re-encoded
    tone("clips/ccc.wav", seconds=2.0)
    src = _csv(tmp_path / "musiccaps-public.csv", MUSICCAPS_HEADER, [
        ["aaa", 0, 2, "/m/1", "['piano', 'calm']", "a calm piano", 1, "True", "False"],
        ["bbb", 10, 12, "/m/2", "['drums']", "loud drums", 2, "False", "True"],
        ["ccc", 5, 3, "/m/3", "[]", "backwards times", 3, "False", "False"],
        ["ddd", 0, 2, "/m/4", "['x']", "no audio", 4, "False", "False"],
        ["eee", 0, 2, "/m/5", "piano, calm", "not a list", 5, "False", "False"],
        ["aaa", 0, 2, "/m/1", "['again']", "duplicate id", 6, "False", "False"],
    ])
    assert detect_format(src) == "musiccaps"
    out = tmp_path / "mc.jsonl"
    argv = ["data", "import", str(src), "--audio-dir", str(tmp_path / "clips"), "--out", str(out),
            "--min-seconds", "0.5", "--no-progress", "--workers", "1"]
    assert main(argv) == 0
    rows = {r.id: r for r in read_manifest(out)}
    assert set(rows) == {"aaa", "bbb"}
    assert rows["aaa"].tags == ["piano", "calm"] and rows["aaa"].split != "test"
    assert rows["bbb"].split == "test" and rows["bbb"].attributes["offset_s"] == 10.0
    assert rows["bbb"].attributes["clip_seconds"] == 2.0 and "offset_s" not in rows["aaa"].attributes
    assert rows["aaa"].attributes["author_id"] == "1"
    assert _rejects(out) == {"ccc": "bad_times", "ddd": "missing_file", "eee": "bad_aspects", "aaa": "duplicate_id"}


def test_musiccaps_audio_pattern_fills_times_and_names_unknown_fields(tone, tmp_path):
    tone("clips/aaa_30-40.wav", seconds=1.0)
    src = _csv(tmp_path / "mc.csv", MUSICCAPS_HEADER, [["aaa", 30, 40, "", "['a']", "cap", 1, "False", "False"],
                                                        ["bbb", 0, 10, "", "['a']", "cap", 1, "False", "False"]])
    opts = FormatOptions(audio_dir=tmp_path / "clips", audio_pattern="{ytid}_{start}-{end}.wav")
    report = import_source(src, tmp_path / "m.jsonl", fmt="musiccaps", options=opts, **CHECKS)
    assert [r.id for r in report.kept] == ["aaa"] and report.reasons["missing_file"] == 1
    opts = FormatOptions(audio_dir=tmp_path / "clips", audio_pattern="{video}.wav")
    with pytest.raises(MuscallError, match="none of the 2 rows"):
        import_source(src, tmp_path / "n.jsonl", fmt="musiccaps", options=opts, **CHECKS)
    assert "'video'" in (tmp_path / "n.rejects.jsonl").read_text()


def test_song_describer_keeps_every_caption_of_a_track(tone, tmp_path):
    tone("audio/00/1.2min.wav", seconds=1.0)
    tone("audio/01/2.2min.wav", seconds=1.0)
    src = _csv(tmp_path / "song_describer.csv",
               ["caption_id", "track_id", "caption", "is_valid_subset", "familiarity", "artist_id", "path"], [
                   [12, 1, "second caption", "True", 2, 7, "00/1.2min.wav"],
                   [3, 1, "first caption", "True", 1, 7, "00/1.2min.wav"],
                   [5, 2, "only caption", "False", 0, 8, "01/2.2min.wav"],
                   [6, 2, " ", "True", 0, 8, "01/2.2min.wav"],
                   [9, 3, "no audio", "True", 0, 9, "02/3.2min.wav"]])
    assert detect_format(src) == "song-describer"
    report = import_source(src, tmp_path / "sd.jsonl", options=FormatOptions(audio_dir=tmp_path / "audio"),
                           **CHECKS)
    rows = {r.id: r for r in read_manifest(tmp_path / "sd.jsonl")}
    assert rows["1"].caption == "first caption" and rows["1"].captions == ["second caption"]
    assert rows["1"].attributes["caption_ids"] == ["3", "12"] and rows["1"].attributes["is_valid_subset"] is True
    assert rows["2"].all_captions() == ["only caption"] and rows["2"].attributes["is_valid_subset"] is False
    assert sorted(report.reasons.items()) == [("empty_caption", 1), ("missing_file", 1)]


def test_muscall_json_folder_of_dataset_files(tone, tmp_path):
    tone("data/audio/t1.wav", seconds=1.0)
    tone("data/audio/t2.wav", seconds=1.0)
    (tmp_path / "data" / "dataset_train.json").write_text(json.dumps([
        {"track_id": "t1", "caption": {"raw": "a jazz trio", "tokens": ["a"]}, "title": "One"},
        {"track_id": "t9", "caption": {"raw": "missing"}}, {"caption": {"raw": "no id"}}]))
    (tmp_path / "data" / "dataset_val.json").write_text(json.dumps([{"track_id": "t2", "caption": {"raw": "rock"}}]))
    assert detect_format(tmp_path / "data") == "muscall-json"
    report = import_source(tmp_path / "data", tmp_path / "mj.jsonl", **CHECKS)
    rows = {r.id: r for r in report.kept}
    assert rows["t1"].split == "train" and rows["t2"].split == "val" and rows["t1"].attributes["title"] == "One"
    assert rows["t1"].caption == "a jazz trio"
    assert sorted(report.reasons.items()) == [("missing_file", 1), ("no_id", 1)]


def test_rated_csv_keeps_system_and_ratings_for_score_train(tone, tmp_path):
    for name in ("a.wav", "b.wav", "c.wav"):
        tone(f"rated/{name}", seconds=1.0)
    src = _csv(tmp_path / "rated" / "aesthetics.csv", ["path", "system", "prompt", "PQ", "CE"], [
        ["a.wav", "s1", "calm piano", 7.5, 6.0], ["b.wav", "s2", "", 3.0, 2.5], ["c.wav", "s3", "drums", 5, 5]])
    out = tmp_path / "rated.jsonl"
    assert main(["data", "import", str(src), "--format", "aesthetics", "--out", str(out), "--min-seconds", "0.5",
                 "--no-progress"]) == 0
    rows = {r.id: r for r in read_manifest(out)}
    assert rows["a"].system == "s1" and rows["a"].ratings == {"PQ": 7.5, "CE": 6.0}
    assert rows["b"].caption == ""  # no prompt is allowed for rated sets
    assert {r.split for r in rows.values()} == {"train", "val", "test"}  # split by system


def _tagged(tone, name: str, **tags: str) -> Path:
    path = tone(name, seconds=1.0)
    if tags:
        audio = mutagen.flac.FLAC(path)
        for key, value in tags.items():
            audio[key] = value
        audio.save()
    return path


def test_tags_folder_captions_only_what_the_tags_say(tone, tmp_path):
    _tagged(tone, "music/a.flac", artist="Ann", title="Blue", genre="Jazz", date="1999", bpm="92",
            initialkey="A minor", mood="calm", album="Night")
    _tagged(tone, "music/b.flac", title="Untitled Loop")
    _tagged(tone, "music/bare.flac")
    report = import_source(tmp_path / "music", tmp_path / "t.jsonl", fmt="tags", **CHECKS)
    rows = {r.attributes.get("title"): r for r in report.kept}
    assert rows["Blue"].caption == 'Jazz, "Blue" by Ann, from Night (1999), 92 BPM, in A minor, mood: calm'
    assert rows["Blue"].tags == ["Jazz", "calm"] and rows["Blue"].attributes["bpm"] == "92"
    assert rows["Untitled Loop"].caption == '"Untitled Loop"'
    assert dict(report.reasons) == {"untagged": 1}
    report = import_source(tmp_path / "music", tmp_path / "u.jsonl", fmt="tags", **CHECKS,
                           options=FormatOptions(allow_untagged=True))
    assert len(report.kept) == 3


def test_caption_from_tags_invents_nothing():
    assert caption_from_tags({"genre": "rock"}) == "rock, a track"
    assert caption_from_tags({"artist": "X", "year": "2001"}) == "a track by X (2001)"


def test_a_folder_of_m4a_files_imports(tmp_path):
    wave = 0.4 * np.sin(2 * np.pi * 330.0 * np.arange(24000) / 16000)
    (tmp_path / "songs").mkdir()
    encode(tmp_path / "songs" / "a.m4a", wave, 16000, "alac")
    (tmp_path / "songs" / "a.txt").write_text("a plucked tone")
    report = import_source(tmp_path / "songs", tmp_path / "m.jsonl", **CHECKS)
    assert [(r.audio_path, r.caption, r.duration) for r in report.kept] == [("songs/a.m4a", "a plucked tone", 1.5)]
