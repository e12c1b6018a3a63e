"""``muscall data degrade --corpus DIR --out DIR``: graded versions of corpus clips with pseudo MI / TA labels."""

from __future__ import annotations

import argparse
import os

from muscall.errors import MuscallError

DESCRIPTION = """Make a quality-rating set offline from a corpus (e.g. one made by 'muscall data synth').

For each chosen clip (seeded, each split in proportion; a clip keeps its corpus split) write the clean
version and graded versions ("systems", 4 levels per type): white and pink noise (SNR 30/20/10/0 dB),
hard clipping (1/3/8/20% of samples), low-pass (6000/4000/2500/1200 Hz), MP3 / Ogg Vorbis / Opus at rising
compression (those this libsndfile supports), dropouts (2/5/10/20% silenced) and wow & flutter (0.2-2% speed
wobble). Every version but dropouts keeps the source's RMS level.

Labels: MI = pseudo-quality 5 - 4 * severity of the system (clean 4.6; hand-set severities; see systems.json)
plus a small per-clip jitter; TA = 5 / 3.7 / 2.4 / 1 for a caption with 0 / 1 / 2 / all of the clip's facts
(genre, instruments, tempo, mood, key) changed. Each (clip, system) row gets one caption variant, cycled over
the systems in a seeded order, so MI and TA vary independently. Degraded audio can hide what a caption
states, so each clip also gets TA-only rows pairing its clean audio with every other caption variant
(attributes.ta_only; no extra audio is written; --no-clean-variants leaves them out).

Unseen levels: rows get attributes.level_split = train | test | both (clean). Train on split=train rows
with level_split != test; evaluate unseen clips and levels on split=test rows with level_split != train.

Output: OUT/audio/*.flac, OUT/manifest.jsonl, OUT/systems.json, OUT/degrade.json. The same --seed gives the
same output whatever --workers; a rerun with the same arguments resumes (finished shards are skipped).
"""

EPILOG = """examples:
  muscall data degrade --corpus data/corpus --out data/quality --clips 200 --workers 2
  muscall data degrade --corpus data/tiny --out data/tiny-q --clips 8 --types white,clip,lowpass
  muscall data degrade --corpus data/corpus --out data/q2 --holdout-levels 3 --holdout-types wow
  muscall data degrade --corpus data/corpus --out data/q-small --clips 500 --systems-per-clip 8
  muscall data degrade --corpus data/corpus --out data/q-4s --clips 600 --systems-per-clip 12 --seconds 5
"""


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("degrade", help="graded versions of corpus clips with pseudo quality / alignment labels",
                         description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, metavar="DIR", help="corpus folder with manifest.jsonl (or the manifest)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (new, empty, or a run to resume)")
    p.add_argument("--clips", type=int, default=100, help="source clips to degrade (100; all if fewer)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same output (0)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (2)")
    p.add_argument("--types", metavar="LIST", help="comma-separated degradation types (default: all available; "
                                                   "white,pink,clip,lowpass,mp3,vorbis,opus,dropout,wow)")
    p.add_argument("--holdout-levels", default="2,4", metavar="LIST",
                   help="levels marked level_split=test, e.g. '2,4' (default) or 'none'")
    p.add_argument("--holdout-types", default="", metavar="LIST", help="types whose every level is level_split=test")
    p.add_argument("--systems-per-clip", type=int, default=0, metavar="K",
                   help="clean + K-1 seeded systems per clip instead of all (0: all)")
    p.add_argument("--seconds", type=float, default=0.0,
                   help="keep only the first SECONDS of each source clip (0: whole clips; faster when the scorer "
                        "reads only the start, e.g. the encoder's clip_seconds)")
    p.add_argument("--no-clean-variants", action="store_true",
                   help="leave out the TA-only rows (clean audio x every other caption variant)")
    p.add_argument("--shard-size", type=int, default=8, help="clips per resumable shard (8)")
    p.add_argument("--format", dest="audio_format", choices=("flac", "wav"), default="flac",
                   help="audio format, 16-bit mono (flac)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from muscall.data.degrade import degrade_corpus, format_summary

    summary = degrade_corpus(
        args.corpus, args.out, clips=args.clips, seed=args.seed, workers=args.workers,
        types=_names(args.types) if args.types else None, holdout_levels=_levels(args.holdout_levels),
        holdout_types=_names(args.holdout_types), systems_per_clip=args.systems_per_clip,
        shard_size=args.shard_size, audio_format=args.audio_format, seconds=args.seconds,
        clean_variants=not args.no_clean_variants, progress=not args.no_progress)
    print(format_summary(summary))
    return 0


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _levels(text: str) -> list[int]:
    if text.strip().lower() in ("", "none"):
        return []
    try:
        return [int(t) for t in _names(text)]
    except ValueError:
        raise MuscallError(f"--holdout-levels '{text}': give levels 1..4 separated by commas, e.g. 2,4, "
                           "or 'none'") from None
