"""Quality metrics against naive loops and scipy; system level on a hand-computed toy; bootstrap CIs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from muscall.eval import quality_metrics as Q


def naive_pearson(x, y):
    mx, my = sum(x) / len(x), sum(y) / len(y)
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    return cov / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))


def naive_average_ranks(x):
    return [sum(1 for b in x if b < a) + (sum(1 for b in x if b == a) + 1) / 2 for a in x]


def naive_kendall_tau_b(x, y):
    conc = disc = tie_x_only = tie_y_only = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                tie_x_only += 1
            elif dy == 0:
                tie_y_only += 1
            elif dx == dy:
                conc += 1
            else:
                disc += 1
    return (conc - disc) / math.sqrt((conc + disc + tie_x_only) * (conc + disc + tie_y_only))


@pytest.fixture
def tied_pair():
    rng = np.random.default_rng(0)
    true = rng.integers(1, 6, size=25).astype(float)  # MOS-like scores with many ties
    pred = np.round(true + rng.normal(scale=1.0, size=25), 1)
    pred[:3] = pred[3]
    return pred, true


def test_utterance_metrics_match_naive_and_scipy(tied_pair):
    p, t = tied_pair
    pl, tl = p.tolist(), t.tolist()
    assert Q.mse(p, t) == pytest.approx(sum((a - b) ** 2 for a, b in zip(pl, tl)) / len(pl))
    assert Q.lcc(p, t) == pytest.approx(naive_pearson(pl, tl))
    assert Q.lcc(p, t) == pytest.approx(stats.pearsonr(p, t).statistic)
    assert Q.srcc(p, t) == pytest.approx(naive_pearson(naive_average_ranks(pl), naive_average_ranks(tl)))
    assert Q.srcc(p, t) == pytest.approx(stats.spearmanr(p, t).statistic)
    assert Q.ktau(p, t) == pytest.approx(naive_kendall_tau_b(pl, tl))
    assert Q.ktau(p, t) == pytest.approx(stats.kendalltau(p, t).statistic)
    out = Q.utterance_level(p, t)
    assert out["n"] == 25 and out["LCC"] == Q.lcc(p, t) and out["KTAU"] == Q.ktau(p, t)


def test_constant_predictions_give_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = Q.utterance_level(np.full(5, 3.0), np.arange(5.0))
    assert math.isnan(out["LCC"]) and math.isnan(out["SRCC"]) and math.isnan(out["KTAU"])
    assert out["MSE"] == pytest.approx(3.0)  # (9 + 4 + 1 + 0 + 1) / 5


def test_mismatched_or_nan_inputs_raise():
    with pytest.raises(ValueError, match="same length"):
        Q.mse(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        Q.lcc(np.array([1.0, np.nan]), np.ones(2))


# Toy set: A has 3 utterances, B 2, C 1. System means: pred [2, 5, 0], truth [2, 5, 3].
TOY_PRED = np.array([1.0, 2.0, 3.0, 4.0, 6.0, 0.0])
TOY_TRUE = np.array([1.0, 1.0, 4.0, 5.0, 5.0, 3.0])
TOY_SYS = ["A", "A", "A", "B", "B", "C"]


def test_system_level_hand_computed_split_mean():
    out = Q.system_level(TOY_PRED, TOY_TRUE, TOY_SYS)
    assert out["truth"] == "split_mean" and out["n_systems"] == 3
    assert out["per_system"] == {"A": {"pred": 2.0, "true": 2.0, "n_utts": 3},
                                 "B": {"pred": 5.0, "true": 5.0, "n_utts": 2},
                                 "C": {"pred": 0.0, "true": 3.0, "n_utts": 1}}
    assert out["MSE"] == pytest.approx(3.0)
    assert out["LCC"] == pytest.approx(51 / math.sqrt(114 * 42))
    assert out["SRCC"] == pytest.approx(0.5)  # ranks pred [2, 3, 1], truth [1, 3, 2]
    assert out["KTAU"] == pytest.approx(1 / 3)  # AB concordant, AC discordant, BC concordant


def test_system_level_given_truth():
    out = Q.system_level(TOY_PRED, None, TOY_SYS, system_truth={"A": 1.0, "B": 2.0, "C": 3.0})
    assert out["truth"] == "given"
    assert out["MSE"] == pytest.approx((1 + 9 + 9) / 3)
    assert out["per_system"]["C"]["true"] == 3.0
    with pytest.raises(ValueError, match=r"\['C'\]"):
        Q.system_level(TOY_PRED, None, TOY_SYS, system_truth={"A": 1.0, "B": 2.0})
    with pytest.raises(ValueError, match="system_truth"):
        Q.system_level(TOY_PRED, None, TOY_SYS)


def test_bootstrap_ci_brackets_point_and_is_deterministic():
    rng = np.random.default_rng(1)
    t = rng.normal(size=80)
    p = t + rng.normal(scale=0.7, size=80)
    for fn in Q.METRICS.values():
        ci = Q.bootstrap_ci(fn, p, t, n=300, seed=5)
        assert ci["low"] < ci["point"] < ci["high"]
        assert ci["n_valid"] == 300
        assert ci == Q.bootstrap_ci(fn, p, t, n=300, seed=5)
    assert Q.bootstrap_ci(Q.lcc, p, t, n=300, seed=6) != Q.bootstrap_ci(Q.lcc, p, t, n=300, seed=5)
    wide = Q.bootstrap_ci(Q.lcc, p, t, n=300, seed=5, alpha=0.05)
    narrow = Q.bootstrap_ci(Q.lcc, p, t, n=300, seed=5, alpha=0.5)
    assert wide["low"] < narrow["low"] < narrow["high"] < wide["high"]



def test_bootstrap_ci_draws_in_chunks_the_same_resamples_as_one_array(monkeypatch):
    rng = np.random.default_rng(3)
    t = rng.normal(size=41)  # odd N and n_boot not a multiple of the chunk
    p = t + rng.normal(scale=0.5, size=41)
    idx = np.random.default_rng(9).integers(0, 41, size=(150, 41))  # the former all-at-once draw
    vals = np.array([Q.srcc(p[i], t[i]) for i in idx])
    low, high = np.percentile(vals, [2.5, 97.5])
    ci = Q.bootstrap_ci(Q.srcc, p, t, n=150, seed=9)
    assert (ci["low"], ci["high"], ci["n_valid"]) == (low, high, 150)
    monkeypatch.setattr(Q, "_BOOT_CHUNK", 7)
    assert Q.bootstrap_ci(Q.srcc, p, t, n=150, seed=9) == ci

def test_bootstrap_ci_degenerate_cases():
    t = np.arange(10.0)
    ci = Q.bootstrap_ci(Q.mse, t + 2.0, t, n=50, seed=0)  # every error is 2, so every resample gives 4
    assert ci["low"] == ci["point"] == ci["high"] == pytest.approx(4.0)
    nan_ci = Q.bootstrap_ci(Q.lcc, np.ones(10), t, n=50, seed=0)
    assert nan_ci["n_valid"] == 0 and math.isnan(nan_ci["low"]) and math.isnan(nan_ci["high"])


def test_quality_report_resamples_systems_at_system_level():
    rng = np.random.default_rng(2)
    systems = np.repeat([f"sys{i}" for i in range(6)], 10)
    true = np.repeat(np.linspace(1, 5, 6), 10) + rng.normal(scale=0.5, size=60)
    pred = true + rng.normal(scale=0.5, size=60)
    out = Q.quality_report(pred, true, systems, n_boot=100, seed=0)
    assert out["bootstrap"] == {"n": 100, "seed": 0, "alpha": 0.05, "method": "percentile"}
    assert out["utterance"]["n"] == 60 and out["system"]["n_systems"] == 6
    sys_pred = [v["pred"] for v in out["system"]["per_system"].values()]
    sys_true = [v["true"] for v in out["system"]["per_system"].values()]
    expected = Q.bootstrap_ci(Q.srcc, sys_pred, sys_true, n=100, seed=0)
    assert out["system"]["ci"]["SRCC"]["low"] == expected["low"]
    assert out["system"]["ci"]["SRCC"]["high"] == expected["high"]
    for level in ("utterance", "system"):
        for name in Q.METRICS:
            ci = out[level]["ci"][name]
            assert ci["low"] - 1e-9 <= out[level][name] <= ci["high"] + 1e-9


def test_bootstrap_ci_uses_the_two_sided_percentiles():
    values = np.arange(100.0)  # fn = the first resampled value, uniform on 0..99: quantiles are known
    ci = Q.bootstrap_ci(lambda p, t: float(p[0]), values, values, n=2000, seed=0, alpha=0.05)
    assert ci["low"] == pytest.approx(2.5, abs=1.5) and ci["high"] == pytest.approx(97.0, abs=1.5)
