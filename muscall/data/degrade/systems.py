"""Degradation "systems": one id per (type, level), a hand-set severity and a MOS-like pseudo-quality.

Severity is in [0, 1] and pseudo-quality is ``5 - 4 * severity`` (clean: severity 0.1, quality 4.6). The
severity tables are the calibration: levels of different types that sound about equally bad get about the
same severity (~0.17 barely audible, ~0.35 clearly audible, ~0.6 annoying, ~0.85 very annoying). Vorbis
at 16 kHz never gets very bad (its lowest quality still runs at ~33 kbps), so its scale stays short.

Per-clip labels add a jitter of at most :data:`JITTER`; every gap between neighbouring levels of one type is
more than twice that, so labels stay monotone in level within a type for every clip.

Split rule for evaluation on unseen levels: each row gets ``level_split`` = ``"both"`` (clean),
``"test"`` (its level is in ``holdout_levels`` or its type in ``holdout_types``) or ``"train"``. Train a
scorer on ``split == "train"`` rows with ``level_split != "test"``; evaluate unseen clips AND levels on
``split == "test"`` rows with ``level_split != "train"`` (see :func:`select_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from muscall.data.degrade import effects
from muscall.data.degrade.codecs import available_codecs, codec_roundtrip
from muscall.data.manifest import ClipRow
from muscall.errors import MuscallError

CLEAN = "clean"
CLEAN_SEVERITY = 0.1
JITTER = 0.1  # max absolute per-clip jitter of the MI label
DEFAULT_HOLDOUT_LEVELS = (2, 4)
Effect = Callable[[np.ndarray, int, float, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class DegradationType:
    """A degradation with one parameter value and one severity per level (levels 1..4)."""

    name: str
    param: str
    values: tuple[float, ...]
    severities: tuple[float, ...]
    label: str  # system id pattern, ``{v}`` is the formatted value
    keep_level: bool = False  # True: do not bring the output back to the source RMS (dropouts)


def _codec(name: str) -> Effect:
    return lambda x, sr, level, rng: codec_roundtrip(x, sr, name, level)


TYPES: dict[str, DegradationType] = {t.name: t for t in [
    DegradationType("white", "snr_db", (30, 20, 10, 0), (0.18, 0.38, 0.62, 0.86), "white_snr{v}"),
    DegradationType("pink", "snr_db", (30, 20, 10, 0), (0.16, 0.33, 0.57, 0.82), "pink_snr{v}"),
    DegradationType("clip", "clipped_fraction", (0.01, 0.03, 0.08, 0.2), (0.18, 0.38, 0.62, 0.86), "clip_{v}pct"),
    DegradationType("lowpass", "cutoff_hz", (6000, 4000, 2500, 1200), (0.16, 0.32, 0.52, 0.76), "lowpass_{v}hz"),
    DegradationType("mp3", "compression_level", (0.6, 0.8, 0.9, 0.97), (0.16, 0.32, 0.47, 0.66), "mp3_c{v}"),
    DegradationType("vorbis", "compression_level", (0.3, 0.6, 0.85, 1.0), (0.16, 0.23, 0.3, 0.37), "vorbis_c{v}"),
    DegradationType("opus", "compression_level", (0.85, 0.93, 0.97, 1.0), (0.16, 0.32, 0.47, 0.72), "opus_c{v}"),
    DegradationType("dropout", "silenced_fraction", (0.02, 0.05, 0.1, 0.2), (0.2, 0.4, 0.6, 0.8), "dropout_{v}pct",
                    keep_level=True),
    DegradationType("wow", "speed_depth", (0.002, 0.005, 0.01, 0.02), (0.18, 0.38, 0.58, 0.82), "wow_{v}pct"),
]}
EFFECTS: dict[str, Effect] = {
    "white": effects.add_white_noise, "pink": effects.add_pink_noise, "clip": effects.hard_clip,
    "lowpass": effects.low_pass, "dropout": effects.dropouts, "wow": effects.wow_flutter,
    "mp3": _codec("mp3"), "vorbis": _codec("vorbis"), "opus": _codec("opus"),
}
PERCENT_PARAMS = {"clipped_fraction", "silenced_fraction", "speed_depth"}


@dataclass(frozen=True)
class System:
    """One (type, level); level 0 is the clean system."""

    id: str
    type: str
    level: int
    param: str | None
    value: float | None
    severity: float

    @property
    def quality(self) -> float:
        """MOS-like pseudo-quality on 1..5."""
        return quality_of(self.severity)

    def to_json(self, level_split: str) -> dict[str, Any]:
        """The systems.json entry."""
        params = {self.param: self.value} if self.param else {}
        return {"type": self.type, "level": self.level, "severity": self.severity,
                "quality": round(self.quality, 4), "params": params, "level_split": level_split}


def quality_of(severity: float) -> float:
    """Pseudo-quality ``5 - 4 * severity`` clipped to [1, 5]."""
    return float(min(5.0, max(1.0, 5.0 - 4.0 * severity)))


def _format_value(param: str, value: float) -> str:
    if param == "compression_level":
        return f"{round(value * 100):d}"
    if param in PERCENT_PARAMS:
        value = round(value * 100, 3)
    text = f"{value:g}"
    return text.replace(".", "p")


def default_types() -> list[str]:
    """Every degradation type this machine can make (codecs missing from libsndfile are left out)."""
    codecs = set(available_codecs())
    return [t for t in TYPES if t not in ("mp3", "vorbis", "opus") or t in codecs]


def check_types(names: Iterable[str]) -> list[str]:
    """Validate degradation type names against :data:`TYPES` and this libsndfile; returns them in table order."""
    names = list(names)
    unknown = [n for n in names if n not in TYPES]
    if unknown:
        raise MuscallError(f"unknown degradation type '{unknown[0]}'; choose from {', '.join(TYPES)}")
    usable = default_types()
    missing = [n for n in names if n not in usable]
    if missing:
        raise MuscallError(f"degradation '{missing[0]}' needs a codec this libsndfile lacks "
                           f"(soundfile.available_subtypes); leave it out of --types")
    return [t for t in TYPES if t in names]


def build_systems(types: Iterable[str]) -> list[System]:
    """The clean system followed by every level of each type, in table order."""
    systems = [System(CLEAN, CLEAN, 0, None, None, CLEAN_SEVERITY)]
    for name in check_types(types):
        t = TYPES[name]
        for level, (value, severity) in enumerate(zip(t.values, t.severities), start=1):
            sid = t.label.format(v=_format_value(t.param, value))
            systems.append(System(sid, name, level, t.param, float(value), severity))
    return systems


def apply_system(system: System, x: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """The degraded version of ``x`` for ``system`` (the clean system returns a copy), same length."""
    if system.type == CLEAN:
        return x.astype(np.float32, copy=True)
    y = EFFECTS[system.type](x, sample_rate, float(system.value), rng)
    return y.astype(np.float32) if TYPES[system.type].keep_level else effects.match_level(y, x)


def level_split(system: System, holdout_levels: Iterable[int], holdout_types: Iterable[str] = ()) -> str:
    """``"both"`` for clean, ``"test"`` for held-out levels or types, else ``"train"``."""
    if system.level == 0:
        return "both"
    return "test" if system.level in set(holdout_levels) or system.type in set(holdout_types) else "train"


def jittered_quality(system: System, rng: np.random.Generator) -> float:
    """The system's pseudo-quality plus uniform jitter in [-JITTER, JITTER], kept in [1, 5]."""
    return float(min(5.0, max(1.0, system.quality + rng.uniform(-JITTER, JITTER))))


def select_rows(rows: Iterable[ClipRow], split: str, levels: str = "all") -> list[ClipRow]:
    """Rows of one clip split; ``levels`` = "seen" (training levels), "unseen" (held-out levels) or "all".

    "seen" drops rows whose ``level_split`` is "test", "unseen" drops those whose ``level_split`` is "train",
    "all" keeps every row of the split. Clean rows (level_split "both") and rows without a ``level_split``
    (e.g. not made by ``degrade``) belong to both "seen" and "unseen".
    """
    if levels not in ("seen", "unseen", "all"):
        raise MuscallError(f"levels='{levels}': use seen, unseen or all")
    dropped = {"seen": "test", "unseen": "train", "all": None}[levels]
    return [r for r in rows if r.split == split
            and (dropped is None or r.attributes.get("level_split") != dropped)]
