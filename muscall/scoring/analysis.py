"""What an alignment score can tell apart: breakdowns of TA predictions by which caption facts were changed.

On ``muscall data degrade`` rows every clip has captions with 0, 1, 2 or all of its facts changed
(``attributes.changed``). Two views of a score:

* :func:`by_change_count`: mean score and row count per number of changed facts;
* :func:`pairwise_by_attribute`: for each fact kind, over clips that have both their true caption and a
  caption with only that fact changed (same audio), the fraction where the true caption scores higher
  (ties count half). 0.5 means the score cannot see that fact at all; 1.0 means it always can.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np


def by_change_count(pred: np.ndarray, changed: Sequence[Sequence[str]]) -> dict[int, dict[str, float]]:
    """``{number of changed facts: {"mean": mean score, "n": rows}}``, sorted by the number."""
    groups: dict[int, list[float]] = defaultdict(list)
    for p, c in zip(np.asarray(pred, dtype=np.float64), changed):
        groups[len(c)].append(float(p))
    return {k: {"mean": float(np.mean(v)), "n": len(v)} for k, v in sorted(groups.items())}


def pairwise_by_attribute(pred: np.ndarray, changed: Sequence[Sequence[str]], audio: Sequence[str]
                          ) -> dict[str, dict[str, float]]:
    """Per fact kind: ``{"accuracy": P(true caption > caption with only that kind changed), "pairs": n}``.

    ``audio`` names each row's audio (rows are compared only with rows of the same audio).
    """
    pred = np.asarray(pred, dtype=np.float64)
    true_score: dict[str, list[float]] = defaultdict(list)
    single: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for p, c, a in zip(pred, changed, audio):
        if not c:
            true_score[a].append(float(p))
        elif len(c) == 1:
            single[a].append((c[0], float(p)))
    wins: dict[str, list[float]] = defaultdict(list)
    for a, changes in single.items():
        for kind, p in changes:
            for t in true_score.get(a, []):
                wins[kind].append(1.0 if t > p else 0.5 if t == p else 0.0)
    return {k: {"accuracy": float(np.mean(v)), "pairs": len(v)} for k, v in sorted(wins.items())}
