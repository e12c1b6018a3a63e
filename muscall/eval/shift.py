"""Evaluation under shift: the same metrics on test subsets that differ from training in sound or in words.

A corpus made with ``muscall data synth --holdout-soundfont NAME --holdout-wording`` marks each test clip rendered
through the held-out soundfont (``attributes.soundfont_heldout``) and gives every test clip a caption and a short
user-style query written only with held-out templates and synonyms. The five settings of the shift benchmark:

(a) in domain: clips of the training soundfonts, generator captions;  (b) held-out soundfont, generator captions;
(c) training soundfonts, held-out wording;  (d) short queries in held-out words;  (e) (b) and (c) together.

Clips of the two kinds are pooled to the same size (seeded), so R@k and MedR compare across settings.
:func:`wording_gap` splits the cost of (c) and (d) into new sentence shapes and new words.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from muscall.checkpoint import Checkpoint
from muscall.data.manifest import ClipRow, read_manifest
from muscall.data.synth.captions import TRAINING
from muscall.data.synth.heldout import make_heldout_caption, make_short_query
from muscall.embedding import embed_texts
from muscall.errors import MuscallError
from muscall.eval.calibration import DEFAULT_BINS
from muscall.eval.metrics import (map_at_k, multilabel_auc, pool_sample, retrieval_both_directions, retrieval_metrics,
                                  zero_shot_accuracy)
from muscall.eval.runner import attribute_relevance, embed_tracks, genre_calibration, labels_of
from muscall.keys import key_bonus
from muscall.zeroshot import build_classifier, templates_for

HELDOUT_FLAG = "soundfont_heldout"
HELDOUT_CAPTION = "heldout_caption"
SHORT_QUERY = "short_query"
SETTINGS = {  # name: (clips, text field)
    "a: in domain": ("seen", "caption"),
    "b: held-out soundfont": ("unseen", "caption"),
    "c: held-out wording": ("seen", HELDOUT_CAPTION),
    "d: short queries": ("seen", SHORT_QUERY),
    "e: soundfont + wording": ("unseen", HELDOUT_CAPTION),
}
MULTI_LABEL_SETS = ("instruments", "moods")


def shift_pools(rows: Sequence[ClipRow], seed: int = 0) -> dict[str, list[ClipRow]]:
    """Test clips of the training soundfonts (``seen``) and of the held-out one (``unseen``), equal-sized pools."""
    seen = [r for r in rows if not r.attributes.get(HELDOUT_FLAG, False)]
    unseen = [r for r in rows if r.attributes.get(HELDOUT_FLAG, False)]
    if not seen or not unseen:
        raise MuscallError(f"the test split has {len(seen)} clips of training soundfonts and {len(unseen)} of a "
                           "held-out one; make the corpus with 'muscall data synth --holdout-soundfont NAME'")
    n = min(len(seen), len(unseen))
    return {name: [pool[i] for i in sorted(pool_sample(len(pool), n, seed))]
            for name, pool in (("seen", seen), ("unseen", unseen))}


def with_text(rows: Sequence[ClipRow], field: str) -> list[ClipRow]:
    """The rows with ``caption`` replaced by ``attributes[field]`` (``caption``: unchanged)."""
    if field == "caption":
        return list(rows)
    missing = [r.id for r in rows if not r.attributes.get(field)]
    if missing:
        raise MuscallError(f"{len(missing)} test rows have no '{field}' (e.g. {missing[:3]}); make the corpus with "
                           "'muscall data synth --holdout-wording'")
    return [dataclasses.replace(r, caption=str(r.attributes[field])) for r in rows]


def tagging_metrics(ckpt: Checkpoint, audio: np.ndarray, rows: Sequence[ClipRow], label_sets: dict[str, list[str]],
                    device: str = "cpu") -> dict[str, float]:
    """Zero-shot genre accuracy and instrument / mood macro ROC-AUC of the clips' audio embeddings, and the genre
    probabilities' expected calibration error at the model's temperature and at the one fitted on validation clips
    (``muscall eval zeroshot --split val --fit-temperature``; NaN when none is stored)."""
    out: dict[str, float] = {}
    max_tokens = ckpt.config.model.text.max_tokens
    for name in ("genres", *MULTI_LABEL_SETS):
        if name not in label_sets:
            continue
        classes = label_sets[name]
        weights = build_classifier(ckpt.model, ckpt.tokenizer, classes, templates_for(name), max_tokens, device=device)
        scores = audio @ weights.T
        truth = [labels_of(r, name) for r in rows]
        if name == "genres":
            keep = [i for i, t in enumerate(truth) if len(t) == 1 and t[0] in classes]
            labels = np.array([classes.index(truth[i][0]) for i in keep])
            out["genre_acc"] = zero_shot_accuracy(scores[keep], labels)
            ece = genre_calibration(ckpt, scores[keep], labels, list(classes), templates_for(name), "test", False,
                                    DEFAULT_BINS)
            out["genre_ece"] = ece["before"]["ece"]
            out["genre_ece_fitted"] = ece["after"]["ece"] if "after" in ece else float("nan")
        else:
            targets = np.array([[c in t for c in classes] for t in truth], dtype=int)
            try:
                out[f"{name[:-1]}_auc"] = float(multilabel_auc(scores, targets, classes)["roc_auc_macro"])
            except ValueError:  # no class with both positives and negatives in this pool
                out[f"{name[:-1]}_auc"] = float("nan")
    return out


def evaluate_shift(ckpt: Checkpoint, manifest: str | Path, label_sets: dict[str, list[str]], seed: int = 0,
                   device: str = "cpu", key_weight: float | None = None) -> dict[str, dict[str, float]]:
    """Per setting: R@10 and MedR both directions, attribute mAP@10, tagging metrics, and R@10 over (a)'s.

    Text->audio scores are ranked as text search ranks them: plus the key agreement (``key_weight``, default the
    checkpoint's ``serve.key_weight``; 0: the embeddings alone); audio->text by the embeddings alone."""
    pools = shift_pools(read_manifest(manifest, split="test"), seed)
    cfg = ckpt.config
    weight = cfg.serve.key_weight if key_weight is None else key_weight
    audio, chroma, tagging = {}, {}, {}
    for kind, rows in pools.items():
        audio[kind], chroma[kind] = embed_tracks(ckpt, rows, manifest, device, chroma=weight > 0)
        tagging[kind] = tagging_metrics(ckpt, audio[kind], rows, label_sets, device)
    results: dict[str, dict[str, float]] = {}
    for name, (kind, field) in SETTINGS.items():
        rows = with_text(pools[kind], field)
        with torch.no_grad():
            text = embed_texts(ckpt.model, ckpt.tokenizer, [r.caption for r in rows], cfg.model.text.max_tokens,
                               device=device)
        bonus = key_bonus([r.caption for r in rows], text @ audio[kind].T, chroma[kind], weight)
        r = retrieval_both_directions(audio[kind], text, relevance=attribute_relevance(rows), bonus=bonus)
        t2a, a2t = r["text_to_audio"], r["audio_to_text"]
        results[name] = {"n": len(rows), "t2a_R@10": t2a["R@10"], "t2a_MedR": t2a["MedR"], "a2t_R@10": a2t["R@10"],
                         "a2t_MedR": a2t["MedR"], "attr_mAP@10": t2a.get("attr_mAP@10", float("nan")),
                         **tagging[kind]}
    base = results["a: in domain"]["t2a_R@10"]
    for block in results.values():
        block["ratio_to_a"] = block["t2a_R@10"] / base if base > 0 else float("nan")
    return results


def wording_gap(ckpt: Checkpoint, manifest: str | Path, seed: int = 0, device: str = "cpu",
                key_weight: float | None = None) -> dict[str, dict[str, float]]:
    """Where the held-out wording loses: the shift benchmark's training-soundfont pool queried with the generator's
    captions, then with the held-out sentence shapes and the short-query form, each in the held-out words (settings
    (c) and (d)) and again in the training words (the same facts drawn with the generator's lexicon, seeded), so
    the cost of new sentence shapes and the cost of new words read apart.

    Per row: text->audio R@10 and MedR (ranked as search ranks, as :func:`evaluate_shift`), attribute mAP@10
    (genre and lead instrument) and the same for the genre alone and the lead instrument alone, and the mean share
    of content words the text tower never saw (as its vocabulary bridge counts them; NaN without a bridge)."""
    rows = shift_pools(read_manifest(manifest, split="test"), seed)["seen"]
    for field in (HELDOUT_CAPTION, SHORT_QUERY):
        with_text(rows, field)  # a corpus made without --holdout-wording is refused with the fix
    cfg = ckpt.config
    weight = cfg.serve.key_weight if key_weight is None else key_weight
    audio, chromas = embed_tracks(ckpt, rows, manifest, device, chroma=weight > 0)
    rng = np.random.default_rng(seed)
    texts = {
        "generator captions": [r.caption for r in rows],
        "held-out shapes, held-out words (c)": [str(r.attributes[HELDOUT_CAPTION]) for r in rows],
        "held-out shapes, training words": [make_heldout_caption(r.attributes, rng, TRAINING) for r in rows],
        "short queries, held-out words (d)": [str(r.attributes[SHORT_QUERY]) for r in rows],
        "short queries, training words": [make_short_query(r.attributes, rng, TRAINING) for r in rows],
    }
    relevance = {keys: attribute_relevance(rows, keys) for keys in (("genre", "lead"), ("genre",), ("lead",))}
    bridge = getattr(ckpt.tokenizer, "bridge", None)
    results: dict[str, dict[str, float]] = {}
    for name, queries in texts.items():
        with torch.no_grad():
            text = embed_texts(ckpt.model, ckpt.tokenizer, queries, cfg.model.text.max_tokens, device=device)
        sim = text @ audio.T
        sim = sim + key_bonus(queries, sim, chromas, weight)
        m = retrieval_metrics(sim, relevance=relevance["genre", "lead"])
        results[name] = {"n": len(rows), "t2a_R@10": m["R@10"], "t2a_MedR": m["MedR"],
                         "attr_mAP@10": m["attr_mAP@10"], "genre_mAP@10": map_at_k(sim, relevance["genre",]),
                         "lead_mAP@10": map_at_k(sim, relevance["lead",]),
                         "unknown_share": float(np.mean([bridge.unknown_share(q) for q in queries]))
                         if bridge is not None else float("nan")}
    return results


SHIFT_COLUMNS = ("n", "t2a_R@10", "t2a_MedR", "a2t_R@10", "a2t_MedR", "attr_mAP@10", "genre_acc", "genre_ece",
                 "genre_ece_fitted", "instrument_auc", "mood_auc", "ratio_to_a")
GAP_COLUMNS = ("n", "t2a_R@10", "t2a_MedR", "attr_mAP@10", "genre_mAP@10", "lead_mAP@10", "unknown_share")


def shift_markdown(results: dict[str, dict[str, float]], cols: Sequence[str] = SHIFT_COLUMNS) -> str:
    """One row per setting (:func:`evaluate_shift`; ``cols=GAP_COLUMNS`` for :func:`wording_gap`)."""
    lines = ["| setting | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, m in results.items():
        cells = [f"{m.get(c, float('nan')):.0f}" if c == "n" or "MedR" in c else f"{m.get(c, float('nan')):.3f}"
                 for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
