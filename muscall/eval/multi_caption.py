"""The multi-caption retrieval protocol (Song Describer, Manco et al. 2023) beside MusCALL's one caption per track.

Every caption is a text->audio query whose one target is its track; every track is an audio->text query for
which ANY of its captions is relevant: its rank is the rank of its best-ranked own caption (ties pessimistic,
as :func:`muscall.eval.metrics.rank_of_targets`), and its mAP@10 counts all its captions as relevant.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from muscall.eval.metrics import (_bonus, _l2_normalize, _scores, chance_level, map_at_k, median_rank, recall_at_k,
                                  retrieval_metrics)


def multi_caption_retrieval(audio_emb: np.ndarray, text_emb: np.ndarray, caption_track: Sequence[int],
                            ks: Sequence[int] = (1, 5, 10), map_k: int = 10, normalize: bool = True,
                            bonus: np.ndarray | None = None) -> dict:
    """Both directions for ``N`` tracks and ``M`` captions; ``caption_track[m]`` is caption m's track index.
    ``bonus [M, N]`` (optional) is added to the text->audio scores (what text search adds, :mod:`muscall.keys`)."""
    a, t = _scores(audio_emb, "audio_emb"), _scores(text_emb, "text_emb")
    owner = np.asarray(caption_track, dtype=np.int64)
    if owner.shape != (t.shape[0],) or owner.min(initial=0) < 0 or owner.max(initial=0) >= a.shape[0]:
        raise ValueError(f"caption_track must give each of the {t.shape[0]} captions a track in [0, {a.shape[0]})")
    if len(np.unique(owner)) != a.shape[0]:
        raise ValueError("every track needs at least one caption in the multi-caption protocol")
    if normalize:
        a, t = _l2_normalize(a), _l2_normalize(t)
    sim = t @ a.T  # [captions, tracks]
    searched = sim if bonus is None else sim + _bonus(bonus, sim.shape)
    text_to_audio = retrieval_metrics(searched, targets=owner, ks=ks, map_k=map_k)
    return {"protocol": "multi", "text_to_audio": text_to_audio,
            "audio_to_text": _any_caption_metrics(sim.T, owner, ks, map_k),
            "pool": {"n_total": int(a.shape[0]), "size": int(a.shape[0]), "seed": None},
            "n_tracks": int(a.shape[0]), "n_captions": int(t.shape[0]), "chance": chance_level(a.shape[0], ks, map_k)}


def _any_caption_metrics(sim: np.ndarray, owner: np.ndarray, ks: Sequence[int], map_k: int) -> dict:
    """Track queries [N, M]: rank of the best-ranked own caption, and mAP with all own captions relevant."""
    relevant = owner[None, :] == np.arange(sim.shape[0])[:, None]
    best = np.where(relevant, sim, -np.inf).max(axis=1)
    ranks = (sim >= best[:, None]).sum(axis=1)
    out: dict = {"n_queries": int(sim.shape[0]), "n_items": int(sim.shape[1])}
    out.update({f"R@{k}": recall_at_k(ranks, k) for k in ks})
    out[f"mAP@{map_k}"] = map_at_k(sim, relevant, map_k)
    out["MedR"] = median_rank(ranks)
    out["MeanR"] = float(np.mean(ranks))
    return out
