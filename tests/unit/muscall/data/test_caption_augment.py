"""Caption augmentation: seeded per (seed, epoch, row), changes captions, keeps its lexicon apart from held-out words."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from muscall.config import load_config
from muscall.config.schema import TextAugmentConfig
from muscall.data.caption_augment import (LEXICON, THESAURUS_FILE, CaptionAugmenter, augmentation_vocabulary, other_key,
                                          query_fragment, typos)
from muscall.data.manifest import ClipRow
from muscall.errors import MuscallError
from muscall.data.synth import heldout_words
from muscall.data.synth.captions import TRAINING, fact_phrases
from muscall.training.data import CropDataset

ATTRS = {"genre": "hip hop", "moods": ["chill", "melancholic"],
         "instruments": [{"role": "lead", "program": 11, "name": "vibraphone"},
                         {"role": "drums", "program": 25, "name": "drum machine"}]}
CAPTION = "Melancholic hip hop track with vibes and 808 drum machine, slow, in C minor, with some room reverb."
ON = TextAugmentConfig(enabled=True, p=1.0, p_query=0.25, typo_rate=0.05)


def words(phrases: set[str]) -> set[str]:
    return {w for p in phrases for w in re.split(r"[^a-z0-9]+", p.lower()) if w}


def test_augmentation_brings_no_heldout_word_that_training_captions_lack():
    aug, held = augmentation_vocabulary(), heldout_words.vocabulary()
    assert aug and held
    assert not words(aug) & (words(held) - words(fact_phrases()))  # "rock" of "arena rock" is a training word
    assert not [p for p in held if any(p in a for a in aug)]


def test_thesaurus_adds_wordnet_synonyms_of_generator_phrases():
    thesaurus = json.loads(THESAURUS_FILE.read_text())
    assert set(thesaurus) <= set(fact_phrases())
    assert "dour" in LEXICON["dark"] and "grim" in LEXICON["dark"]  # WordNet's beside the hand lexicon's
    assert "pianola" in augmentation_vocabulary()
    synonyms = [s for options in thesaurus.values() for s in options]
    assert len(synonyms) == len(set(synonyms))  # a word proposed for two facts says neither: dropped
    assert not set(synonyms) & set(fact_phrases())  # never a phrase the generator already writes


def test_augmentation_is_deterministic_per_seed_epoch_and_index():
    aug = CaptionAugmenter(ON, seed=3, attributes=[ATTRS, ATTRS])
    assert aug(CAPTION, 2, 1) == aug(CAPTION, 2, 1)
    assert CaptionAugmenter(ON, seed=3, attributes=[ATTRS, ATTRS])(CAPTION, 2, 1) == aug(CAPTION, 2, 1)
    by_epoch = [aug(CAPTION, e, 0) for e in range(40)]
    assert len(set(by_epoch)) >= 30 and sum(c != CAPTION for c in by_epoch) >= 38
    assert [aug(CAPTION, e, 1) for e in range(40)] != by_epoch  # another row draws differently


def test_augmentation_drops_reorders_rewords_and_makes_queries():
    aug = CaptionAugmenter(TextAugmentConfig(enabled=True, p=1.0, p_case=0.0, typo_rate=0.0), 0, [ATTRS])
    out = [aug(CAPTION, e, 0) for e in range(200)]
    assert any(len(o) < len(CAPTION) * 0.6 for o in out)  # partial captions
    assert any(o.lower().startswith("slow") for o in out)  # a clause moved to the front
    assert any(re.search(r"\b(downcast|somber|opus|ditty|sluggish|lazy)\b", o) for o in out)  # lexicon synonyms
    queries = CaptionAugmenter(TextAugmentConfig(enabled=True, p=1.0, p_query=1.0, p_case=0.0, typo_rate=0.0), 0,
                               [ATTRS])
    for q in {queries(CAPTION, e, 0) for e in range(30)}:
        assert q == q.lower() and "," not in q and any(g in q for g in TRAINING.genres["hip hop"]), q


def test_disabled_or_zero_probability_leaves_captions_alone():
    for cfg in (TextAugmentConfig(), TextAugmentConfig(enabled=True, p=0.0)):
        aug = CaptionAugmenter(cfg, 0, [ATTRS])
        assert all(aug(CAPTION, e, 0) == CAPTION for e in range(20))


def test_query_fragment_needs_synth_attributes_and_typos_keep_length_close():
    rng = np.random.default_rng(0)
    assert query_fragment({}, rng) is None and query_fragment({"genre": "polka", "moods": ["x"]}, rng) is None
    text = "a melancholic instrumental recording with shimmering pads"
    changed = typos(text, 1.0, np.random.default_rng(1))
    assert changed != text and len(changed.split()) == len(text.split())
    assert all(abs(len(a) - len(b)) <= 1 for a, b in zip(changed.split(), text.split()))


def test_crop_dataset_applies_the_configured_augmentation_per_epoch():
    row = ClipRow(id="a", audio_path="a.wav", caption=CAPTION, attributes=ATTRS)

    class Source:
        rows, audio = [row], load_config("tiny").audio

        def __len__(self):
            return 1

        def __getitem__(self, i):
            return np.zeros((4, 400), dtype=np.float32)

    plain, augmented = CropDataset(Source(), seed=0), CropDataset(Source(), seed=0, text_augment=ON)
    seen = set()
    for epoch in range(10):
        plain.set_epoch(epoch), augmented.set_epoch(epoch)
        assert plain[0][1] == CAPTION and augmented[0][1] == augmented[0][1]
        assert np.array_equal(plain[0][0], augmented[0][0])  # the crop draw does not depend on augmentation
        seen.add(augmented[0][1])
    assert len(seen) >= 8


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_shipped_small_configs_turn_text_augmentation_on(name):
    assert load_config(name).text_augment.enabled and not load_config("paper").text_augment.enabled


def test_thesaurus_can_be_turned_off_for_the_ablation():
    hand = CaptionAugmenter(TextAugmentConfig(enabled=True, p=1.0, p_query=0.0, p_drop=0.0, p_shuffle=0.0,
                                              p_synonym=1.0, p_case=0.0, typo_rate=0.0, thesaurus=False), 0, [{}])
    drawn = {hand("dark", epoch, 0) for epoch in range(40)}
    assert drawn == {"grim", "menacing"}  # the hand lexicon's two, never WordNet's "dour"
    assert "pianola" not in augmentation_vocabulary(thesaurus=False) and "sax" in augmentation_vocabulary(False)
    with_it = CaptionAugmenter(TextAugmentConfig(enabled=True, p=1.0, p_query=0.0, p_drop=0.0, p_shuffle=0.0,
                                                 p_synonym=1.0, p_case=0.0, typo_rate=0.0), 0, [{}])
    assert {with_it("dark", epoch, 0) for epoch in range(80)} > drawn


def test_the_thesaurus_ships_with_the_package():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[4] / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["package-data"]["muscall"]
    assert str(THESAURUS_FILE.relative_to(THESAURUS_FILE.parents[1])) in shipped  # a wheel or image install has it


def test_an_install_without_the_thesaurus_says_so_when_training_asks_for_it(tmp_path, monkeypatch):
    monkeypatch.setattr("muscall.data.caption_augment.THESAURUS_FILE", tmp_path / "thesaurus.json")
    with pytest.raises(MuscallError, match="thesaurus=false"):
        CaptionAugmenter(ON, seed=0, attributes=[ATTRS])
    assert CaptionAugmenter(TextAugmentConfig(enabled=True, thesaurus=False), seed=0, attributes=[ATTRS])


def test_other_key_names_another_key_or_the_other_mode():
    rng = np.random.default_rng(0)
    drawn = {other_key("Jazz in B minor, slow.", rng) for _ in range(200)}
    assert len(drawn) == 23 and "Jazz in B minor, slow." not in drawn  # every other tonic and mode pair
    assert "Jazz in F# major, slow." in drawn and "Jazz in B major, slow." in drawn
    assert other_key("A waltz in a minor key.", rng) == "A waltz in a major key."
    assert other_key("A waltz in A major.", rng).startswith("A waltz in ")  # the article "A" is not a key
    assert other_key("a major jazz tune", rng) is None and other_key("no key named", rng) is None
