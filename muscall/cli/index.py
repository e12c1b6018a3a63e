"""``muscall index build|add|remove|info|search|duplicates``: FAISS indexes over embedding catalogs."""

from __future__ import annotations

import argparse
import json
import logging
import sys

EPILOG = """examples:
  muscall index build --catalog cat/ --out idx/                        # auto: Flat / HNSW / IVF / IVF-PQ by size
  muscall index build --catalog cat/ --out idx/ --factory IVF1024,Flat --memory-budget-mb 2048 --target-recall 0.9
  muscall index add --index idx/ --catalog more_cat/
  muscall index remove --index idx/ --ids tracks/a.wav,tracks/b.wav
  muscall index info --index idx/
  muscall index search --index idx/ --checkpoint CKPT --text "calm piano with soft strings" --k 5 --genre jazz
  muscall index duplicates idx/ --threshold 0.95 --windows cat/ --out pairs.csv   # same recording, re-encoded/trimmed
  muscall index duplicates idx/ --catalog cat/     # vector candidates confirmed by cat/'s recording fingerprints
  muscall index duplicates idx/ --catalog cat/ --kind copy   # only copies of one master, not remasters/versions
"""


def register(sub: argparse._SubParsersAction) -> None:
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # its INFO lines are noise in every verb
    p = sub.add_parser("index", help="build, update, inspect and search a FAISS index", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    b = verbs.add_parser("build", help="index an embedding catalog")
    b.add_argument("--catalog", required=True, help="catalog folder written by 'muscall embed'")
    b.add_argument("--out", required=True, help="index folder to write")
    b.add_argument("--factory", default="auto", help="auto, or a FAISS factory: Flat, HNSW32, IVF1024,Flat, ...")
    b.add_argument("--memory-budget-mb", type=float, default=4096.0, help="index memory budget for auto (4096)")
    b.add_argument("--target-recall", type=float, default=0.95, help="recall@10 the search knob is tuned to (0.95)")
    b.add_argument("--attribute-fields", default=None,
                   help="comma-separated filterable attributes (default: every scalar attribute, e.g. genre)")
    b.add_argument("--overwrite", action="store_true", help="replace an index already in --out")
    b.add_argument("--no-progress", action="store_true", help="hide progress bars")
    b.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N: on a GPU (with faiss-gpu) the "
                                                    "index is built to be searched there")
    b.set_defaults(func=run_build)
    a = verbs.add_parser("add", help="add another catalog's tracks to an index")
    a.add_argument("--index", required=True)
    a.add_argument("--catalog", required=True, help="catalog embedded with the same model")
    a.set_defaults(func=run_add)
    r = verbs.add_parser("remove", help="remove tracks by id")
    r.add_argument("--index", required=True)
    r.add_argument("--ids", required=True, help="comma-separated track ids")
    r.set_defaults(func=run_remove)
    i = verbs.add_parser("info", help="verify an index and print its summary")
    i.add_argument("--index", required=True)
    i.set_defaults(func=run_info)
    s = verbs.add_parser("search", help="search an index with a text query")
    s.add_argument("--index", required=True)
    s.add_argument("--checkpoint", required=True, help="the checkpoint that embedded the indexed catalog")
    s.add_argument("--text", required=True, help="what the music sounds like")
    s.add_argument("--k", type=int, default=10, help="results to show (10)")
    s.add_argument("--genre", default=None, help="only tracks of this genre (attribute 'genre')")
    s.add_argument("--tag", action="append", default=None, help="only tracks with this tag (repeat: any of them)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N: the model's device; on a GPU (with "
                                                   "faiss-gpu) the index is searched there too")
    s.set_defaults(func=run_search)
    d = verbs.add_parser("duplicates", help="pairs of tracks that are the same recording (encodings, gains, trims)")
    d.add_argument("index", metavar="INDEX", help="index folder")
    d.add_argument("--threshold", type=float, default=0.95, help="lowest pair score (cosine) reported (0.95)")
    d.add_argument("--windows", default=None, help="embedding catalog with window vectors: align windows (trims)")
    d.add_argument("--k", type=int, default=10, help="nearest tracks checked per track (10)")
    d.add_argument("--catalog", default=None, help="embedding catalog whose recording fingerprints confirm each pair "
                                                   "(default: the --windows catalog)")
    d.add_argument("--fingerprint-threshold", type=float, default=None,
                   help="lowest fingerprint match (1 - bit error rate) of one recording (default: "
                        "index.fingerprint.DEFAULT_THRESHOLD)")
    d.add_argument("--out", default=None, help="write the pairs to this .csv or .json file")
    d.add_argument("--kind", choices=["copy", "version", "all"], default="all",
                   help="copy: the same master (another encoding, gain or trim); version: the same performance in "
                        "another master or mix, told apart by the tracks' level profiles (default all)")
    d.set_defaults(func=run_duplicates)


def run_build(args: argparse.Namespace) -> int:
    from muscall.catalog.indexing import build_index
    from muscall.utils.accel import faiss_gpu
    from muscall.utils.distributed import resolve_device

    fields = None if args.attribute_fields is None else [f for f in args.attribute_fields.split(",") if f]
    stats = build_index(args.catalog, args.out, args.factory, args.memory_budget_mb, args.target_recall, fields,
                        overwrite=args.overwrite, progress=not args.no_progress,
                        gpu=faiss_gpu(resolve_device(args.device)))
    print(json.dumps(stats, indent=2))
    return 0


def run_add(args: argparse.Namespace) -> int:
    from muscall.catalog.indexing import add_catalog

    print(f"added {add_catalog(args.index, args.catalog)} track(s) to {args.index}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from muscall.catalog.indexing import remove_tracks

    removed, unknown = remove_tracks(args.index, [t.strip() for t in args.ids.split(",") if t.strip()])
    print(f"removed {len(removed)} track(s) from {args.index}")
    if unknown:
        print(f"not in the index (ignored): {', '.join(unknown)}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from muscall.catalog.indexing import index_info

    print(json.dumps(index_info(args.index), indent=2))
    return 0


def run_search(args: argparse.Namespace) -> int:
    from muscall.catalog.indexing import format_hits, search_text
    from muscall.checkpoint import load_checkpoint
    from muscall.reading import describe_reading, query_reading

    ckpt = load_checkpoint(args.checkpoint, device=args.device)
    hits = search_text(args.index, ckpt, args.text, args.k, args.genre, args.tag)
    reading = query_reading(ckpt.tokenizer, args.text, ckpt.config.serve.key_weight)
    print(f"read as: {describe_reading(reading)}", file=sys.stderr)  # stdout stays the results, for scripts
    if args.json:
        print(json.dumps([{"score": round(h.score, 6), "track_id": h.track.track_id, "title": h.track.title,
                           "duration": h.track.duration, "tags": h.track.tags} for h in hits], indent=2))
    else:
        print(format_hits(hits))
    return 0


def run_duplicates(args: argparse.Namespace) -> int:
    from muscall.catalog.duplicates import format_pairs, index_duplicates, write_pairs

    pairs = index_duplicates(args.index, args.threshold, args.windows, args.k, args.catalog, args.fingerprint_threshold,
                             args.kind)
    print(format_pairs(pairs))
    if args.out:
        print(f"{len(pairs)} pair(s) -> {write_pairs(pairs, args.out)}")
    return 0
