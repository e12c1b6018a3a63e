"""``muscall data import SRC --out manifest.jsonl``: check a table or folder of (audio, caption) pairs."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from muscall.config import list_configs, load_config
from muscall.data.formats import FORMATS, FormatOptions
from muscall.data.importer import import_source
from muscall.data.sources import DEFAULT_COLUMNS, FOLDER_TABLES, ColumnMap

DESCRIPTION = f"""Check every (audio, caption) row of SRC and write the good ones to a manifest.

SRC is one of:
  - a .csv, .tsv or .jsonl table with one row per (audio, caption) pair; relative audio paths are
    taken from SRC's folder. Default columns: path or audio_path; caption or text; id, split and tags
    when present (rename them with the --*-col options). Other columns go into the row's attributes.
  - a folder containing {' or '.join(FOLDER_TABLES)}: read like the table above.
  - otherwise a folder of audio files (searched recursively), each with a sidecar caption: song.mp3 + song.txt.
  - a published dataset layout, named with --format (auto-detected where the files show it):
      musiccaps       the MusicCaps CSV + --audio-dir; --audio-pattern '{{ytid}}.wav' (or '{{ytid}}_{{start}}-{{end}}.wav');
                      aspect_list -> tags, is_audioset_eval -> test split, a whole video -> offset_s/clip_seconds
      song-describer  its CSV (caption_id, track_id, caption, path, is_valid_subset); one row per track, all
                      its captions kept (caption + captions)
      muscall-json    MusCALL/MusCaps dataset_{{split}}.json (a file or their folder); --audio-pattern '{{track_id}}.wav'
      musiceval, aesthetics, rated-csv   rated sets (system + ratings) for 'muscall score train|eval'
      tags            a music folder: artist/album/title/genre/year/BPM/key/mood tags -> caption and attributes
                      (files without tags are rejected unless --allow-untagged)

A row is kept when its audio exists, decodes, lasts between the min and max seconds and is not silent, its
caption is not blank and its id is unique (the first row with an id wins; a missing id is made from a hash
of the audio path). Rows with no split get a seeded train/val/test split per audio file.
The manifest's audio paths are relative to the manifest's folder. Rejected rows go to
<out stem>.rejects.jsonl beside it (source line, path, reason, detail); one bad row never stops the import.
"""

EPILOG = """examples:
  muscall data import captions.csv --out data/mine/manifest.jsonl
  muscall data import songs/ --out data/songs/manifest.jsonl --config small --workers 4
  muscall data import meta.jsonl --out m.jsonl --path-col file --caption-col description --tags-col genres --tags-sep ';'
  muscall data import musiccaps-public.csv --audio-dir clips/ --audio-pattern '{ytid}.wav' --out mc.jsonl
  muscall data import song_describer.csv --format song-describer --audio-dir audio/ --out sd.jsonl
  muscall data import list.csv --format musiceval --prompts prompts.tsv --audio-dir wav/ --out rated.jsonl
  muscall data import ~/Music --format tags --out music.jsonl
"""


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("import", help="check and import (audio, caption) pairs from a CSV/JSONL table or a folder",
                         description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", metavar="SRC", help="a .csv/.tsv/.jsonl table or a folder of audio")
    p.add_argument("--out", required=True, help="the manifest to write (JSONL)")
    p.add_argument("--format", default="auto", choices=FORMATS, help="SRC's layout (default: auto-detected)")
    p.add_argument("--audio-dir", type=Path, help="folder of the dataset's audio (default: beside SRC)")
    p.add_argument("--audio-pattern", help="audio file name from a row's fields, e.g. '{ytid}.wav'")
    p.add_argument("--prompts", type=Path, nargs="*", default=[], help="MusicEval prompt TSVs (id<TAB>text)")
    p.add_argument("--allow-untagged", action="store_true", help="tags: keep untagged files, captioned by name")
    p.add_argument("--config", default="paper", help=f"config for the audio section ({', '.join(list_configs())} "
                                                     "or a .yaml path; default paper)")
    p.add_argument("--sample-rate", type=int, help="decode rate (default: the config's audio.sample_rate)")
    p.add_argument("--min-seconds", type=float, help="shortest audio kept (default: audio.min_seconds)")
    p.add_argument("--max-seconds", type=float, help="longest audio kept (default: audio.max_seconds)")
    for role, defaults in DEFAULT_COLUMNS.items():
        p.add_argument(f"--{role}-col", dest=f"{role}_col", metavar="NAME",
                       help=f"column with the {role} (default: {' or '.join(defaults)})")
    p.add_argument("--tags-sep", default=",", help="separator inside a text tags column (default ',')")
    p.add_argument("--val-frac", type=float, default=0.1, help="fraction of audio files for val when no split (0.1)")
    p.add_argument("--test-frac", type=float, default=0.1, help="fraction of audio files for test when no split (0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split assignment (0)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="decoding threads")
    p.add_argument("--no-extra", action="store_true", help="drop other columns instead of keeping them as attributes")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    audio = load_config(args.config).audio
    columns = ColumnMap(path=args.path_col, caption=args.caption_col, id=args.id_col, split=args.split_col,
                        tags=args.tags_col, tags_sep=args.tags_sep)
    report = import_source(
        args.src, args.out,
        sample_rate=args.sample_rate or audio.sample_rate,
        min_seconds=audio.min_seconds if args.min_seconds is None else args.min_seconds,
        max_seconds=audio.max_seconds if args.max_seconds is None else args.max_seconds,
        columns=columns, val_fraction=args.val_frac, test_fraction=args.test_frac, seed=args.seed,
        workers=args.workers, keep_extra=not args.no_extra, progress=not args.no_progress, fmt=args.format,
        options=FormatOptions(audio_dir=args.audio_dir, audio_pattern=args.audio_pattern,
                              prompts=tuple(args.prompts), allow_untagged=args.allow_untagged),
    )
    print(report.summary())
    return 0
