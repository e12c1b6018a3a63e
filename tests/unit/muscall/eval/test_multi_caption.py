"""The multi-caption (Song Describer) protocol checked against a naive per-query loop."""

from __future__ import annotations

import numpy as np
import pytest

from muscall.eval.multi_caption import multi_caption_retrieval


def _naive(audio: np.ndarray, text: np.ndarray, owner: list[int], k: int) -> tuple[float, float, float, float]:
    """(t2a R@k, t2a MedR, a2t R@k, a2t MedR) by looping over queries, pessimistic ties."""
    a = audio / np.linalg.norm(audio, axis=1, keepdims=True)
    t = text / np.linalg.norm(text, axis=1, keepdims=True)
    t2a = [sum(float(t[m] @ a[j]) >= float(t[m] @ a[owner[m]]) for j in range(len(a))) for m in range(len(t))]
    a2t = []
    for i in range(len(a)):
        best = max(float(a[i] @ t[m]) for m in range(len(t)) if owner[m] == i)
        a2t.append(sum(float(a[i] @ t[m]) >= best for m in range(len(t))))
    return (float(np.mean(np.array(t2a) <= k)), float(np.median(t2a)), float(np.mean(np.array(a2t) <= k)),
            float(np.median(a2t)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_naive_loop(seed):
    rng = np.random.default_rng(seed)
    audio = rng.normal(size=(7, 4))
    owner = [0, 0, 1, 2, 2, 2, 3, 4, 5, 6, 6]
    text = audio[owner] + rng.normal(scale=1.0, size=(len(owner), 4))
    res = multi_caption_retrieval(audio, text, owner, ks=(1, 5))
    for k in (1, 5):
        t2a_r, t2a_med, a2t_r, a2t_med = _naive(audio, text, owner, k)
        assert res["text_to_audio"][f"R@{k}"] == pytest.approx(t2a_r) and res["audio_to_text"][f"R@{k}"] == pytest.approx(a2t_r)
    assert res["text_to_audio"]["MedR"] == t2a_med and res["audio_to_text"]["MedR"] == a2t_med
    assert res["n_captions"] == 11 and res["n_tracks"] == 7 and res["text_to_audio"]["n_queries"] == 11


def test_any_own_caption_counts_for_the_track():
    audio = np.eye(3)
    text = np.array([[0, 1, 0], [1, 0, 0], [0, 1, 0.1], [0, 0, 1]], dtype=float)  # track 0: a wrong and a right one
    res = multi_caption_retrieval(audio, text, [0, 0, 1, 2], ks=(1,))
    # track 0: its second caption ranks first; track 1: track 0's wrong caption beats its own; track 2: first
    assert res["audio_to_text"]["R@1"] == pytest.approx(2 / 3) and res["audio_to_text"]["MeanR"] == pytest.approx(4 / 3)
    assert res["text_to_audio"]["R@1"] == 0.75  # its first caption finds track 1


def test_every_track_needs_a_caption():
    with pytest.raises(ValueError, match="at least one caption"):
        multi_caption_retrieval(np.eye(3), np.eye(3)[:2], [0, 1])


def test_the_search_bonus_reaches_text_to_audio_only():
    audio = np.eye(3)
    text = np.array([[0, 1, 0], [1, 0, 0], [0, 1, 0.1], [0, 0, 1]], dtype=float)
    plain = multi_caption_retrieval(audio, text, [0, 0, 1, 2], ks=(1,))
    bonus = np.zeros((4, 3))
    bonus[0, 0] = 2.0  # lifts caption 0's own track above track 1
    lifted = multi_caption_retrieval(audio, text, [0, 0, 1, 2], ks=(1,), bonus=bonus)
    assert lifted["text_to_audio"]["R@1"] == 1.0 and plain["text_to_audio"]["R@1"] == 0.75
    assert lifted["audio_to_text"] == plain["audio_to_text"]
    with pytest.raises(ValueError, match="bonus"):
        multi_caption_retrieval(audio, text, [0, 0, 1, 2], bonus=np.zeros((3, 3)))
