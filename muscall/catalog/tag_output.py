"""Tagging output: per-part score files (the unit of resumption) merged into one Parquet or CSV table.

Columns: ``track_id``, ``title``, ``top_label``, ``top_score`` (the best candidate, even when it is not a tag),
``labels`` (the labels that became tags; a list in Parquet, ``|``-joined in CSV), ``abstained`` (true when no
label became a tag: "none of these") and one ``score:<label>`` column per label.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from index.fileio import atomic_path
from muscall.catalog.label_scores import Scorer
from muscall.errors import MuscallError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
Part = tuple[list[str], list[str], np.ndarray]


def output_format(path: str | Path) -> str:
    """``parquet`` or ``csv`` from the file suffix."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise MuscallError(f"--out '{path}' must end in .parquet or .csv")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as err:
            raise MuscallError("writing Parquet needs pyarrow (pip install pyarrow); or use --out tags.csv") from err
    return fmt


def part_path(parts_dir: Path, part: int) -> Path:
    """Score file of one part."""
    return parts_dir / f"part-{part:05d}.npz"


def done_parts(parts_dir: Path) -> set[int]:
    """Parts whose score file is committed."""
    return {int(p.name[5:10]) for p in parts_dir.glob("part-*.npz")}


def write_part(parts_dir: Path, part: int, track_ids: Sequence[str], titles: Sequence[str],
               scores: np.ndarray) -> None:
    """Commit one part's scores atomically."""
    with atomic_path(part_path(parts_dir, part)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, track_id=np.array(track_ids, dtype=str), title=np.array(titles, dtype=str),
                 scores=np.asarray(scores, dtype=np.float32))


def read_parts(parts_dir: Path, n_parts: int) -> Iterator[Part]:
    """Every part's (track ids, titles, scores) in order."""
    for part in range(n_parts):
        path = part_path(parts_dir, part)
        if not path.exists():
            raise MuscallError(f"{path} is missing; rerun the tag command to finish the job")
        with np.load(path, allow_pickle=False) as data:
            yield data["track_id"].tolist(), data["title"].tolist(), data["scores"]


def write_table(path: Path, parts: Iterator[Part], scorer: Scorer, metadata: dict[str, Any]) -> int:
    """Write the merged table (streamed part by part) atomically; return its row count."""
    fmt = output_format(path)
    with atomic_path(path) as tmp:
        return (_write_parquet if fmt == "parquet" else _write_csv)(tmp, parts, scorer, metadata)


def score_columns(labels: Sequence[str]) -> list[str]:
    """Names of the per-label score columns."""
    return [f"score:{label}" for label in labels]


def _rows(scorer: Scorer, scores: np.ndarray) -> tuple[list[str], np.ndarray, list[list[str]], np.ndarray]:
    """Top labels, top scores, chosen label lists and abstentions (no label chosen) of one part."""
    top, chosen = scorer.select(scores)
    labels = scorer.labels
    return ([labels[i] for i in top], scores[np.arange(len(scores)), top],
            [[labels[j] for j in np.flatnonzero(row)] for row in chosen], ~chosen.any(axis=1))


def _write_parquet(tmp: Path, parts: Iterator[Part], scorer: Scorer, metadata: dict[str, Any]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fields = [pa.field("track_id", pa.string()), pa.field("title", pa.string()), pa.field("top_label", pa.string()),
              pa.field("top_score", pa.float32()), pa.field("labels", pa.list_(pa.string())), pa.field("abstained", pa.bool_())]
    fields += [pa.field(name, pa.float32()) for name in score_columns(scorer.labels)]
    schema = pa.schema(fields, metadata={"muscall": json.dumps(metadata)})
    n = 0
    with pq.ParquetWriter(str(tmp), schema) as writer:
        for ids, titles, scores in parts:
            top, top_score, chosen, abstained = _rows(scorer, scores)
            columns = [ids, titles, top, top_score.astype(np.float32), chosen, abstained] + [scores[:, j] for j in
                                                                                 range(scores.shape[1])]
            writer.write_table(pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, fields)],
                                                    schema=schema))
            n += len(ids)
    return n


def _write_csv(tmp: Path, parts: Iterator[Part], scorer: Scorer, metadata: dict[str, Any]) -> int:
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["track_id", "title", "top_label", "top_score", "labels", "abstained",
                      *score_columns(scorer.labels)])
        for ids, titles, scores in parts:
            top, top_score, chosen, abstained = _rows(scorer, scores)
            for i in range(len(ids)):
                out.writerow([ids[i], titles[i], top[i], f"{top_score[i]:.6g}", "|".join(chosen[i]),
                              str(bool(abstained[i])).lower(), *(f"{s:.6g}" for s in scores[i])])
            n += len(ids)
    return n
