"""``muscall index duplicates``: the same recording twice in a saved index, written as CSV or JSON pairs."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

from index import open_catalog
from index.duplicates import DEFAULT_THRESHOLD, Confirm, DuplicatePair, catalog_duplicates, of_kind, shard_windows
from index.fingerprint import DEFAULT_THRESHOLD as FINGERPRINT_THRESHOLD
from index.fingerprint import shard_fingerprints, shard_levels
from index.fileio import atomic_write_text
from muscall.catalog.indexing import user_errors
from muscall.errors import MuscallError

FIELDS = ("track_a", "track_b", "kind", "score", "track_cosine", "window_cosine", "fingerprint", "offset_s",
          "overlap_s", "level_spread_db")
log = logging.getLogger(__name__)


def index_duplicates(index_dir: str | Path, threshold: float = DEFAULT_THRESHOLD, windows_dir: str | Path | None = None,
                     k: int = 10, catalog_dir: str | Path | None = None,
                     fingerprint_threshold: float | None = None, kind: str = "all") -> list[DuplicatePair]:
    """Every duplicate pair of a saved index: vector candidates, confirmed by the recording fingerprints of the
    embedding catalog ``catalog_dir`` (default ``windows_dir``) when it stores them; ``windows_dir`` (the
    embedding catalog) adds window alignment. ``kind`` keeps only copies or only versions (``of_kind``)."""
    with user_errors():
        windows = shard_windows(windows_dir) if windows_dir is not None else None
        confirm = fingerprint_stage(catalog_dir or windows_dir, fingerprint_threshold)
        with open_catalog(index_dir) as catalog:
            return of_kind(catalog_duplicates(catalog, threshold, windows, k, confirm), kind)


def fingerprint_stage(catalog_dir: str | Path | None, threshold: float | None = None) -> Confirm | None:
    """Fingerprint confirmation over an embedding catalog's fingerprints; None (with a log line) without them."""
    threshold = FINGERPRINT_THRESHOLD if threshold is None else threshold
    if not 0.0 <= threshold <= 1.0:
        raise MuscallError(f"--fingerprint-threshold {threshold} is not a 1 - bit error rate; give a value in "
                           f"[0, 1] (default {FINGERPRINT_THRESHOLD})")
    prints = shard_fingerprints(catalog_dir) if catalog_dir is not None else None
    if prints is None:
        where = f"embedding catalog '{catalog_dir}' stores" if catalog_dir is not None else "no --catalog given, so"
        log.warning("%s no recording fingerprints: duplicates are judged by their vectors alone, which also pair "
                    "distinct tracks that sound alike; re-embed with this muscall and pass --catalog CATALOG", where)
        return None
    levels = shard_levels(catalog_dir)
    if levels is None:
        log.warning("embedding catalog '%s' stores no level profiles: pairs are not told apart as copies or "
                    "versions; re-embed with this muscall to get them", catalog_dir)
    return Confirm(prints, threshold, levels)


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
    lines = [f"{'kind':>7} {'score':>7} {'track':>7} {'window':>7} {'print':>6} {'offset':>7} {'levels':>6}  tracks"]
    for p in pairs:
        window = "" if p.window_cosine is None else f"{p.window_cosine:.4f}"
        printed = "" if p.fingerprint is None else f"{p.fingerprint:.3f}"
        offset = "" if p.offset_s is None else f"{p.offset_s:+.1f}s"
        spread = "" if p.level_spread_db is None else f"{p.level_spread_db:.2f}"
        lines.append(f"{p.kind or '':>7} {p.score:7.4f} {p.track_cosine:7.4f} {window:>7} {printed:>6} {offset:>7} "
                     f"{spread:>6}  {p.track_a}  ==  {p.track_b}")
    return "\n".join(lines)
