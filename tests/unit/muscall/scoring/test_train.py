"""Scoring-head training helpers that need no encoder: overrides, member configs, settings, held-out split."""

from __future__ import annotations

import numpy as np
import pytest

from muscall.config import ConfigError
from muscall.errors import MuscallError
from muscall.config.scoring import ScoringConfig, ScoringConfigError
from muscall.scoring.data import ScoringFeatures
from muscall.scoring.train import (TrainSettings, apply_scoring_overrides, member_configs, select_top_k,
                                   split_validation)


def test_overrides_apply_types_and_validate():
    cfg = apply_scoring_overrides(ScoringConfig(), ["scoring.pooling=mean", "scoring.ot_weight=0",
                                                   "scoring.axes=[MI]", "scoring.axis_losses=[MI=ccc]"])
    assert (cfg.pooling, cfg.ot_weight, cfg.axes, cfg.loss_for("MI")) == ("mean", 0.0, ["MI"], "ccc")
    with pytest.raises(ScoringConfigError, match="pooling"):
        apply_scoring_overrides(ScoringConfig(), ["scoring.pooling=max"])
    with pytest.raises(ConfigError, match="scoring.key=value"):
        apply_scoring_overrides(ScoringConfig(), ["train.epochs=3"])
    with pytest.raises(ConfigError, match="nope"):
        apply_scoring_overrides(ScoringConfig(), ["scoring.nope=1"])


def test_member_configs_cycle_seeds_poolings_losses():
    settings = TrainSettings(members=4, seed=10, poolings=["drasp", "mean"], losses=["utmos", "dcq", "l1"])
    members = member_configs(ScoringConfig(), settings)
    assert [s for _, _, s in members] == [10, 11, 12, 13]
    assert [c.pooling for _, c, _ in members] == ["drasp", "mean", "drasp", "mean"]
    assert [c.loss for _, c, _ in members] == ["utmos", "dcq", "l1", "utmos"]
    assert len({n for n, _, _ in members}) == 4
    with pytest.raises(ScoringConfigError):
        member_configs(ScoringConfig(), TrainSettings(members=1, losses=["huber"]))


def test_settings_check():
    with pytest.raises(MuscallError, match="top-k"):
        TrainSettings(members=2, top_k=3).check()
    with pytest.raises(MuscallError):
        TrainSettings(batch_size=1).check()
    TrainSettings(members=3, top_k=2).check()


def _toy(sources: list[str]) -> ScoringFeatures:
    n = len(sources)
    return ScoringFeatures(ids=[str(i) for i in range(n)], systems=["s"] * n, captions=["c"] * n,
                           ratings={"MI": np.arange(n, dtype=float)}, audio_index=np.arange(n),
                           text_index=np.zeros(n, dtype=np.int64), frames=np.zeros((n, 2, 3), np.float32),
                           frame_mask=np.ones((n, 2), bool), audio_emb=np.zeros((n, 4), np.float32),
                           tokens=np.zeros((1, 2, 3), np.float32), token_mask=np.ones((1, 2), bool),
                           text_emb=np.zeros((1, 4), np.float32), matched=np.ones(n, bool),
                           sources=np.array(sources))


def test_split_validation_holds_out_whole_sources():
    feats = _toy([f"src{i // 3}" for i in range(30)])
    train, val = split_validation(feats, fraction=0.2, seed=1)
    assert len(train) + len(val) == 30 and len(val) == 6
    assert not set(feats.sources[train]) & set(feats.sources[val])
    assert np.array_equal(split_validation(feats, 0.2, 1)[1], val)  # seeded
    with pytest.raises(MuscallError, match="one clip"):
        split_validation(_toy(["a"] * 4))


def test_subset_and_batch_shapes():
    feats = _toy([f"src{i}" for i in range(5)])
    sub = feats.subset([4, 1])
    assert sub.ids == ["4", "1"] and sub.ratings["MI"].tolist() == [4.0, 1.0]
    batch = sub.batch([0, 1])
    assert batch["frames"].shape == (2, 2, 3) and batch["text_tokens"].shape == (2, 2, 3)
    assert batch["mask"].dtype.is_floating_point is False


def test_shuffled_labels_permute_only_rated_rows():
    from muscall.scoring.train import shuffled_labels

    mi = np.array([1.0, np.nan, 2.0, 3.0, np.nan, 4.0, 5.0])
    val = ScoringFeatures(ids=["a", "b"], systems=["s", "s"], captions=["x", "x"],
                          ratings={"MI": np.array([np.nan, 2.0])}, audio_index=np.zeros(2, np.int64),
                          text_index=np.zeros(2, np.int64), frames=np.zeros((1, 1, 1), np.float32),
                          frame_mask=np.ones((1, 1), bool), audio_emb=np.zeros((1, 1), np.float32),
                          tokens=np.zeros((1, 1, 1), np.float32), token_mask=np.ones((1, 1), bool),
                          text_emb=np.zeros((1, 1), np.float32))
    z, shuffled_val = shuffled_labels({"MI": mi}, val, seed=0)
    assert np.array_equal(np.isnan(z["MI"]), np.isnan(mi))  # unrated rows stay unrated
    assert sorted(z["MI"][~np.isnan(mi)]) == [1.0, 2.0, 3.0, 4.0, 5.0] and not np.array_equal(z["MI"], mi)
    assert np.isnan(shuffled_val.ratings["MI"][0]) and shuffled_val.ratings["MI"][1] == 2.0


def test_select_top_k_orders_by_val_srcc():
    ranked = [("a", 0.5), ("b", float("nan")), ("c", 0.9), ("d", 0.7), ("e", 0.9)]
    assert select_top_k(ranked, 3) == ["c", "e", "d"]
    assert select_top_k(ranked, 10) == ["c", "e", "d", "a", "b"]
    with pytest.raises(ValueError):
        select_top_k(ranked, 0)
