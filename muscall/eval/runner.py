"""``muscall eval``: retrieval and zero-shot evaluation of a checkpoint on a manifest split."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from muscall.checkpoint import Checkpoint
from muscall.data.manifest import ClipRow, caption_of, read_manifest
from muscall.data.mels import MelSource
from muscall.embedding import embed_mels, embed_pairs, embed_texts
from muscall.errors import MuscallError
from muscall.eval.calibration import DEFAULT_BINS, T_MAX, T_MIN, calibration_block, fit_temperature
from muscall.eval.metrics import (confusion_matrix, multilabel_auc, pool_sample, rank_of_targets,
                                  retrieval_both_directions, zero_shot_accuracy)
from muscall.eval.multi_caption import multi_caption_retrieval
from muscall.eval.report import markdown_table, plot_confusion, plot_recall_curve, write_json
from muscall.keys import key_bonus
from muscall.zeroshot import build_classifier, fitted_temperature, save_fitted_temperature, templates_for

log = logging.getLogger(__name__)
# Attribute-level relevance: a clip is relevant to a query when it shares the query clip's genre and lead
# instrument, the two facts every generated caption states (tempo, key and mood words appear only sometimes).
MATCH_KEYS = ("genre", "lead")


def split_rows(manifest: str | Path, split: str, pool_size: int | None, seed: int) -> list[ClipRow]:
    """The rows of ``split``, optionally a seeded pool of them."""
    rows = read_manifest(manifest, split=split)
    if not rows:
        raise MuscallError(f"manifest '{manifest}' has no '{split}' rows; pick another --split")
    if pool_size is not None and pool_size < len(rows):
        rows = [rows[i] for i in pool_sample(len(rows), pool_size, seed)]
    return rows


def embed_tracks(ckpt: Checkpoint, rows: Sequence[ClipRow], manifest: str | Path, device: str = "cpu",
                 chroma: bool = False) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Track embeddings of ``rows`` (full-track windows) and, with ``chroma``, each row's chroma profile
    (:mod:`muscall.keys`) from the same decode, to rank text->audio as text search does (None each without)."""
    chromas: list[np.ndarray | None] = [None] * len(rows)
    mels = _decoded(MelSource(rows, manifest, ckpt.config.audio), chromas if chroma else None)
    with torch.no_grad():
        return embed_mels(ckpt.model, mels, ckpt.config.audio, device=device).tracks, chromas


def embed_rows(ckpt: Checkpoint, rows: Sequence[ClipRow], manifest: str | Path, device: str = "cpu",
               chroma: bool = False) -> tuple[np.ndarray, np.ndarray, list[np.ndarray | None]]:
    """Track (full-track windows) and caption embeddings of ``rows`` (each row's ``caption``, or the
    checkpoint's ``data.caption_field``, as in validation), and chroma profiles as :func:`embed_tracks` gives them."""
    chromas: list[np.ndarray | None] = [None] * len(rows)
    mels = _decoded(MelSource(rows, manifest, ckpt.config.audio), chromas if chroma else None)
    cfg = ckpt.config
    with torch.no_grad():
        audio, text = embed_pairs(ckpt.model, ckpt.tokenizer, mels, rows, cfg.audio, cfg.model.text.max_tokens,
                                  cfg.data.caption_field, device=device)
    return audio, text, chromas


def embed_all_captions(ckpt: Checkpoint, rows: Sequence[ClipRow], manifest: str | Path, device: str = "cpu",
                       chroma: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray | None]]:
    """Track embeddings, embeddings of every caption of every row, each caption's row index, and chroma profiles
    as :func:`embed_tracks` gives them."""
    audio, chromas = embed_tracks(ckpt, rows, manifest, device, chroma)
    texts = [(i, c) for i, row in enumerate(rows) for c in row.all_captions()]
    with torch.no_grad():
        text = embed_texts(ckpt.model, ckpt.tokenizer, [c for _, c in texts], ckpt.config.model.text.max_tokens,
                           device=device)
    return audio, text, np.array([i for i, _ in texts], dtype=np.int64), chromas


def _decoded(source: MelSource, chromas: list[np.ndarray | None] | None) -> Iterator[np.ndarray]:
    """The source's log-mels in order; each row's chroma profile goes into ``chromas`` from the same decode."""
    for i in range(len(source)):
        if chromas is None:
            yield source[i]
        else:
            mel, chromas[i] = source.with_chroma(i)
            yield mel


def attribute_relevance(rows: Sequence[ClipRow], keys: Sequence[str] = MATCH_KEYS) -> np.ndarray | None:
    """``rel[i, j]``: clip j has the same values as clip i for every key in ``keys`` that both rows carry."""
    facts = [_facts(r, keys) for r in rows]
    if not any(facts):
        return None
    rel = np.eye(len(rows), dtype=bool)  # a row without facts is relevant to its own clip only
    for i, fi in enumerate(facts):
        if fi:
            rel[i] = [bool(fj) and all(fj.get(k) == v for k, v in fi.items()) for fj in facts]
    return rel


def evaluate_retrieval(ckpt: Checkpoint, manifest: str | Path, split: str = "test", pool_size: int | None = None,
                       seed: int = 0, out: str | Path | None = None, device: str = "cpu",
                       protocol: str = "single", key_weight: float | None = None) -> dict[str, Any]:
    """Both directions: R@1/5/10, mAP@10, MedR and attribute-level mAP@10 / nDCG@10.

    ``protocol="single"``: each track's first caption (MusCALL, diagonal targets); ``"multi"``: every caption of a
    track is a query and any of them is relevant to the track (Song Describer; :mod:`muscall.eval.multi_caption`).
    Text->audio ranks as text search does: plus the key agreement of :mod:`muscall.keys` (``key_weight``, default
    the checkpoint's ``serve.key_weight``; 0: the embeddings alone).
    """
    if protocol not in ("single", "multi"):
        raise MuscallError(f"retrieval protocol '{protocol}' is not single or multi")
    rows = split_rows(manifest, split, pool_size, seed)
    weight = ckpt.config.serve.key_weight if key_weight is None else key_weight
    if protocol == "multi":
        audio, text, owner, chromas = embed_all_captions(ckpt, rows, manifest, device, chroma=weight > 0)
        bonus = key_bonus([c for r in rows for c in r.all_captions()], text @ audio.T, chromas, weight)
        results = multi_caption_retrieval(audio, text, owner, bonus=bonus)
        pairs = (text @ audio.T + bonus, owner)
    else:
        audio, text, chromas = embed_rows(ckpt, rows, manifest, device, chroma=weight > 0)
        bonus = key_bonus([caption_of(r, ckpt.config.data.caption_field) for r in rows], text @ audio.T, chromas,
                          weight)
        results = retrieval_both_directions(audio, text, relevance=attribute_relevance(rows), bonus=bonus)
        results["protocol"] = "single"
        pairs = (text @ audio.T + bonus, None)
    results["key_weight"] = weight
    results["pool"]["seed"] = seed if pool_size is not None else None
    results["split"], results["checkpoint"] = split, str(ckpt.path)
    results["tie_rule"] = "pessimistic: items scoring equal to the target rank ahead of it"
    if out is not None:
        out = Path(out)
        write_json(out / "retrieval.json", results)
        (out / "retrieval.md").write_text(markdown_table(results))
        ranks = {"text->audio": rank_of_targets(*pairs)}
        if protocol == "single":
            ranks["audio->text"] = rank_of_targets(audio @ text.T, None)
        plot_recall_curve(ranks, out / "recall_at_k.png")
    return results


def evaluate_zeroshot(ckpt: Checkpoint, manifest: str | Path, label_sets: dict[str, list[str]], split: str = "test",
                      ensemble: bool = True, out: str | Path | None = None, device: str = "cpu",
                      fit: bool = False, n_bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """Genre accuracy and calibration (single label); macro ROC-AUC / PR-AUC for multi-label sets.

    ``fit``: fit the genre temperature on this split and store it in the checkpoint folder (see zeroshot).
    """
    if fit and "genres" not in label_sets:
        raise MuscallError(f"--fit-temperature fits the 'genres' label set, and the label file has only "
                           f"{sorted(label_sets)}; give a label file with a 'genres' set")
    if n_bins < 1:
        raise MuscallError(f"--bins must be >= 1, got {n_bins}")
    rows = split_rows(manifest, split, None, 0)
    audio, _ = embed_tracks(ckpt, rows, manifest, device)
    results: dict[str, Any] = {"split": split, "n_clips": len(rows), "ensemble": ensemble, "checkpoint": str(ckpt.path)}
    for name, classes in label_sets.items():
        templates = templates_for(name, ensemble)
        weights = build_classifier(ckpt.model, ckpt.tokenizer, classes, templates, ckpt.config.model.text.max_tokens,
                                   device=device)
        scores = audio @ weights.T
        truth = [labels_of(r, name) for r in rows]
        block: dict[str, Any] = {"templates": templates, "n_classes": len(classes)}
        if name == "genres":
            keep = [i for i, t in enumerate(truth) if len(t) == 1 and t[0] in classes]
            if not keep:
                raise MuscallError(f"no '{split}' row has a genre from the label set; zero-shot genre accuracy needs "
                                   "rows with attributes.genre (or a label file without a 'genres' set)")
            labels = np.array([classes.index(truth[i][0]) for i in keep])
            block["accuracy"] = zero_shot_accuracy(scores[keep], labels)
            block["chance"] = 1.0 / len(classes)
            cm = confusion_matrix(labels, scores[keep], len(classes))
            block["confusion"] = cm.tolist()
            block["calibration"] = genre_calibration(ckpt, scores[keep], labels, classes, templates, split, fit,
                                                     n_bins)
            if out is not None:
                plot_confusion(cm, classes, Path(out) / "genre_confusion.png")
        else:
            targets = np.array([[c in t for c in classes] for t in truth], dtype=int)
            try:
                block.update(multilabel_auc(scores, targets, classes))
            except ValueError as err:
                raise MuscallError(f"label set '{name}': {err}") from err
        results[name] = block
    if out is not None:
        write_json(Path(out) / "zeroshot.json", results)
        (Path(out) / "zeroshot.md").write_text(zeroshot_markdown(results))
    return results


def genre_calibration(ckpt: Checkpoint, cos: np.ndarray, labels: np.ndarray, classes: list[str],
                      templates: list[str], split: str, fit: bool, n_bins: int) -> dict[str, Any]:
    """ECE before (the model's temperature) and after (the fitted one: fitted now when ``fit``, else stored)."""
    model_t = 1.0 / float(ckpt.model.scale().detach())
    result: dict[str, Any] = {"before": calibration_block(cos, labels, model_t, n_bins)}
    if fit:
        t = fit_temperature(cos, labels)
        if not T_MIN * 1.01 < t < T_MAX / 1.01:
            log.warning("the fitted genre temperature %.4g is at the search's bound [%g, %g]: on this split the "
                        "scores %s", t, T_MIN, T_MAX, "say nothing about the genre (probabilities become uniform)"
                        if t > 1 else "separate the genres perfectly; fit on more or harder validation clips")
        info = {"temperature": t, "labels": classes, "templates": templates, "split": split, "n": len(labels),
                "nll_before": result["before"]["nll"]}
        result["stored"] = str(save_fitted_temperature(ckpt.path, ckpt.sha256, "genres", info))
    else:
        t = fitted_temperature(ckpt.path, ckpt.sha256, "genres", classes, templates)
    if t is not None:
        result["after"] = calibration_block(cos, labels, t, n_bins)
    return result


def zeroshot_markdown(results: dict[str, Any]) -> str:
    """A small markdown table of the zero-shot results, templates listed."""
    lines = [f"Split: {results['split']} ({results['n_clips']} clips), prompt ensembling: {results['ensemble']}", "",
             "| label set | classes | metric | value | chance |", "|---|---|---|---|---|"]
    for name, block in results.items():
        if not isinstance(block, dict):
            continue
        if "accuracy" in block:
            lines.append(f"| {name} | {block['n_classes']} | accuracy | {block['accuracy']:.3f} | {block['chance']:.3f} |")
        if "roc_auc_macro" in block:
            lines.append(f"| {name} | {block['n_classes']} | macro ROC-AUC | {block['roc_auc_macro']:.3f} | 0.500 |")
            lines.append(f"| {name} | {block['n_classes']} | macro PR-AUC | {block['pr_auc_macro']:.3f} | |")
    lines += _calibration_lines(results)
    lines.append("")
    for name, block in results.items():
        if isinstance(block, dict) and "templates" in block:
            lines.append(f"Templates for {name}: " + "; ".join(f"`{t}`" for t in block["templates"]))
    return "\n".join(lines) + "\n"


def _calibration_lines(results: dict[str, Any]) -> list[str]:
    """ECE / NLL before and after temperature calibration, then the reliability table of the best one."""
    calib = results.get("genres", {}).get("calibration") if isinstance(results.get("genres"), dict) else None
    if not calib:
        return []
    lines = ["", "| genres calibration | temperature | ECE | NLL | mean top-1 probability |", "|---|---|---|---|---|"]
    for when in ("before", "after"):
        if when in calib:
            b = calib[when]
            lines.append(f"| {when} | {b['temperature']:.4g} | {b['ece']:.4f} | {b['nll']:.4f} | "
                         f"{b['mean_confidence']:.3f} |")
    if "after" not in calib:
        lines.append("| after | no fitted temperature: run with --split val --fit-temperature | | | |")
    final = calib.get("after", calib["before"])
    lines += ["", f"Reliability ({'after' if 'after' in calib else 'before'} calibration):", "",
              "| top-1 probability | clips | confidence | accuracy |", "|---|---|---|---|"]
    for r in final["reliability"]:
        if r["count"]:
            lines.append(f"| {r['low']:.3f}-{r['high']:.3f} | {r['count']} | {r['confidence']:.3f} | "
                         f"{r['accuracy']:.3f} |")
    return lines


def _facts(row: ClipRow, keys: Sequence[str]) -> dict[str, Any]:
    attrs = dict(row.attributes)
    for inst in attrs.get("instruments", []):
        if isinstance(inst, dict) and "role" in inst:
            attrs.setdefault(inst["role"], inst.get("name"))
    return {k: attrs[k] for k in keys if attrs.get(k) is not None}


def labels_of(row: ClipRow, label_set: str) -> list[str]:
    """The labels of ``row`` in a label set: its genre, instrument names, moods, or (other sets) its tags."""
    attrs = row.attributes
    if label_set == "genres":
        return [attrs["genre"]] if "genre" in attrs else []
    if label_set == "instruments":
        return [i["name"] if isinstance(i, dict) else str(i) for i in attrs.get("instruments", [])]
    if label_set == "moods":
        return list(attrs.get("moods", []))
    return [t for t in row.tags]
