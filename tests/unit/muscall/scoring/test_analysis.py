"""TA breakdowns: mean score per number of changed facts, true-vs-single-change accuracy per fact kind."""

from __future__ import annotations

import numpy as np
import pytest

from muscall.scoring.analysis import by_change_count, pairwise_by_attribute


def test_by_change_count_groups_rows_by_how_many_facts_changed():
    got = by_change_count(np.array([5.0, 3.0, 1.0, 4.0]), [[], ["genre"], ["genre", "key"], []])
    assert got == {0: {"mean": 4.5, "n": 2}, 1: {"mean": 3.0, "n": 1}, 2: {"mean": 1.0, "n": 1}}


def test_pairwise_compares_true_and_single_change_captions_of_the_same_audio_only():
    pred = np.array([0.9, 0.2, 0.9, 0.5, 0.6, 0.1, 0.0])
    changed = [[], ["genre"], ["key"], [], ["key"], ["genre", "key"], ["tempo"]]
    audio = ["a", "a", "a", "b", "b", "b", "c"]  # clip c has no true caption: its tempo row is not compared
    got = pairwise_by_attribute(pred, changed, audio)
    assert got["genre"] == {"accuracy": 1.0, "pairs": 1}
    assert got["key"]["pairs"] == 2 and got["key"]["accuracy"] == pytest.approx(0.25)  # a: tie (0.5), b: lost (0)
    assert "tempo" not in got
