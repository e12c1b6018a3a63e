"""Which General MIDI soundfonts render the corpus, and which one renders each clip.

The default set is the Debian-packaged GM soundfonts that hold every preset the styles play, each under a short
stable name that manifest rows record. ``--soundfont`` replaces the set with the user's files. A clip's soundfont
is drawn from its own seeded stream; a held-out soundfont renders test-split clips only, so a benchmark can train
on the others and test on sound it never heard (rows say ``soundfont_heldout``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from muscall.errors import MuscallError

HOLDOUT_SHARE = 0.5  # of test-split clips rendered with the held-out soundfont (the rest: the training ones)


@dataclass(frozen=True)
class KnownSoundfont:
    """A packaged soundfont: its stable name, Debian package and installed file."""

    name: str
    package: str
    path: Path


# FluidR3 GS (fluid-soundfont-gs) is not here: that package holds only 33 GS sound-effect presets (banks 1-8,
# programs 120-127, one SFX kit) and none of the GM programs the styles play, so it cannot render a clip.
KNOWN: dict[str, KnownSoundfont] = {s.name: s for s in [
    KnownSoundfont("fluidr3-gm", "fluid-soundfont-gm", Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")),
    KnownSoundfont("fluidr3mono-gm", "fluidr3mono-gm-soundfont", Path("/usr/share/sounds/sf3/FluidR3Mono_GM.sf3")),
    KnownSoundfont("musescore-general", "musescore-general-soundfont-small",
                   Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")),
]}
DEFAULT_SET = tuple(KNOWN)


def install_hint(packages: list[str]) -> str:
    pkgs = " ".join(packages)
    return f"install with 'make system-deps' (or 'apt-get install {pkgs}'), or pass --soundfont PATH"


def known_path(name: str) -> Path:
    """The installed file of a packaged soundfont; a clear error naming the package when it is missing."""
    known = KNOWN[name]
    if not known.path.is_file():
        raise MuscallError(f"soundfont '{name}' is not installed ({known.path} is missing); "
                           f"{install_hint([known.package])}")
    return known.path


def slug(path: Path) -> str:
    """A short name for a user's soundfont file: its stem, lower case, runs of other characters as '-'."""
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "soundfont"


def resolve_soundfonts(entries: str | Path | Iterable[str | Path] | None = None) -> tuple[str, ...]:
    """``name=path`` for each soundfont of the corpus, in the given order.

    ``entries``: None for the default set, else names of packaged soundfonts, file paths, or ``NAME=PATH``
    pairs (one string may hold a comma list). Raises MuscallError naming the missing file and the fix.
    """
    items = [] if entries is None else [entries] if isinstance(entries, (str, Path)) else list(entries)
    parts = [p.strip() for item in items for p in str(item).split(",") if p.strip()]
    if not parts:
        missing = [KNOWN[n] for n in DEFAULT_SET if not KNOWN[n].path.is_file()]
        if missing:
            raise MuscallError("the default soundfonts are not all installed (missing: "
                               + ", ".join(f"{k.name} = {k.path}" for k in missing) + "); "
                               + install_hint([k.package for k in missing]))
        return tuple(f"{n}={KNOWN[n].path}" for n in DEFAULT_SET)
    pairs = [_one(p) for p in parts]
    names = [n for n, _ in pairs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise MuscallError(f"soundfont names {dup} are given twice; name them apart with --soundfont NAME=PATH")
    return tuple(f"{n}={p}" for n, p in pairs)


def _one(entry: str) -> tuple[str, Path]:
    if entry in KNOWN:
        return entry, known_path(entry)
    name, sep, path = entry.partition("=")
    if sep and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        file = Path(path).expanduser()
    else:
        name, file = "", Path(entry).expanduser()
    if not file.is_file():
        raise MuscallError(f"soundfont '{file}' does not exist; give the path of a .sf2/.sf3 file, one of the "
                           f"names {', '.join(KNOWN)}, or {install_hint([k.package for k in KNOWN.values()])}")
    file = file.resolve()
    if not name:
        name = next((k.name for k in KNOWN.values() if k.path.is_file() and k.path.resolve() == file), slug(file))
    return name, file


def split_pairs(soundfonts: tuple[str, ...]) -> dict[str, str]:
    """``name=path`` strings -> {name: path}."""
    return dict(s.split("=", 1) for s in soundfonts)  # type: ignore[misc]


def check_holdout(names: list[str], holdout: str, test_fraction: float) -> None:
    """Refuse a held-out soundfont that is not in the set, leaves nothing to train on, or has no test split."""
    if not holdout:
        return
    if holdout not in names:
        raise MuscallError(f"--holdout-soundfont {holdout}: not one of this corpus's soundfonts ({', '.join(names)})")
    if len(names) < 2:
        raise MuscallError(f"--holdout-soundfont {holdout}: the corpus needs a second soundfont to train on")
    if test_fraction <= 0:
        raise MuscallError(f"--holdout-soundfont {holdout}: it renders only test-split clips, and --splits gives "
                           "the test split no clips")


def choose_soundfont(rng: np.random.Generator, names: list[str], split: str, holdout: str = "") -> str:
    """A clip's soundfont: uniform over the set; a held-out one only for test clips (``HOLDOUT_SHARE`` of them)."""
    if not holdout:
        return names[int(rng.integers(len(names)))]
    seen = [n for n in names if n != holdout]
    u = float(rng.random())
    if split == "test" and u < HOLDOUT_SHARE:
        return holdout
    return seen[int(rng.integers(len(seen)))]
