"""Degrade one source clip into every system, pair each version with a caption variant, and one shard of clips.

Everything random about a clip is drawn from streams seeded by ``(seed, hash(clip id), purpose[, system])``,
so a clip's output does not depend on the shard size, the worker count or the other clips.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from index.fileio import atomic_path
from muscall.data.degrade.captions import caption_variants
from muscall.data.degrade.facts import Vocabulary
from muscall.data.degrade.systems import System, apply_system, build_systems, jittered_quality, level_split
from muscall.data.manifest import ClipRow, resolve_audio_path, write_manifest
from muscall.errors import AudioLoadError

FORMATS = {"flac": ("FLAC", "PCM_16"), "wav": ("WAV", "PCM_16")}
CAPTION, SYSTEMS, EFFECT, JITTER, SELECT = range(5)  # random stream purposes


@dataclass(frozen=True)
class DegradeSettings:
    """Everything that decides the output (a resumed run must use the same)."""

    corpus_manifest: str
    corpus_sha256: str
    clips: int = 100
    seed: int = 0
    types: tuple[str, ...] = ()
    holdout_levels: tuple[int, ...] = (2, 4)
    holdout_types: tuple[str, ...] = ()
    systems_per_clip: int = 0  # 0: every system
    shard_size: int = 8
    audio_format: str = "flac"
    seconds: float = 0.0  # keep the first ``seconds`` of each source (0: the whole clip)
    clean_variants: bool = True  # add TA-only rows: the clean audio with every other caption variant

    def systems(self) -> list[System]:
        return build_systems(self.types)


@dataclass(frozen=True)
class ClipTask:
    """One source clip to degrade and the caption of another clip (the fallback mismatch)."""

    row: ClipRow
    other_caption: str


def clip_key(clip_id: str) -> int:
    """A stable 64-bit integer for a clip id (seeds its random streams)."""
    return int.from_bytes(hashlib.sha256(clip_id.encode("utf-8")).digest()[:8], "little")


def stream(seed: int, clip_id: str, purpose: int, system: str = "") -> np.random.Generator:
    """The random generator for one purpose (and system) of one clip."""
    keys = [seed, clip_key(clip_id), purpose] + ([clip_key(system)] if system else [])
    return np.random.default_rng(np.random.SeedSequence(keys))


def load_source(path: Path) -> tuple[np.ndarray, int]:
    """A source clip as float32 mono and its sample rate."""
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError, sf.LibsndfileError) as err:
        raise AudioLoadError(path, f"cannot read it ({err}); check the corpus or regenerate it") from err
    if data.shape[0] == 0:
        raise AudioLoadError(path, "the file holds no samples; regenerate the corpus")
    return (data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]).astype(np.float32), int(rate)


def pick_systems(systems: list[System], settings: DegradeSettings, clip_id: str) -> list[System]:
    """Every system, or clean plus ``systems_per_clip - 1`` seeded others (table order kept)."""
    k = settings.systems_per_clip
    if k <= 0 or k >= len(systems):
        return list(systems)
    rng = stream(settings.seed, clip_id, SYSTEMS)
    chosen = set(rng.choice(np.arange(1, len(systems)), size=k - 1, replace=False).tolist())
    return [s for i, s in enumerate(systems) if i == 0 or i in chosen]


def assign_variants(systems: list[System], n_variants: int, seed: int, clip_id: str) -> dict[str, int]:
    """Each system's caption variant index: variants cycled over the systems in a seeded order (balanced,
    and independent of the degradation, so MI and TA vary independently)."""
    order = stream(seed, clip_id, SYSTEMS, "variants").permutation(len(systems))
    return {systems[int(j)].id: n % n_variants for n, j in enumerate(order)}


def degrade_clip(task: ClipTask, settings: DegradeSettings, vocab: Vocabulary, out: Path) -> list[ClipRow]:
    """Write every degraded version of one clip under ``out/audio`` and return their manifest rows."""
    src = task.row
    x, rate = load_source(resolve_audio_path(src, settings.corpus_manifest))
    if settings.seconds > 0:
        x = x[: max(1, int(round(settings.seconds * rate)))]
    variants = caption_variants(src.attributes, src.caption, vocab, stream(settings.seed, src.id, CAPTION),
                                task.other_caption)
    systems = pick_systems(settings.systems(), settings, src.id)
    chosen = assign_variants(systems, len(variants), settings.seed, src.id)
    rows = []
    for system in systems:
        y = apply_system(system, x, rate, stream(settings.seed, src.id, EFFECT, system.id))
        row_id = f"{src.id}__{system.id}"
        audio_path = f"audio/{row_id}.{settings.audio_format}"
        write_audio(out / audio_path, y, rate, settings.audio_format)
        variant = variants[chosen[system.id]]
        mi = jittered_quality(system, stream(settings.seed, src.id, JITTER, system.id))
        attributes = {"source_id": src.id, "degradation": system.type, "level": system.level,
                      "severity": system.severity,
                      "level_split": level_split(system, settings.holdout_levels, settings.holdout_types),
                      "changed": list(variant.changed), "caption_variant": chosen[system.id],
                      "source_caption": src.caption}
        rows.append(ClipRow(id=row_id, audio_path=audio_path, caption=variant.caption, split=src.split,
                            tags=list(src.tags), attributes=attributes, system=system.id,
                            ratings={"MI": round(mi, 4), "TA": variant.ta}, duration=round(y.size / rate, 4)))
    if settings.clean_variants:
        rows += clean_variant_rows(rows[0], variants, chosen[systems[0].id])
    return rows


def clean_variant_rows(clean: ClipRow, variants: list, used: int) -> list[ClipRow]:
    """TA-only rows: the clean row's audio paired with every caption variant but the one it already has.

    These rows rate alignment on undegraded audio (``attributes.ta_audio = "clean"``); they carry no MI
    rating, so the clean system does not weigh more in quality training.
    """
    rows = []
    for k, variant in enumerate(variants):
        if k == used:
            continue
        attributes = {**clean.attributes, "changed": list(variant.changed), "caption_variant": k, "ta_only": True}
        rows.append(dataclasses.replace(clean, id=f"{clean.id}__v{k}", caption=variant.caption,
                                        attributes=attributes, ratings={"TA": variant.ta}))
    return rows


def write_audio(path: Path, samples: np.ndarray, sample_rate: int, audio_format: str) -> None:
    """Write float samples atomically as 16-bit FLAC or WAV (clipped to [-1, 1] first)."""
    fmt, subtype = FORMATS[audio_format]
    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(samples, -1.0, 1.0), sample_rate, format=fmt, subtype=subtype)


def part_path(out: Path, shard: int) -> Path:
    """The file that commits one finished shard."""
    return Path(out) / "parts" / f"shard-{shard:05d}.jsonl"


def degrade_shard(out: str | Path, settings: DegradeSettings, shard: int, tasks: list[ClipTask],
                  vocab: Vocabulary) -> int:
    """Degrade every clip of a shard, then commit it by writing its part file last; returns its clip count."""
    rows = [row for task in tasks for row in degrade_clip(task, settings, vocab, Path(out))]
    write_manifest(part_path(Path(out), shard), rows)
    return len(tasks)
