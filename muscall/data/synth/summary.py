"""What a generated corpus holds: clips per genre / soundfont and split, total duration, the last run's speed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from muscall.data.manifest import SPLITS, ClipRow, read_manifest
from muscall.errors import MuscallError


@dataclass
class CorpusSummary:
    """Counts for a corpus folder, plus run statistics when it was just generated."""

    out: str
    clips: int
    total_seconds: float
    sample_rate: int | None = None
    audio_format: str | None = None
    per_genre_split: dict[str, dict[str, int]] = field(default_factory=dict)
    rendered: int = 0  # clips rendered by this run
    reused: int = 0  # clips taken from shards finished by an earlier run
    workers: int | None = None
    elapsed_s: float | None = None
    missing_audio: int = 0
    per_soundfont_split: dict[str, dict[str, int]] = field(default_factory=dict)
    holdout_soundfont: str | None = None

    def __str__(self) -> str:
        return format_summary(self)

    @property
    def per_genre(self) -> dict[str, int]:
        return {g: sum(s.values()) for g, s in self.per_genre_split.items()}

    @property
    def per_split(self) -> dict[str, int]:
        return {s: sum(c.get(s, 0) for c in self.per_genre_split.values()) for s in SPLITS}

    @property
    def clips_per_s(self) -> float | None:
        if not self.elapsed_s or not self.rendered:
            return None
        return self.rendered / self.elapsed_s


def count_rows(rows: list[ClipRow], attribute: str = "genre") -> dict[str, dict[str, int]]:
    """attribute value (genre by default) -> split -> clips."""
    table: dict[str, dict[str, int]] = {}
    for row in rows:
        value = str(row.attributes.get(attribute, "unknown"))
        table.setdefault(value, {s: 0 for s in SPLITS})[row.split] += 1
    return table


def summarize_corpus(out: str | Path) -> CorpusSummary:
    """Summarise a corpus folder made by ``muscall data synth`` (reads manifest.jsonl and corpus.json)."""
    out = Path(out)
    manifest = out / "manifest.jsonl"
    if not manifest.is_file():
        raise MuscallError(f"'{out}' holds no manifest.jsonl; generate a corpus there with "
                           f"'muscall data synth --out {out}'")
    rows = read_manifest(manifest)
    meta = {}
    if (out / "corpus.json").is_file():
        meta = json.loads((out / "corpus.json").read_text())
    settings = meta.get("settings", {})
    missing = sum(not (out / r.audio_path).is_file() for r in rows)
    return CorpusSummary(str(out), len(rows), float(sum(r.duration or 0.0 for r in rows)),
                         settings.get("sample_rate"), settings.get("audio_format"), count_rows(rows),
                         missing_audio=missing, per_soundfont_split=_sound_table(rows),
                         holdout_soundfont=settings.get("holdout_soundfont") or None)


def _sound_table(rows: list[ClipRow]) -> dict[str, dict[str, int]]:
    """soundfont -> split -> clips, for corpora whose rows record their soundfont."""
    return count_rows(rows, "soundfont") if any("soundfont" in r.attributes for r in rows) else {}


def format_summary(summary: CorpusSummary) -> str:
    """A short human-readable report: totals, speed, and a genre x split table."""
    hours = summary.total_seconds / 3600
    each = summary.total_seconds / summary.clips if summary.clips else 0.0
    lines = [f"corpus {summary.out}: {summary.clips} clips, {hours:.2f} h of audio ({each:.1f} s each)"
             + (f", {summary.sample_rate} Hz {summary.audio_format}" if summary.sample_rate else "")]
    if summary.elapsed_s is not None:
        rate = summary.clips_per_s
        plural = "s" if summary.workers != 1 else ""
        speed = f" ({rate:.1f} clips/s with {summary.workers} worker{plural})" if rate else ""
        lines.append(f"rendered {summary.rendered} clips in {summary.elapsed_s:.1f} s{speed}; "
                     f"{summary.reused} reused from an earlier run")
    if summary.missing_audio:
        lines.append(f"WARNING: {summary.missing_audio} audio files listed in the manifest are missing")
    held = {summary.holdout_soundfont: f"{summary.holdout_soundfont} (held out)"} if summary.holdout_soundfont else {}
    sounds = {held.get(k, k): v for k, v in summary.per_soundfont_split.items()}
    width = max([len("genre"), *map(len, summary.per_genre_split), *map(len, sounds)]) + 2
    lines.append("genre".ljust(width) + "".join(s.rjust(7) for s in (*SPLITS, "total")))
    lines += _table_lines(summary.per_genre_split, width)
    totals = summary.per_split
    lines.append("total".ljust(width) + "".join(str(totals[s]).rjust(7) for s in SPLITS) + str(summary.clips).rjust(7))
    if sounds:
        lines.append("soundfont")
        lines += _table_lines(sounds, width)
    return "\n".join(lines)


def _table_lines(table: dict[str, dict[str, int]], width: int) -> list[str]:
    return [name.ljust(width) + "".join(str(splits.get(s, 0)).rjust(7) for s in SPLITS)
            + str(sum(splits.values())).rjust(7) for name, splits in table.items()]
