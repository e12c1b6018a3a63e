"""muscall.data.quality_readers: MusicEval, Audiobox-Aesthetics and generic rating files; split_by; errors."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from muscall.data.manifest import ClipRow
from muscall.data.quality_readers import (QualityDataError, read_aesthetics, read_generic_csv, read_musiceval,
                                          read_system_scores, split_by)
from muscall.errors import MuscallError

FIXTURES = Path(__file__).parent / "fixtures"
MUSICEVAL = FIXTURES / "musiceval"
PROMPTS = [MUSICEVAL / "prompt_info.txt", MUSICEVAL / "demo_prompt_info.txt"]


def test_musiceval_list_without_header_with_prompts_and_demo_prompts():
    rows = read_musiceval(MUSICEVAL / "sets" / "train_mos_list.txt", PROMPTS, audio_dir=MUSICEVAL / "wav")
    assert [(r.system, r.attributes["prompt_id"], r.ratings) for r in rows] == [
        ("S002", "P001", {"MI": 3.5, "TA": 4.0}), ("S002", "P002", {"MI": 2.25, "TA": 3.75}),
        ("S003", "P001", {"MI": 4.125, "TA": 2.5}), ("S001", "P007", {"MI": 1.5, "TA": 1.0})]
    assert rows[0].id == "audiomos2025-track1-S002_P001" and rows[0].split == "train"
    assert rows[0].caption == "A calm piano piece with soft strings."
    assert rows[3].caption == "A demo prompt: jazz trio, brushed drums."  # keyed by the whole file name
    assert Path(rows[0].audio_path) == (MUSICEVAL / "wav" / "audiomos2025-track1-S002_P001.wav").resolve()
    assert Path(rows[0].audio_path).is_absolute()


def test_musiceval_list_with_header_maps_long_axis_names():
    rows = read_musiceval(MUSICEVAL / "sets" / "dev_mos_list.txt", MUSICEVAL / "prompt_info.txt", split="val")
    assert len(rows) == 1 and rows[0].ratings == {"MI": 3.0, "TA": 3.25} and rows[0].split == "val"
    assert rows[0].system == "S003" and rows[0].caption.startswith("Upbeat techno")


def test_musiceval_audio_dir_defaults_to_a_wav_folder_beside_the_sets(tmp_path):
    (tmp_path / "sets").mkdir()
    (tmp_path / "wav").mkdir()
    (tmp_path / "sets" / "l.txt").write_text("x-S1_P1.wav,3,4\n")
    (row,) = read_musiceval(tmp_path / "sets" / "l.txt")
    assert Path(row.audio_path) == (tmp_path / "wav" / "x-S1_P1.wav").resolve() and row.caption == ""
    with pytest.raises(MuscallError, match="1 audio files not found"):
        read_musiceval(tmp_path / "sets" / "l.txt", check_audio=True)


def test_system_scores_csv():
    assert read_system_scores(MUSICEVAL / "system_mos.csv") == {
        "S001": {"MI": 1.5, "TA": 1.0}, "S002": {"MI": 2.875, "TA": 3.875}, "S003": {"MI": 3.5625, "TA": 2.875}}


def test_aesthetics_csv_with_long_axis_names():
    rows = read_aesthetics(FIXTURES / "aesthetics.csv")
    assert [r.id for r in rows] == ["nat_001", "nat_002"]
    assert rows[0].ratings == {"PQ": 7.5, "PC": 3.0, "CE": 6.25, "CU": 7.0}
    assert Path(rows[1].audio_path) == (FIXTURES / "audio" / "b.flac").resolve()
    assert rows[0].system is None and rows[0].caption == ""


def test_aesthetics_jsonl_with_prompt_system_and_rating_lists():
    rows = read_aesthetics(FIXTURES / "aesthetics.jsonl", audio_dir="/data/aes")
    assert [(r.id, r.system, r.caption) for r in rows] == [("c", "tta1", "birdsong at dawn"), ("d", "tta2", "")]
    assert rows[1].ratings == {"PQ": 7.0, "PC": 2.0, "CE": 5.0, "CU": 4.5}  # lists of ratings are averaged
    assert rows[0].audio_path == str(Path("/data/aes/audio/c.wav").resolve())


def test_generic_csv_detects_numeric_axes_or_takes_a_mapping():
    rows = read_generic_csv(FIXTURES / "generic.csv")
    assert [(r.id, r.system, r.caption) for r in rows][:2] == [("x1", "sysA", "a sad violin solo"),
                                                               ("x2", "sysB", "a sad violin solo")]
    assert rows[0].ratings == {"quality": 3.5, "alignment": 4.0}  # 'notes' is not numeric: not an axis
    mapped = read_generic_csv(FIXTURES / "generic.csv", axes={"MI": "quality", "TA": "alignment"})
    assert mapped[3].ratings == {"MI": 1.5, "TA": 1.0}
    only = read_generic_csv(FIXTURES / "generic.csv", axes=["quality"], system_col=None)
    assert only[0].ratings == {"quality": 3.5} and only[0].system is None


def _rows(n_systems: int = 6, n_prompts: int = 5) -> list[ClipRow]:
    return [ClipRow(f"s{s}_p{p}", f"{s}_{p}.wav", f"prompt {p}", system=f"s{s}", attributes={"prompt_id": f"p{p}"},
                    ratings={"MI": 3.0}) for s in range(n_systems) for p in range(n_prompts)]


@pytest.mark.parametrize("by,key", [("system", lambda r: r.system), ("prompt", lambda r: r.attributes["prompt_id"])])
def test_split_by_never_puts_one_group_in_two_splits(by, key):
    for seed in range(5):
        rows = split_by(_rows(), by=by, fractions=(0.6, 0.2, 0.2), seed=seed)
        assert sorted(r.id for r in rows) == sorted(r.id for r in _rows())
        splits = defaultdict(set)
        for row in rows:
            splits[key(row)].add(row.split)
        assert all(len(s) == 1 for s in splits.values())
        assert {r.split for r in rows} == {"train", "val", "test"}
    assert [r.split for r in split_by(_rows(), by=by, seed=1)] == [r.split for r in split_by(_rows(), by=by, seed=1)]


def test_split_by_refuses_both_and_rows_without_a_key():
    for by in ("both", ["system", "prompt"], "system+prompt"):
        with pytest.raises(QualityDataError, match="not both"):
            split_by(_rows(), by=by)
    with pytest.raises(QualityDataError, match="row 'a' has no system"):
        split_by([ClipRow("a", "a.wav", "x")], by="system")
    with pytest.raises(QualityDataError, match="summing to 1"):
        split_by(_rows(), fractions=(0.5, 0.1, 0.1))


def test_missing_file_errors_name_the_file(tmp_path):
    with pytest.raises(MuscallError, match=r"MusicEval list file '.*nope.txt' does not exist"):
        read_musiceval(tmp_path / "nope.txt")
    with pytest.raises(MuscallError, match=r"prompt file '.*gone.tsv' does not exist"):
        read_musiceval(MUSICEVAL / "sets" / "train_mos_list.txt", tmp_path / "gone.tsv")
    with pytest.raises(MuscallError, match="does not exist"):
        read_aesthetics(tmp_path / "a.csv")


def test_missing_column_errors_name_it_and_list_the_columns(tmp_path):
    bad = tmp_path / "r.csv"
    bad.write_text("file_name,score\na.wav,3\n")
    with pytest.raises(MuscallError, match=r"no column 'path' \(columns found: file_name, score\)"):
        read_generic_csv(bad)
    with pytest.raises(MuscallError, match=r"no audio path column .*columns found: file_name, score"):
        read_aesthetics(bad)
    with pytest.raises(MuscallError, match=r"no column 'MOS' \(columns found: path, prompt"):
        read_generic_csv(FIXTURES / "generic.csv", axes=["MOS"])


def test_non_numeric_ratings_name_file_and_line(tmp_path):
    bad = tmp_path / "r.csv"
    bad.write_text("path,system,MI\na.wav,s1,3.5\nb.wav,s1,good\n")
    with pytest.raises(MuscallError, match=r"r.csv:3: rating 'good' in column 'MI' is not a number"):
        read_generic_csv(bad, axes=["MI"])
    listing = tmp_path / "l.txt"
    listing.write_text("x-S1_P1.wav,3,4\nx-S1_P2.wav,3,n/a\n")
    with pytest.raises(MuscallError, match=r"l.txt:2: rating 'n/a' in column 'TA' is not a number"):
        read_musiceval(listing)
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"path": "a.wav", "PQ": 5}\n{"path": "b.wav", "PQ": null}\n')
    with pytest.raises(MuscallError, match=r"a.jsonl:2: no rating in column 'PQ'"):
        read_aesthetics(jsonl)


def test_other_malformed_inputs(tmp_path):
    listing = tmp_path / "l.txt"
    listing.write_text("song.wav,3,4\n")
    with pytest.raises(MuscallError, match=r"l.txt:1: cannot find system and prompt ids in 'song.wav'"):
        read_musiceval(listing)
    listing.write_text("x-S1_P9.wav,3,4\n")
    with pytest.raises(MuscallError, match="no prompt for 'x-S1_P9.wav'"):
        read_musiceval(listing, MUSICEVAL / "prompt_info.txt")
    split = tmp_path / "s.csv"
    split.write_text("path,MI,split\na.wav,3,holdout\n")
    with pytest.raises(MuscallError, match=r"s.csv:2: split 'holdout'"):
        read_generic_csv(split)
