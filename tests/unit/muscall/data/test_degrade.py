"""muscall.data.degrade and ``muscall data degrade``: graded audio, pseudo MI / TA labels, splits, resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from muscall.cli.main import main
from muscall.data.degrade import (TYPES, Facts, Vocabulary, apply_system, build_systems, caption_variants,
                                  default_types, degrade_corpus, select_clips, select_rows, ta_for)
from muscall.data.degrade.codecs import align, available_codecs, fit_length
from muscall.data.degrade.systems import CLEAN_SEVERITY, JITTER, quality_of
from muscall.data.manifest import ClipRow, read_manifest, write_manifest
from muscall.errors import MuscallError

SR = 16000
SYSTEMS = {s.id: s for s in build_systems(default_types())}
ATTRS = {"genre": "bossa_nova", "bpm": 132, "key": "E", "mode": "minor", "meter": "4/4",
         "instruments": [{"role": "lead", "program": 65, "name": "saxophone"},
                         {"role": "comp", "program": 24, "name": "acoustic guitar"},
                         {"role": "bass", "program": 32, "name": "acoustic bass"},
                         {"role": "drums", "program": 0, "name": "drums"}],
         "moods": ["romantic", "gentle"]}
FAST_TYPES = ["white", "clip", "lowpass", "mp3", "dropout"]


def _levels(kind: str):
    return sorted((s for s in SYSTEMS.values() if s.type == kind), key=lambda s: s.level)


def _music(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    x = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3000 * t) + 0.03 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def _si_snr(y: np.ndarray, x: np.ndarray) -> float:
    """Scale-invariant SNR of ``y`` against the clean ``x`` (dB)."""
    a = float(np.dot(y, x) / np.dot(x, x))
    return float(10 * np.log10(np.sum((a * x) ** 2) / np.sum((y - a * x) ** 2)))


def _degrade(system_id: str, x: np.ndarray, seed: int = 1) -> np.ndarray:
    return apply_system(SYSTEMS[system_id], x, SR, np.random.default_rng(seed))


# --- signal degradations -------------------------------------------------------------------------------------

def test_every_system_is_deterministic_and_keeps_length():
    x = _music(1.0)
    for sid in SYSTEMS:
        y = _degrade(sid, x)
        assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y)), sid
        assert np.array_equal(y, _degrade(sid, x)), f"{sid} differs for the same seed"
    assert not np.array_equal(_degrade("white_snr10", x, 1), _degrade("white_snr10", x, 2))


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_noise_hits_the_target_snr_and_snr_falls_with_level(kind):
    x = _music()
    snrs = [_si_snr(_degrade(s.id, x), x) for s in _levels(kind)]
    targets = [s.value for s in _levels(kind)]
    assert np.allclose(snrs, targets, atol=0.5), snrs
    assert all(a > b for a, b in zip(snrs, snrs[1:]))


def test_clipping_flattens_a_growing_fraction_of_samples_at_the_threshold():
    x = _music()
    fractions = []
    for s in _levels("clip"):
        y = _degrade(s.id, x)
        fractions.append(float(np.mean(np.abs(y) >= np.max(np.abs(y)) * (1 - 1e-4))))
        assert fractions[-1] == pytest.approx(s.value, abs=0.005)
    assert all(a < b for a, b in zip(fractions, fractions[1:]))
    assert np.mean(np.abs(x) >= np.max(np.abs(x)) * (1 - 1e-4)) < 0.001


def test_low_pass_removes_energy_above_the_cutoff():
    x = np.random.default_rng(3).standard_normal(2 * SR).astype(np.float32) * 0.1
    freqs, p_in = signal.welch(x, SR, nperseg=1024)
    for s in _levels("lowpass"):
        _, p_out = signal.welch(_degrade(s.id, x), SR, nperseg=1024)
        above, below = freqs > 1.25 * s.value, freqs < 0.8 * s.value
        assert p_out[above].sum() < 1e-4 * p_in[above].sum(), s.id
        assert p_out[below].sum() > 0.5 * p_in[below].sum(), s.id  # the pass band is kept (level matched)


@pytest.mark.parametrize("codec", available_codecs())
def test_lossy_codecs_round_trip_aligned_to_the_same_length_and_worsen_with_level(codec):
    x = _music()
    snrs = []
    for s in _levels(codec):
        y = _degrade(s.id, x)
        assert y.shape == x.shape
        snrs.append(_si_snr(y, x))
    assert snrs[0] > 10, f"{codec} level 1 is misaligned or broken: {snrs}"  # a delay would give ~0 dB
    assert all(a > b - 0.5 for a, b in zip(snrs, snrs[1:])) and snrs[0] > snrs[-1] + 3, snrs


def test_decoder_delay_is_found_and_removed():
    x = _music(1.0)
    late = np.concatenate([np.zeros(1105, dtype=np.float32), x, np.zeros(559, dtype=np.float32)])
    assert np.array_equal(fit_length(align(late, x), x.size), x)
    assert np.array_equal(fit_length(align(x[:-10], x), x.size)[:-10], x[:-10])  # shorter: only padded


def test_codecs_this_libsndfile_lacks_are_left_out():
    assert set(available_codecs()) <= {"mp3", "vorbis", "opus"}
    assert [t for t in default_types() if t in ("mp3", "vorbis", "opus")] == available_codecs()


def test_dropouts_silence_the_requested_fraction():
    x = _music() + 0.5  # no sample is zero before
    zeros = [float(np.mean(_degrade(s.id, x) == 0)) for s in _levels("dropout")]
    assert zeros == pytest.approx([s.value for s in _levels("dropout")], abs=1e-3)


def test_wow_flutter_bends_pitch_slightly_and_keeps_length():
    t = np.arange(2 * SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    deviations = []
    for s in [SYSTEMS["clean"], *_levels("wow")]:
        y = _degrade(s.id, tone, seed=2)
        assert y.shape == tone.shape
        freq = np.diff(np.unwrap(np.angle(signal.hilbert(y)))) * SR / (2 * np.pi)
        freq = np.convolve(freq, np.ones(160) / 160, mode="valid")[400:-400]  # 10 ms average, no edges
        deviations.append(float(np.max(np.abs(freq / 1000 - 1))))
    assert deviations[0] < 1e-3
    for s, dev in zip(_levels("wow"), deviations[1:]):
        assert 0.5 * s.value < dev < 2 * s.value, (s.id, dev)


# --- pseudo labels ------------------------------------------------------------------------------------------

def test_pseudo_quality_falls_with_level_and_jitter_cannot_reorder_levels():
    clean = SYSTEMS["clean"].quality
    assert 4.5 <= clean <= 5.0 and SYSTEMS["clean"].severity == CLEAN_SEVERITY
    for kind, table in TYPES.items():  # every type, made here or not
        qualities = [clean] + [quality_of(severity) for severity in table.severities]
        gaps = np.diff(qualities)
        assert np.all(gaps < -2 * JITTER), (kind, qualities)
        assert min(qualities) >= 1.0


def test_similar_severities_get_similar_quality_across_types():
    worst = [_levels(k)[-1].quality for k in ("white", "pink", "clip", "dropout", "wow")]
    assert max(worst) - min(worst) < 0.5


def test_caption_variants_change_exactly_the_requested_facts():
    vocab = Vocabulary.from_rows([])
    for seed in range(20):
        variants = caption_variants(ATTRS, "orig", vocab, np.random.default_rng(seed))
        true = variants[0]
        assert true.changed == [] and true.ta == 5.0
        assert [len(v.changed) for v in variants] == [0, 1, 2, 5]
        assert [v.ta for v in variants] == [5.0, 3.7, 2.4, 1.0]
        assert len({v.caption for v in variants}) == 4
        for v in variants[1:]:
            differ = [k for k in ("genre", "instruments", "tempo", "moods", "key") if
                      getattr(v.facts, k) != getattr(true.facts, k)]
            assert sorted(differ) == sorted({"instrument": "instruments", "mood": "moods"}.get(k, k)
                                            for k in v.changed), (v.changed, differ)
        assert "bossa nova" in true.caption and "E minor" in true.caption
        all_wrong = variants[-1].facts
        assert all_wrong.genre != "bossa nova" and not set(all_wrong.instruments) & {"saxophone", "drums",
                                                                                         "acoustic guitar",
                                                                                         "acoustic bass"}


def test_caption_variants_are_deterministic_and_fall_back_without_facts():
    vocab = Vocabulary.from_rows([])
    a = caption_variants(ATTRS, "x", vocab, np.random.default_rng(5))
    assert [v.caption for v in a] == [v.caption for v in caption_variants(ATTRS, "x", vocab, np.random.default_rng(5))]
    bare = caption_variants({}, "my caption", vocab, np.random.default_rng(0), other_caption="another clip")
    assert [(v.caption, v.changed, v.ta) for v in bare] == [("my caption", [], 5.0),
                                                            ("another clip", ["caption"], 1.0)]
    assert Facts.from_attributes({"genre": "rock"}).kinds() == ["genre"]
    for seed in range(12):  # a changed key: other tonic, other mode, not the relative key; flats understood
        for v in caption_variants(dict(ATTRS, key="Bb", mode="minor"), "x", vocab, np.random.default_rng(seed)):
            if "key" in v.changed:
                assert v.facts.mode == "major" and v.facts.key not in ("Bb", "A#", "Db", "C#"), v.facts
    assert ta_for(0, 5) > ta_for(1, 5) > ta_for(2, 5) > ta_for(5, 5) == 1.0


# --- the corpus pipeline ------------------------------------------------------------------------------------

@pytest.fixture
def corpus(tone, tmp_path) -> Path:
    """Six 1-second tone clips with synth-style attributes, splits train x3, val, test x2."""
    rows = []
    for i, split in enumerate(["train", "train", "val", "test", "train", "test"]):
        tone(f"corpus/audio/c{i}.flac", seconds=1.0, freq=220.0 * (i + 1))
        attrs = dict(ATTRS, genre=["rock", "jazz", "techno", "ambient"][i % 4], bpm=70 + 20 * i)
        rows.append(ClipRow(f"c{i}", f"audio/c{i}.flac", f"caption {i}", split=split, tags=["tone"],
                            attributes=attrs))
    write_manifest(tmp_path / "corpus" / "manifest.jsonl", rows)
    return tmp_path / "corpus"


def _run(corpus: Path, out: Path, **kwargs) -> list[ClipRow]:
    options = dict(clips=4, seed=3, workers=1, types=FAST_TYPES, shard_size=2, progress=False)
    degrade_corpus(corpus, out, **{**options, **kwargs})
    return read_manifest(out / "manifest.jsonl")


def test_degrade_corpus_writes_rows_labels_systems_and_keeps_splits(corpus, tmp_path):
    everything = _run(corpus, tmp_path / "q")
    rows = [r for r in everything if not r.attributes.get("ta_only")]
    source = {r.id: r for r in read_manifest(corpus / "manifest.jsonl")}
    systems = json.loads((tmp_path / "q" / "systems.json").read_text())
    assert len(systems) == 1 + 4 * len(FAST_TYPES) and systems["clean"]["level_split"] == "both"
    assert len(rows) == 4 * len(systems) and len({r.id for r in everything}) == len(everything)
    assert {r.attributes["source_id"] for r in rows if r.split == "test"}, "the test split is represented"
    for row in rows:
        src = source[row.attributes["source_id"]]
        assert row.split == src.split and row.system in systems
        assert set(row.ratings) == {"MI", "TA"} and 1 <= row.ratings["MI"] <= 5
        assert abs(row.ratings["MI"] - systems[row.system]["quality"]) <= JITTER + 1e-6
        audio, rate = sf.read(tmp_path / "q" / row.audio_path)
        assert rate == SR and audio.shape == (SR,)
    for sid in {r.attributes["source_id"] for r in rows}:  # monotone per clip, every caption variant used
        mine = [r for r in rows if r.attributes["source_id"] == sid]
        assert {r.attributes["caption_variant"] for r in mine} == {0, 1, 2, 3}
        for kind in FAST_TYPES:
            mi = [r.ratings["MI"] for r in sorted(mine, key=lambda r: r.attributes["level"])
                  if r.attributes["degradation"] in (kind, "clean")]
            assert mi == sorted(mi, reverse=True)
    _check_clean_variant_rows(everything)


def _check_clean_variant_rows(everything: list[ClipRow]) -> None:
    """TA-only rows: the clean audio with each other caption variant; TA alone; every variant once on clean audio."""
    extra = [r for r in everything if r.attributes.get("ta_only")]
    clean = {r.attributes["source_id"]: r for r in everything if r.system == "clean" and not r.attributes.get("ta_only")}
    assert extra and len(extra) == 3 * len(clean)  # these clips state facts: 4 variants each
    for row in extra:
        own = clean[row.attributes["source_id"]]
        assert row.audio_path == own.audio_path and row.system == "clean" and set(row.ratings) == {"TA"}
        assert row.attributes["level_split"] == "both" and row.split == own.split
        assert row.ratings["TA"] == ta_for(len(row.attributes["changed"]), 5)
    for sid, own in clean.items():
        variants = [own.attributes["caption_variant"]] + [r.attributes["caption_variant"] for r in extra
                                                           if r.attributes["source_id"] == sid]
        assert sorted(variants) == [0, 1, 2, 3]


def test_seconds_keeps_the_start_and_no_clean_variants_leaves_them_out(corpus, tmp_path):
    rows = _run(corpus, tmp_path / "q", types=["white"], seconds=0.5, clean_variants=False)
    assert rows and not any(r.attributes.get("ta_only") for r in rows)
    source, rate = sf.read(corpus / "audio" / "c0.flac")
    clean = next(r for r in rows if r.attributes["source_id"] == "c0" and r.system == "clean")
    audio, _ = sf.read(tmp_path / "q" / clean.audio_path)
    assert audio.shape == (SR // 2,) and np.allclose(audio, source[: SR // 2], atol=1e-4)
    with pytest.raises(MuscallError, match="--seconds"):
        _run(corpus, tmp_path / "bad", seconds=-1.0)


def test_level_split_marks_held_out_levels_and_types(corpus, tmp_path):
    rows = _run(corpus, tmp_path / "q", holdout_levels=[2, 4], holdout_types=["mp3"])
    for row in rows:
        level, kind = row.attributes["level"], row.attributes["degradation"]
        expected = "both" if level == 0 else "test" if level in (2, 4) or kind == "mp3" else "train"
        assert row.attributes["level_split"] == expected
    seen, unseen = select_rows(rows, "train", "seen"), select_rows(rows, "test", "unseen")
    assert {r.attributes["level"] for r in seen} == {0, 1, 3}
    assert {r.attributes["level"] for r in unseen} >= {0, 2, 4} and all(r.split == "test" for r in unseen)
    assert not {r.attributes["source_id"] for r in seen} & {r.attributes["source_id"] for r in unseen}


def test_select_rows_all_keeps_rows_without_level_split_and_subsets_follow_the_docstring():
    def row(i: int, split: str, level_split: str | None) -> ClipRow:
        attrs = {} if level_split is None else {"level_split": level_split}
        return ClipRow(f"c{i}", f"{i}.wav", "x", split=split, attributes=attrs)

    rows = [row(0, "train", "train"), row(1, "train", "test"), row(2, "train", "both"), row(3, "train", None),
            row(4, "test", None), row(5, "test", "train")]
    picked = {levels: [r.id for r in select_rows(rows, "train", levels)] for levels in ("all", "seen", "unseen")}
    assert picked == {"all": ["c0", "c1", "c2", "c3"], "seen": ["c0", "c2", "c3"], "unseen": ["c1", "c2", "c3"]}
    assert [r.id for r in select_rows(rows, "test", "all")] == ["c4", "c5"]
    with pytest.raises(MuscallError, match="use seen, unseen or all"):
        select_rows(rows, "train", "some")


def _digest(out: Path) -> dict[str, str]:
    files = sorted((out / "audio").iterdir()) + [out / "manifest.jsonl", out / "systems.json"]
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.mark.slow
def test_output_is_the_same_whatever_the_worker_count(corpus, tmp_path):
    types = ["white", "wow", *available_codecs()[:1]]
    _run(corpus, tmp_path / "one", workers=1, types=types)
    _run(corpus, tmp_path / "two", workers=2, types=types)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")


def test_resume_redoes_only_missing_shards_without_duplicates(corpus, tmp_path):
    out = tmp_path / "q"
    first = _run(corpus, out, types=["white"])
    before = {p.name: p.stat().st_mtime_ns for p in (out / "audio").iterdir()}
    (out / "parts" / "shard-00001.jsonl").unlink()  # as if the run had died during shard 1
    again = _run(corpus, out, types=["white"])
    assert [r.to_json() for r in again] == [r.to_json() for r in first]
    redone = {p.name for p in (out / "audio").iterdir() if p.stat().st_mtime_ns != before[p.name]}
    shard1_clips = list(dict.fromkeys(r.attributes["source_id"] for r in first))[2:]  # shard size 2
    assert redone == {Path(r.audio_path).name for r in first if r.attributes["source_id"] in shard1_clips}
    with pytest.raises(MuscallError, match="started with seed"):
        _run(corpus, out, types=["white"], seed=4)


def test_select_clips_is_seeded_and_keeps_every_split(corpus):
    rows = read_manifest(corpus / "manifest.jsonl")
    chosen = select_clips(rows, 3, seed=0)
    assert [r.id for r in chosen] == [r.id for r in select_clips(rows, 3, seed=0)]
    assert len(chosen) == 3 and {r.split for r in chosen} == {"train", "val", "test"}
    assert len(select_clips(rows, 100, seed=0)) == len(rows)


def test_cli_degrade_and_its_errors(corpus, tmp_path, capsys):
    out = tmp_path / "cli"
    code = main(["data", "degrade", "--corpus", str(corpus), "--out", str(out), "--clips", "2", "--types", "clip",
                 "--workers", "1", "--no-progress"])
    assert code == 0 and "wrote 16 rows" in capsys.readouterr().out  # 2 clips x 5 systems + 2 x 3 TA-only rows
    assert (out / "degrade.json").is_file()
    assert main(["data", "degrade", "--corpus", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "no corpus manifest" in capsys.readouterr().err
    assert main(["data", "degrade", "--corpus", str(corpus), "--out", str(tmp_path / "x"), "--types", "fuzz"]) == 2
    assert "unknown degradation type 'fuzz'" in capsys.readouterr().err
    assert main(["data", "degrade", "--corpus", str(corpus), "--out", str(tmp_path / "y"),
                 "--holdout-levels", "two"]) == 2
    assert "--holdout-levels" in capsys.readouterr().err
