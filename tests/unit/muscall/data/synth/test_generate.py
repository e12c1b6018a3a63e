"""Corpus generation: determinism across worker counts, layout, resume, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from muscall.cli.main import main
from muscall.data.manifest import SPLITS, read_manifest
from muscall.data.synth import format_summary, generate_corpus, summarize_corpus
from muscall.data.synth.clips import SynthSettings, split_for
from muscall.data.synth.styles import STYLES
from muscall.errors import MuscallError

SMALL = dict(n=6, seconds=3.0, seed=11, shard_size=2, progress=False)
ATTRIBUTES = ["genre", "bpm", "key", "mode", "meter", "dynamics", "progression", "instruments", "moods", "reverb",
              "loudness_db", "soundfont", "soundfont_heldout", "production"]


def audio_of(out: Path) -> dict[str, np.ndarray]:
    return {r.id: sf.read(out / r.audio_path, dtype="int16")[0] for r in read_manifest(out / "manifest.jsonl")}


@pytest.fixture(scope="module")
def serial(tmp_path_factory, soundfont) -> Path:
    out = tmp_path_factory.mktemp("serial") / "corpus"
    generate_corpus(out, workers=1, soundfont=soundfont, **SMALL)
    return out


def test_two_workers_give_the_same_corpus_as_one(serial, tmp_path, soundfont):
    out = tmp_path / "parallel"
    summary = generate_corpus(out, workers=2, soundfont=soundfont, **SMALL)
    assert summary.clips == 6 and summary.rendered == 6 and summary.workers == 2
    assert (out / "manifest.jsonl").read_bytes() == (serial / "manifest.jsonl").read_bytes()
    a, b = audio_of(serial), audio_of(out)
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_rows_are_complete_and_audio_is_sound(serial):
    rows = read_manifest(serial / "manifest.jsonl")
    assert [r.id for r in rows] == [f"synth11-{i:06d}" for i in range(6)]
    assert len({r.attributes["genre"] for r in rows}) == 6  # balanced: six different genres in six clips
    for row in rows:
        assert list(row.attributes) == ATTRIBUTES
        a = row.attributes
        assert a["genre"] in row.tags and set(a["moods"]) <= set(row.tags)
        assert {i["name"] for i in a["instruments"]} <= set(row.tags)
        assert {i["role"] for i in a["instruments"]} >= {"lead", "comp", "bass"}
        assert row.split in SPLITS and row.duration == 3.0
        assert len(row.all_captions()) == 5  # --captions default: differently worded, each naming the genre
        for caption in row.all_captions():
            assert any(s in caption.lower() for s in STYLES[a["genre"]].synonyms)
        x, sr = sf.read(serial / row.audio_path, dtype="float64")
        assert sr == 16000 and x.ndim == 1 and len(x) == 3 * 16000
        rms_db = 20 * np.log10(np.sqrt(np.mean(x ** 2)))
        assert -40 < rms_db < -10 and abs(rms_db - a["loudness_db"]) < 0.2
        assert np.abs(x).max() < 0.9
    assert len({r.caption for r in rows}) == 6


def test_extra_captions_leave_audio_and_first_caption_unchanged(serial, tmp_path, soundfont):
    out = tmp_path / "one"
    generate_corpus(out, workers=1, soundfont=soundfont, captions=1, **{**SMALL, "n": 2})
    one, five = read_manifest(out / "manifest.jsonl"), read_manifest(serial / "manifest.jsonl")[:2]
    assert [r.caption for r in one] == [r.caption for r in five] and all(not r.captions for r in one)
    a, b = audio_of(out), audio_of(serial)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_labels_and_corpus_metadata(serial):
    labels = json.loads((serial / "labels.json").read_text())
    rows = read_manifest(serial / "manifest.jsonl")
    assert labels["genres"] == list(STYLES)
    assert set(labels["instruments"]) == {i["name"] for r in rows for i in r.attributes["instruments"]}
    assert set(labels["moods"]) == {m for r in rows for m in r.attributes["moods"]}
    meta = json.loads((serial / "corpus.json").read_text())
    assert meta["format_version"] == 1 and meta["seed"] == 11 and meta["counts"]["clips"] == 6
    assert meta["settings"]["seconds"] == 3.0 and meta["settings"]["shard_size"] == 2
    summary = summarize_corpus(serial)
    assert summary.clips == 6 and summary.total_seconds == 18.0 and summary.missing_audio == 0
    assert sum(summary.per_split.values()) == 6
    text = format_summary(summary)
    assert "6 clips" in text and "total" in text and str(summary) == text


def test_resume_redoes_only_the_lost_shard(serial, tmp_path, soundfont):
    out = tmp_path / "resume"
    generate_corpus(out, workers=1, soundfont=soundfont, **SMALL)
    before = {p.name: p.stat().st_mtime_ns for p in (out / "audio").iterdir()}
    (out / "parts" / "shard-00001.jsonl").unlink()  # the crash: shard 1 never committed
    (out / "manifest.jsonl").unlink()
    summary = generate_corpus(out, workers=1, soundfont=soundfont, **SMALL)
    assert (summary.rendered, summary.reused) == (2, 4)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "audio").iterdir()}
    redone = sorted(k for k in after if after[k] != before[k])
    assert redone == ["synth11-000002.flac", "synth11-000003.flac"]
    assert (out / "manifest.jsonl").read_bytes() == (serial / "manifest.jsonl").read_bytes()
    again = generate_corpus(out, workers=1, soundfont=soundfont, **SMALL)  # complete: nothing to render
    assert (again.rendered, again.reused) == (0, 6)


def test_resume_with_other_settings_is_refused(serial, soundfont):
    with pytest.raises(MuscallError, match="started with seed=11, not 12"):
        generate_corpus(serial, workers=1, soundfont=soundfont, **{**SMALL, "seed": 12})


def test_foreign_folder_and_bad_arguments_are_refused(tmp_path, soundfont):
    (tmp_path / "x.txt").write_text("mine")
    with pytest.raises(MuscallError, match="not empty"):
        generate_corpus(tmp_path, workers=1, soundfont=soundfont, **SMALL)
    with pytest.raises(MuscallError, match="three non-negative fractions"):
        generate_corpus(tmp_path / "a", soundfont=soundfont, splits=(0.5, 0.1, 0.1), **SMALL)
    with pytest.raises(MuscallError, match="unknown genre"):
        generate_corpus(tmp_path / "b", soundfont=soundfont, genres=["rock", "polka"], **SMALL)
    with pytest.raises(MuscallError, match="no manifest.jsonl"):
        summarize_corpus(tmp_path)


def test_splits_are_seeded_per_clip_and_follow_the_fractions():
    fr = (0.8, 0.1, 0.1)
    splits = [split_for(i, 0, fr) for i in range(3000)]
    assert splits == [split_for(i, 0, fr) for i in range(3000)]
    assert 0.77 < splits.count("train") / 3000 < 0.83 and 0.08 < splits.count("test") / 3000 < 0.12
    assert set(split_for(i, 0, (0.0, 0.0, 1.0)) for i in range(50)) == {"test"}
    assert SynthSettings(n=10, shard_size=4).n_shards == 3


def test_cli_generates_and_prints_a_summary(tmp_path, soundfont, capsys):
    out = tmp_path / "cli"
    code = main(["data", "synth", "--out", str(out), "--n", "3", "--seconds", "2", "--workers", "1",
                 "--genres", "techno,ambient", "--no-progress", "--soundfont", soundfont, "--format", "wav"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "3 clips" in printed and "techno" in printed and "ambient" in printed and "clips/s" in printed
    assert len(list((out / "audio").glob("*.wav"))) == 3


def test_cli_reports_a_missing_soundfont(tmp_path, capsys):
    code = main(["data", "synth", "--out", str(tmp_path / "o"), "--n", "2", "--soundfont", str(tmp_path / "no.sf2")])
    assert code == 2
    err = capsys.readouterr().err
    assert "no.sf2" in err and "make system-deps" in err and "apt-get install fluid-soundfont-gm" in err


HOLDOUT = dict(n=16, seconds=1.0, seed=4, shard_size=4, splits=(0.5, 0.2, 0.3), holdout_soundfont="b",
               holdout_wording=True, progress=False)


@pytest.fixture(scope="module")
def two_fonts(soundfont) -> list[str]:
    """Two soundfont names over the one installed sf2 (fast to load; what matters here is the bookkeeping)."""
    return [f"a={soundfont}", f"b={soundfont}"]


@pytest.fixture(scope="module")
def held_out(tmp_path_factory, two_fonts) -> Path:
    out = tmp_path_factory.mktemp("holdout") / "corpus"
    generate_corpus(out, workers=1, soundfont=two_fonts, **HOLDOUT)
    return out


def test_held_out_soundfont_renders_only_test_clips(held_out):
    rows = read_manifest(held_out / "manifest.jsonl")
    for row in rows:
        assert row.attributes["soundfont"] in ("a", "b")
        assert row.attributes["soundfont_heldout"] == (row.attributes["soundfont"] == "b")
        if row.split != "test":
            assert row.attributes["soundfont"] == "a"
    assert {r.attributes["soundfont"] for r in rows if r.split == "test"} == {"a", "b"}  # seen and unseen sound
    meta = json.loads((held_out / "corpus.json").read_text())
    assert meta["holdout_soundfont"] == "b" and meta["production"] == "default"
    table = {t["name"]: t for t in meta["soundfonts"]}
    assert table["b"]["heldout"] and set(table["b"]["clips"]) == {"test"}
    assert not table["a"]["heldout"] and table["a"]["package"] == "fluid-soundfont-gm"
    assert sum(sum(t["clips"].values()) for t in table.values()) == 16
    summary = summarize_corpus(held_out)
    assert summary.holdout_soundfont == "b" and summary.per_soundfont_split["b"]["train"] == 0
    assert "b (held out)" in format_summary(summary)


def test_held_out_wording_describes_only_test_clips_and_never_leaks(held_out):
    from muscall.data.synth.heldout_words import vocabulary
    rows = read_manifest(held_out / "manifest.jsonl")
    for row in rows:
        extra = {"heldout_caption", "short_query"} & set(row.attributes)
        assert extra == ({"heldout_caption", "short_query"} if row.split == "test" else set())
    seen = " | ".join(c.lower() for r in rows for c in r.all_captions() if r.split != "test")
    assert not [p for p in vocabulary() if re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", seen)]
    assert json.loads((held_out / "corpus.json").read_text())["settings"]["holdout_wording"] is True


def test_soundfont_choice_is_the_same_with_two_workers(held_out, tmp_path, two_fonts):
    out = tmp_path / "parallel"
    generate_corpus(out, workers=2, soundfont=",".join(two_fonts), **HOLDOUT)
    assert (out / "manifest.jsonl").read_bytes() == (held_out / "manifest.jsonl").read_bytes()
    a, b = audio_of(held_out), audio_of(out)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_checks_the_sound_settings(held_out, two_fonts, soundfont):
    with pytest.raises(MuscallError, match="started with production='default', not 'none'"):
        generate_corpus(held_out, workers=1, soundfont=two_fonts, **{**HOLDOUT, "production": "none"})
    with pytest.raises(MuscallError, match="started with holdout_soundfont='b', not ''"):
        generate_corpus(held_out, workers=1, soundfont=two_fonts, **{**HOLDOUT, "holdout_soundfont": ""})
    with pytest.raises(MuscallError, match="started with soundfonts="):
        generate_corpus(held_out, workers=1, soundfont=[f"c={soundfont}", f"b={soundfont}"], **HOLDOUT)


def test_bad_sound_options_are_refused(tmp_path, two_fonts):
    with pytest.raises(MuscallError, match="--holdout-soundfont z: not one of"):
        generate_corpus(tmp_path / "a", workers=1, soundfont=two_fonts, **{**HOLDOUT, "holdout_soundfont": "z"})
    with pytest.raises(MuscallError, match="--production loud: choose one of default, none"):
        generate_corpus(tmp_path / "b", workers=1, soundfont=two_fonts, **{**HOLDOUT, "production": "loud"})


def test_cli_takes_soundfonts_holdout_and_production(tmp_path, soundfont):
    out = tmp_path / "cli"
    code = main(["data", "synth", "--out", str(out), "--n", "4", "--seconds", "1", "--workers", "1", "--no-progress",
                 "--soundfont", f"a={soundfont}", "--soundfont", f"b={soundfont}", "--holdout-soundfont", "b",
                 "--splits", "0,0,1", "--production", "none", "--holdout-wording"])
    assert code == 0
    rows = read_manifest(out / "manifest.jsonl")
    assert all(r.attributes["short_query"] and r.attributes["heldout_caption"] for r in rows)
    assert {r.attributes["production"]["preset"] for r in rows} == {"none"}
    settings = json.loads((out / "parts" / "settings.json").read_text())
    assert settings["soundfonts"] == [f"a={soundfont}", f"b={soundfont}"] and settings["holdout_soundfont"] == "b"
