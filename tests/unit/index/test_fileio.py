"""index.fileio: atomic writes, folder replacement and the one versioned-JSON reader."""

from __future__ import annotations

import json

import pytest

from index import CatalogError
from index.fileio import atomic_write_json, read_versioned_json, replace_dir, sha256_file, write_content_addressed


def _read(path, **kw):
    return read_versioned_json(path, version=2, fmt="demo", what="demo folder", fix="rebuild it",
                               missing_fix="make one", error=CatalogError, **kw)


def test_atomic_json_round_trip_leaves_no_temp_files(tmp_path):
    atomic_write_json(tmp_path / "sub" / "a.json", {"format": "demo", "format_version": 2, "x": [1, 2]})
    assert _read(tmp_path / "sub" / "a.json")["x"] == [1, 2]
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.json"]


@pytest.mark.parametrize("text, needle", [
    (None, "no a.json, so no demo folder there; make one"),
    ("{bad", "not valid JSON"),
    ("[1]", "not an object"),
    ('{"format": "other", "format_version": 1}', "format is 'other', expected 'demo'; rebuild it"),
    ('{"format": "demo", "format_version": 3}', "format version 3 is not supported"),
    ('{"format": "demo"}', "format version None"),
    ('{"format": "demo", "format_version": true}', "format version True"),
])
def test_versioned_json_names_the_file_and_the_fix(tmp_path, text, needle):
    path = tmp_path / "a.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(CatalogError, match=needle):
        _read(path)


def test_version_key_can_be_named(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"format": "demo", "version": 1}))
    assert _read(tmp_path / "a.json", version_key="version")["version"] == 1


def test_content_addressed_name_carries_the_digest(tmp_path):
    name, digest, size = write_content_addressed(tmp_path, "blob", ".bin", lambda p: p.write_bytes(b"abc"))
    assert name == f"blob.{digest[:16]}.bin" and size == 3 and sha256_file(tmp_path / name) == digest


def test_replace_dir_swaps_folders_and_recovers_an_interrupted_swap(tmp_path):
    live, new = tmp_path / "live", tmp_path / "new"
    live.mkdir(), new.mkdir()
    (live / "v").write_text("1"), (new / "v").write_text("2")
    replace_dir(new, live)
    assert (live / "v").read_text() == "2" and not (tmp_path / "live.old").exists()
    live.rename(tmp_path / "live.old")  # a crash between the two renames left only .old
    again = tmp_path / "again"
    again.mkdir()
    (again / "v").write_text("3")
    replace_dir(again, live)
    assert (live / "v").read_text() == "3" and not (tmp_path / "live.old").exists()
