"""muscall.data.manifest: our keys strict in type, a source's unknown keys kept in ``extra`` with one warning."""

from __future__ import annotations

import json
import logging

import pytest

import muscall.data.manifest as manifest
from muscall.catalog.reader import load_inputs
from muscall.data.manifest import ClipRow, read_manifest, write_manifest
from muscall.errors import MuscallError


def test_unknown_fields_are_kept_written_back_and_warned_once(tmp_path, tone, caplog, monkeypatch):
    monkeypatch.setattr(manifest, "_warned_unknown", False)
    tone("a.wav", seconds=1.0)
    rows = [{"id": "a", "audio_path": "a.wav", "caption": "c", "ytid": "xyz", "license": {"name": "cc-by"}},
            {"id": "b", "audio_path": "a.wav", "caption": "d", "ytid": "uvw"}]
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with caplog.at_level(logging.WARNING, logger="muscall.data.manifest"):
        read = read_manifest(path)
        read_manifest(path)
    assert read[0].extra == {"ytid": "xyz", "license": {"name": "cc-by"}} and read[1].extra == {"ytid": "uvw"}
    assert len([r for r in caplog.records if "unknown field" in r.getMessage()]) == 1
    write_manifest(tmp_path / "n.jsonl", read)
    assert json.loads((tmp_path / "n.jsonl").read_text().splitlines()[0]) == {**rows[0], "split": "train"}
    assert load_inputs(path)[0].attributes["extra"] == {"ytid": "xyz", "license": {"name": "cc-by"}}


@pytest.mark.parametrize("key,value,expected", [("tags", "rock", "list"), ("duration", "3s", "int or float"),
                                                ("caption", 5, "str"), ("ratings", [1], "dict")])
def test_our_own_fields_keep_their_types(key, value, expected):
    data = {"id": "a", "audio_path": "a.wav", "caption": "c", key: value}
    with pytest.raises(MuscallError, match=f"field '{key}' is a .*expected {expected}"):
        ClipRow.from_dict(data, "m.jsonl:1: ")
