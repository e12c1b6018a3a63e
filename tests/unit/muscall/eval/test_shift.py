"""The shift benchmark's evaluation: equal pools of seen/unseen-soundfont clips, text swapped per setting."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from muscall.checkpoint import load_checkpoint
from muscall.data.manifest import ClipRow, read_manifest, write_manifest
from muscall.errors import MuscallError
from muscall.data.synth.captions import make_caption
from muscall.data.synth import heldout_words
from muscall.data.synth.heldout import heldout_descriptions, plain
from muscall.data.synth.styles import STYLES
from muscall.embedding import embed_texts
from muscall.eval import shift
from muscall.eval.shift import SETTINGS, evaluate_shift, shift_pools, tagging_metrics, with_text, wording_gap
from muscall.zeroshot import save_fitted_temperature, templates_for
from tests.support.tiny_service import make_tiny_checkpoint
from tests.unit.muscall.data.synth.test_heldout import clip_attrs, contains

GENRES = ("jazz", "rock")


def _row(i: int, heldout: bool, **attrs) -> ClipRow:
    genre = GENRES[i % 2]
    return ClipRow(id=f"c{i:02d}", audio_path=f"audio/c{i:02d}.wav", caption=f"a {genre} tune", split="test",
                   attributes={"genre": genre, "soundfont_heldout": heldout, "moods": ["calm" if i % 3 else "dark"],
                               "heldout_caption": f"if you like {genre}, this one is for you",
                               "short_query": f"calm {genre}", **attrs})


def test_pools_have_equal_size_and_the_right_clips():
    rows = [_row(i, heldout=i >= 7) for i in range(10)]  # 7 seen, 3 unseen
    pools = shift_pools(rows, seed=0)
    assert len(pools["seen"]) == len(pools["unseen"]) == 3
    assert not any(r.attributes["soundfont_heldout"] for r in pools["seen"])
    assert all(r.attributes["soundfont_heldout"] for r in pools["unseen"])
    assert [r.id for r in shift_pools(rows, seed=0)["seen"]] == [r.id for r in pools["seen"]]


def test_a_corpus_without_a_held_out_soundfont_is_refused_with_the_fix():
    with pytest.raises(MuscallError, match="--holdout-soundfont"):
        shift_pools([_row(i, heldout=False) for i in range(4)])


def test_with_text_swaps_the_caption_and_names_a_missing_field():
    rows = [_row(0, False), _row(1, False)]
    assert [r.caption for r in with_text(rows, "short_query")] == ["calm jazz", "calm rock"]
    assert with_text(rows, "caption") == rows
    bare = [ClipRow(id="x", audio_path="a.wav", caption="c", split="test")]
    with pytest.raises(MuscallError, match="--holdout-wording"):
        with_text(bare, "heldout_caption")


def test_every_setting_is_measured_and_a_is_its_own_baseline(tmp_path):
    sr, rng = 16000, np.random.default_rng(0)
    rows = []
    for i in range(8):
        wave = 0.3 * np.sin(2 * np.pi * (110.0 * (i + 1)) * np.arange(2 * sr) / sr) + 0.01 * rng.standard_normal(2 * sr)
        (tmp_path / "audio").mkdir(exist_ok=True)
        sf.write(tmp_path / "audio" / f"c{i:02d}.wav", wave.astype(np.float32), sr)
        rows.append(_row(i, heldout=i >= 4, instruments=[{"name": "piano"}] if i % 2 else [{"name": "bass"}]))
    write_manifest(tmp_path / "manifest.jsonl", rows)
    ckpt = load_checkpoint(make_tiny_checkpoint(tmp_path / "ckpt"))
    labels = {"genres": list(GENRES), "instruments": ["piano", "bass"], "moods": ["calm", "dark"]}
    results = evaluate_shift(ckpt, tmp_path / "manifest.jsonl", labels)
    assert list(results) == list(SETTINGS)
    assert all(r["n"] == 4 for r in results.values())
    assert results["a: in domain"]["ratio_to_a"] == pytest.approx(1.0)
    assert all(0.0 <= r["genre_acc"] <= 1.0 and 0.0 <= r["t2a_R@10"] <= 1.0 for r in results.values())
    assert all(0.0 <= r["genre_ece"] <= 1.0 and np.isnan(r["genre_ece_fitted"]) for r in results.values())
    pools = shift_pools(read_manifest(tmp_path / "manifest.jsonl", split="test"))
    save_fitted_temperature(ckpt.path, ckpt.sha256, "genres",
                            {"temperature": 0.5, "labels": list(GENRES), "templates": templates_for("genres")})
    audio = np.random.default_rng(1).standard_normal((4, ckpt.model.embed_dim)).astype(np.float32)
    fitted = tagging_metrics(ckpt, audio, pools["seen"], labels)
    assert 0.0 <= fitted["genre_ece_fitted"] <= 1.0 and fitted["genre_ece_fitted"] != fitted["genre_ece"]


def test_wording_gap_reads_the_shift_pool_as_settings_a_c_and_d_do(tmp_path, monkeypatch):
    sr, rows = 16000, []
    (tmp_path / "audio").mkdir()
    for i in range(8):
        wave = 0.3 * np.sin(2 * np.pi * (110.0 * (i + 1)) * np.arange(2 * sr) / sr)
        sf.write(tmp_path / "audio" / f"c{i:02d}.wav", wave.astype(np.float32), sr)
        attrs = clip_attrs(GENRES[i % 2], i)
        attrs.update(soundfont_heldout=i >= 4, **heldout_descriptions(attrs, np.random.default_rng(i)))
        rows.append(ClipRow(id=f"c{i:02d}", audio_path=f"audio/c{i:02d}.wav", split="test", attributes=attrs,
                            caption=make_caption(attrs, np.random.default_rng(i))))
    write_manifest(tmp_path / "manifest.jsonl", rows)
    ckpt = load_checkpoint(make_tiny_checkpoint(tmp_path / "ckpt"))
    labels = {"genres": list(GENRES)}
    settings = evaluate_shift(ckpt, tmp_path / "manifest.jsonl", labels, key_weight=0.3)
    asked: list[list[str]] = []

    def recording(model, tokenizer, texts, *args, **kwargs):
        asked.append(list(texts))
        return embed_texts(model, tokenizer, texts, *args, **kwargs)

    monkeypatch.setattr(shift, "embed_texts", recording)
    gap = wording_gap(ckpt, tmp_path / "manifest.jsonl", key_weight=0.3)
    pool = shift_pools(read_manifest(tmp_path / "manifest.jsonl", split="test"))["seen"]
    assert asked[1] == [r.attributes["heldout_caption"] for r in pool]
    assert asked[3] == [r.attributes["short_query"] for r in pool]
    for trained, heldout in ((asked[2], asked[1]), (asked[4], asked[3])):  # the same facts in training words
        for text, other, row in zip(trained, heldout, pool):
            assert text != other
            assert any(p.lower() in text.lower() or plain(p) in text for p in STYLES[row.attributes["genre"]].synonyms)
            own = [plain(w) for w in STYLES[row.attributes["genre"]].synonyms]  # plain("bebop-style") has "bebop"
            assert not [p for p in heldout_words.GENRES[row.attributes["genre"]]
                        if contains(text, p) and not any(contains(w, p) for w in own)]
    assert list(gap) == ["generator captions", "held-out shapes, held-out words (c)", "held-out shapes, training words",
                         "short queries, held-out words (d)", "short queries, training words"]
    for name, setting in (("generator captions", "a: in domain"), ("held-out shapes, held-out words (c)",
                                                                   "c: held-out wording"),
                          ("short queries, held-out words (d)", "d: short queries")):
        for col in ("n", "t2a_MedR", "attr_mAP@10"):  # R@10 of a 4-clip pool is always 1
            assert gap[name][col] == settings[setting][col], (name, col)
    for r in gap.values():
        assert all(0.0 <= r[c] <= 1.0 for c in ("attr_mAP@10", "genre_mAP@10", "lead_mAP@10"))
        assert np.isnan(r["unknown_share"])  # the tiny checkpoint has no vocabulary bridge
