"""muscall.data.importer and ``muscall data import``: good rows kept, each bad row rejected with its reason."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from muscall.cli.main import main
from muscall.data.importer import import_source, stable_id
from muscall.data.manifest import read_manifest, resolve_audio_path
from muscall.data.sources import ColumnMap
from muscall.errors import MuscallError

SR = 16000
CHECKS = dict(sample_rate=SR, min_seconds=1.0, max_seconds=60.0, workers=2, progress=False)
# file name -> the reject reason it must get (None: kept)
BAD_AUDIO = {"corrupt.wav": "corrupt", "empty.wav": "empty_file", "short.wav": "too_short",
             "silent.wav": "silent", "missing.wav": "missing_file"}


@pytest.fixture
def audio(tone, tmp_path):
    """Good and bad audio under tmp_path/<folder>/; returns {name: path}."""
    def make(folder: str = "audio") -> dict[str, Path]:
        files = {
            "good1.wav": tone(f"{folder}/good1.wav", seconds=1.5),
            "good2.flac": tone(f"{folder}/sub/good2.flac", seconds=2.0, sr=44100, channels=2),
            "good3.wav": tone(f"{folder}/good3.wav", seconds=1.25, freq=220.0),
            "short.wav": tone(f"{folder}/short.wav", seconds=0.3),
            "silent.wav": tone(f"{folder}/silent.wav", seconds=1.5, amplitude=0.0),
        }
        (tmp_path / folder / "corrupt.wav").write_bytes(b"RIFF this is not really audio at all" * 10)
        (tmp_path / folder / "empty.wav").write_bytes(b"")
        files["corrupt.wav"] = tmp_path / folder / "corrupt.wav"
        files["empty.wav"] = tmp_path / folder / "empty.wav"
        files["missing.wav"] = tmp_path / folder / "missing.wav"
        return files
    return make


def _rejects(manifest: Path) -> list[dict]:
    path = manifest.with_name(f"{manifest.stem}.rejects.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _table_rows(files: dict[str, Path], rel: str = "audio") -> list[dict]:
    """Source rows: three good, one per bad audio file, an empty caption, a duplicate id, a bad split."""
    rows = [
        {"id": "a", "path": f"{rel}/good1.wav", "caption": "  a bright sine  ", "split": "train", "tags": "calm, sine"},
        {"id": "b", "path": f"{rel}/sub/good2.flac", "caption": "stereo tone", "split": "valid", "tags": ""},
        {"id": "c", "path": str(files["good3.wav"]), "caption": "low tone", "split": "test", "tags": "low"},
    ]
    rows += [{"id": f"bad-{name}", "path": f"{rel}/{name}", "caption": "x", "split": "", "tags": ""} for name in BAD_AUDIO]
    rows += [{"id": "blank", "path": f"{rel}/good1.wav", "caption": " \t ", "split": "", "tags": ""},
             {"id": "a", "path": f"{rel}/good3.wav", "caption": "again", "split": "", "tags": ""},
             {"id": "odd", "path": f"{rel}/good3.wav", "caption": "odd split", "split": "holdout", "tags": ""}]
    return rows


EXPECTED_REASONS = [*BAD_AUDIO.values(), "empty_caption", "duplicate_id", "bad_split"]


def _write_csv(path: Path, rows: list[dict], rename: dict[str, str] | None = None) -> Path:
    rename = rename or {}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[rename.get(k, k) for k in rows[0]])
        writer.writeheader()
        writer.writerows({rename.get(k, k): v for k, v in row.items()} for row in rows)
    return path


def test_csv_keeps_good_rows_and_rejects_each_bad_one(audio, tmp_path):
    files = audio()
    src = _write_csv(tmp_path / "src.csv", _table_rows(files))
    out = tmp_path / "out" / "manifest.jsonl"
    report = import_source(src, out, columns=ColumnMap(), **CHECKS)

    rows = {r.id: r for r in read_manifest(out)}
    assert sorted(rows) == ["a", "b", "c"]
    assert rows["a"].caption == "a bright sine"
    assert rows["a"].tags == ["calm", "sine"] and rows["b"].tags == []
    assert [rows[i].split for i in "abc"] == ["train", "val", "test"]
    assert rows["a"].duration == pytest.approx(1.5, abs=1e-3)
    assert rows["b"].duration == pytest.approx(2.0, abs=1e-3)
    assert not Path(rows["a"].audio_path).is_absolute()  # manifest-relative
    for rid, name in [("a", "good1.wav"), ("b", "good2.flac"), ("c", "good3.wav")]:
        assert resolve_audio_path(rows[rid], out).resolve() == files[name].resolve()

    rejects = _rejects(out)
    assert [r["reason"] for r in rejects] == EXPECTED_REASONS
    assert [r["line"] for r in rejects] == list(range(5, 5 + len(EXPECTED_REASONS)))  # header is line 1
    assert all(r["detail"] and Path(r["path"]).is_absolute() for r in rejects)
    assert str(tmp_path) in rejects[4]["detail"]  # a missing file says where relative paths start
    assert "line 2" in rejects[6]["detail"]  # the duplicate names the first use of its id
    assert report.reasons["silent"] == 1 and len(report.kept) == 3
    assert "kept 3 rows" in report.summary() and "too_short: 1" in report.summary()


def test_jsonl_with_custom_columns_and_seeded_splits(audio, tmp_path):
    files = audio("clips")
    rename = {"id": "key", "path": "file", "caption": "desc", "tags": "genres"}
    rows = []
    for row in _table_rows(files, rel="../clips"):
        if row.pop("split") == "holdout":
            continue
        row["tags"] = [t.strip() for t in row["tags"].split(",") if t.strip()]
        rows.append({rename.get(k, k): v for k, v in row.items()})
    rows[0]["bpm"] = 120
    src = tmp_path / "meta" / "src.jsonl"
    src.parent.mkdir()
    lines = [json.dumps(r) for r in rows] + ["{not json"]
    src.write_text("\n".join(lines) + "\n")
    columns = ColumnMap(path="file", caption="desc", id="key", tags="genres")

    out1, out2 = tmp_path / "m1.jsonl", tmp_path / "m2.jsonl"
    kwargs = dict(CHECKS, columns=columns, val_fraction=1 / 3, test_fraction=1 / 3, seed=7)
    import_source(src, out1, **kwargs)
    import_source(src, out2, **{**kwargs, "workers": 1})
    kept = {r.id: r for r in read_manifest(out1)}
    assert sorted(kept) == ["a", "b", "c"]
    assert kept["a"].tags == ["calm", "sine"] and kept["a"].attributes == {"bpm": 120}
    assert sorted(r.split for r in kept.values()) == ["test", "train", "val"]
    assert out1.read_text() == out2.read_text()  # seeded, and the same with one worker
    reasons = [r["reason"] for r in _rejects(out1)]
    assert reasons == [*BAD_AUDIO.values(), "empty_caption", "duplicate_id", "bad_json"]


def test_folder_with_sidecar_captions(audio, tmp_path):
    files = audio("songs")
    for name, path in files.items():
        if name != "missing.wav":
            path.with_suffix(".txt").write_text(f"caption of {name}\n")
    files["good3.wav"].with_suffix(".txt").unlink()  # no sidecar
    files["good1.wav"].with_suffix(".txt").write_text("   \n")  # blank sidecar
    (tmp_path / "songs" / "notes.txt").write_text("not a caption")
    out = tmp_path / "songs" / "manifest.jsonl"

    report = import_source(tmp_path / "songs", out, columns=ColumnMap(), **CHECKS)
    (row,) = read_manifest(out)
    assert row.caption == "caption of good2.flac"
    assert row.audio_path == "sub/good2.flac"
    assert row.id == stable_id(files["good2.flac"], tmp_path / "songs") and len(row.id) == 12
    by_path = {Path(r["path"]).name: r["reason"] for r in _rejects(out)}
    assert by_path == {"good1.wav": "empty_caption", "good3.wav": "no_caption", "corrupt.wav": "corrupt",
                       "empty.wav": "empty_file", "short.wav": "too_short", "silent.wav": "silent"}
    assert len(report.rejects) == 6


def test_folder_with_captions_jsonl_and_missing_file(audio, tmp_path):
    audio("lib")
    rows = [{"path": "good1.wav", "caption": "one"}, {"path": "good1.wav", "caption": "one, said again"},
            {"path": "missing.wav", "caption": "gone"}, {"path": "", "caption": "no path"}]
    (tmp_path / "lib" / "captions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "m.jsonl"
    import_source(tmp_path / "lib", out, columns=ColumnMap(), val_fraction=0.0, test_fraction=0.0, **CHECKS)
    kept = read_manifest(out)
    assert [r.caption for r in kept] == ["one", "one, said again"]
    assert kept[1].id == f"{kept[0].id}-2"  # two captions of one file: distinct stable ids, one split
    assert {r.split for r in kept} == {"train"}
    assert [(r["line"], r["reason"]) for r in _rejects(out)] == [(3, "missing_file"), (4, "no_path")]


def test_all_rows_bad_raises_and_keeps_old_manifest(audio, tmp_path):
    audio()
    src = _write_csv(tmp_path / "bad.csv", [{"path": "audio/silent.wav", "caption": "hush"},
                                            {"path": "audio/empty.wav", "caption": "nothing"}])
    out = tmp_path / "manifest.jsonl"
    out.write_text("previous\n")
    with pytest.raises(MuscallError, match="none of the 2 rows"):
        import_source(src, out, columns=ColumnMap(), **CHECKS)
    assert out.read_text() == "previous\n"
    assert [r["reason"] for r in _rejects(out)] == ["silent", "empty_file"]


@pytest.mark.parametrize("content, suffix, columns, message", [
    (None, ".csv", ColumnMap(), "does not exist"),
    ("path,caption\n", ".csv", ColumnMap(), "has no rows"),
    ("", ".jsonl", ColumnMap(), "has no rows"),
    ("{broken\n", ".jsonl", ColumnMap(), "no row could be read"),
    ("file,desc\na.wav,x\n", ".csv", ColumnMap(), "no path column"),
    ("path,caption\na.wav,x\n", ".csv", ColumnMap(caption="desc"), "no column 'desc'.*caption, path"),
    ("path,caption\na.wav,x\n", ".xlsx", ColumnMap(), "unsupported type"),
    (b"path,caption\n\xff\xfe.wav,x\n", ".csv", ColumnMap(), "not UTF-8"),
])
def test_wholly_bad_source_is_a_clear_error(tmp_path, content, suffix, columns, message):
    src = tmp_path / f"src{suffix}"
    if isinstance(content, bytes):
        src.write_bytes(content)
    elif content is not None:
        src.write_text(content)
    with pytest.raises(MuscallError, match=message):
        import_source(src, tmp_path / "m.jsonl", columns=columns, **CHECKS)
    assert not (tmp_path / "m.jsonl").exists()


def test_cli_uses_config_audio_section_and_options(tone, tmp_path, capsys):
    tone("a/long.wav", seconds=1.2)
    tone("a/mid.wav", seconds=0.7)
    src = _write_csv(tmp_path / "s.csv", [{"audio_path": "a/long.wav", "text": "long"},
                                          {"audio_path": "a/mid.wav", "text": "mid"}])
    out = tmp_path / "m.jsonl"
    argv = ["data", "import", str(src), "--out", str(out), "--workers", "1", "--no-progress"]
    assert main([*argv, "--config", "tiny"]) == 0  # tiny: audio.min_seconds 0.5
    assert sorted(r.caption for r in read_manifest(out)) == ["long", "mid"]
    assert "kept 2 rows" in capsys.readouterr().out
    assert main([*argv, "--config", "tiny", "--min-seconds", "1.0"]) == 0
    assert [r.caption for r in read_manifest(out)] == ["long"]
    assert "too_short: 1" in capsys.readouterr().out
    assert main(["data", "import", str(tmp_path / "nope.csv"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_seeded_splits_are_exact_per_file_and_follow_the_seed(tone, tmp_path):
    rows = []
    for i in range(20):
        tone(f"a/{i}.wav", seconds=1.0, freq=200.0 + 10 * i)
        rows += [{"path": f"a/{i}.wav", "caption": f"clip {i}"}, {"path": f"a/{i}.wav", "caption": f"clip {i} again"}]
    src = _write_csv(tmp_path / "s.csv", rows)

    def splits(seed: int, name: str) -> dict[str, str]:
        out = tmp_path / name
        import_source(src, out, columns=ColumnMap(), val_fraction=0.2, test_fraction=0.1, seed=seed, **CHECKS)
        return {r.caption: r.split for r in read_manifest(out)}

    first, again, other = splits(0, "a.jsonl"), splits(0, "b.jsonl"), splits(1, "c.jsonl")
    assert first == again and first != other
    per_file = {i: first[f"clip {i}"] for i in range(20)}
    assert all(first[f"clip {i} again"] == per_file[i] for i in range(20))  # captions of one file share a split
    assert sorted(per_file.values()).count("val") == 4 and list(per_file.values()).count("test") == 2
