"""``muscall data synth --out DIR``: generate a synthetic (audio, caption) corpus offline."""

from __future__ import annotations

import argparse
import os

from muscall.errors import MuscallError

DESCRIPTION = """Compose and render a captioned music corpus with no download: procedurally written multi-track
pieces in many styles (rock, metal, jazz, waltz, techno, reggae, bossa nova, string quartet, ambient, hip hop,
blues, country, funk, chiptune), played with fluidsynth through several General MIDI soundfonts (by default
FluidR3 GM, FluidR3 Mono and MuseScore General, from their Debian packages; 'make system-deps').

Each clip gets a random key, mode, tempo, dynamics, reverb and loudness, style-typical instruments, a soundfont,
and (--production default) a performance (timing and velocity spread, swing, slow tempo drift, a start
offset into the piece) and a production chain (room, stereo width folded to mono, EQ tilt, band limits,
compression, noise floor); its manifest row keeps all of them as attributes (soundfont, production), tags
(genre, instruments, moods) and a varied caption. --holdout-soundfont NAME keeps one soundfont out of train and
val: it renders only test clips (attributes.soundfont_heldout), so a benchmark can test on unheard sound.
--holdout-wording describes every test clip twice more in words and sentence shapes no training caption uses:
attributes.heldout_caption (a caption) and attributes.short_query ("cozy lo fi beats with wurlitzer").
Output: OUT/audio/*.flac, OUT/manifest.jsonl, OUT/labels.json (zero-shot label sets), OUT/corpus.json.
The same --seed gives bit-identical audio whatever --workers. An interrupted run resumes where it stopped
when rerun with the same arguments (finished shards are skipped).
"""

EPILOG = """examples:
  muscall data synth --out data/corpus --n 2000
  muscall data synth --out data/tiny --n 48 --seconds 5 --workers 2
  muscall data synth --out data/dance --n 500 --genres techno,hip_hop,funk --seed 3
  muscall data synth --out data/hq --n 200 --sample-rate 44100 --format wav --soundfont ~/sf2/MyGM.sf2
  muscall data synth --out data/open --n 2000 --holdout-soundfont musescore-general --holdout-wording
  muscall data synth --out data/two --n 100 --soundfont fluidr3-gm,mine=~/sf2/MyGM.sf2 --production none
"""


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("synth", help="generate a synthetic captioned music corpus (fluidsynth, offline)",
                         description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (new, empty, or a run to resume)")
    p.add_argument("--n", type=int, default=2000, help="number of clips (2000)")
    p.add_argument("--seconds", type=float, default=10.0, help="clip length in seconds (10)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same corpus (0)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (2)")
    p.add_argument("--soundfont", metavar="PATH", action="append",
                   help="General MIDI .sf2/.sf3 file, packaged name or NAME=PATH; repeat it or give a comma list "
                        "(replaces the default set: fluidr3-gm, fluidr3mono-gm, musescore-general)")
    p.add_argument("--holdout-soundfont", metavar="NAME", default="",
                   help="a soundfont (by name) that renders only test-split clips, never train/val ones")
    p.add_argument("--holdout-wording", action="store_true",
                   help="test clips also get attributes heldout_caption and short_query in held-out wording")
    p.add_argument("--production", choices=("default", "none"), default="default",
                   help="per-clip performance and production chain (default), or the clean rendering (none)")
    p.add_argument("--genres", metavar="LIST", help="comma-separated genres to include (default: all)")
    p.add_argument("--sample-rate", type=int, default=16000, help="output sample rate in Hz (16000)")
    p.add_argument("--splits", default="0.8,0.1,0.1", metavar="TRAIN,VAL,TEST", help="split fractions (0.8,0.1,0.1)")
    p.add_argument("--format", dest="audio_format", choices=("flac", "wav"), default="flac",
                   help="audio file format, 16-bit mono (flac: lossless, about half the size)")
    p.add_argument("--shard-size", type=int, default=16, help="clips per resumable shard (16)")
    p.add_argument("--captions", type=int, default=5, metavar="N",
                   help="differently worded captions per clip; training samples them, evaluation uses the first (5)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from muscall.data.synth import format_summary, generate_corpus
    from muscall.data.synth.styles import parse_genres

    summary = generate_corpus(
        args.out, n=args.n, seconds=args.seconds, seed=args.seed, workers=args.workers, soundfont=args.soundfont,
        genres=parse_genres(args.genres), sample_rate=args.sample_rate, splits=_splits(args.splits),
        shard_size=args.shard_size, audio_format=args.audio_format, captions=args.captions,
        holdout_soundfont=args.holdout_soundfont, production=args.production,
        holdout_wording=args.holdout_wording, progress=not args.no_progress)
    print(format_summary(summary))
    return 0


def _splits(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise MuscallError(f"--splits '{text}': give three fractions TRAIN,VAL,TEST such as 0.8,0.1,0.1")
    return parts  # type: ignore[return-value]
