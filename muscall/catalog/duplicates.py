"""``muscall index duplicates``: the same recording twice in a saved index, written as CSV or JSON pairs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from index import open_catalog
from index.duplicates import DEFAULT_THRESHOLD, DuplicatePair, catalog_duplicates, shard_windows
from index.fileio import atomic_write_text
from muscall.catalog.indexing import user_errors
from muscall.errors import MuscallError

FIELDS = ("track_a", "track_b", "score", "track_cosine", "window_cosine")


def index_duplicates(index_dir: str | Path, threshold: float = DEFAULT_THRESHOLD, windows_dir: str | Path | None = None,
                     k: int = 10) -> list[DuplicatePair]:
    """Every duplicate pair of a saved index; ``windows_dir`` (the embedding catalog) adds window alignment."""
    with user_errors():
        windows = shard_windows(windows_dir) if windows_dir is not None else None
        with open_catalog(index_dir) as catalog:
            return catalog_duplicates(catalog, threshold, windows, k)


def write_pairs(pairs: list[DuplicatePair], out: str | Path) -> Path:
    """Write pairs as ``.csv`` or ``.json`` (by the suffix), atomically."""
    out = Path(out)
    if out.suffix.lower() == ".json":
        atomic_write_text(out, json.dumps([p.to_dict() for p in pairs], indent=2) + "\n")
    elif out.suffix.lower() == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(p.to_dict() for p in pairs)
        atomic_write_text(out, buffer.getvalue())
    else:
        raise MuscallError(f"--out '{out}': write pairs to a .csv or .json file")
    return out


def format_pairs(pairs: list[DuplicatePair]) -> str:
    """A plain table of the pairs for the terminal."""
    if not pairs:
        return "no duplicate pairs at this threshold"
    lines = [f"{'score':>7} {'track':>7} {'window':>7}  tracks"]
    for p in pairs:
        window = "" if p.window_cosine is None else f"{p.window_cosine:.4f}"
        lines.append(f"{p.score:7.4f} {p.track_cosine:7.4f} {window:>7}  {p.track_a}  ==  {p.track_b}")
    return "\n".join(lines)
