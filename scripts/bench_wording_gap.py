"""Where the held-out wording loses: new sentence shapes or new words?

Reads the finished runs of ``scripts/bench_generalization.py`` (RUNS/NAME/checkpoints/best) and queries the
training-soundfont test pool of its corpus five ways (muscall/eval/shift.py ``wording_gap``): the generator's
captions; the held-out sentence shapes and the short-query form, each in the held-out words (settings c and d of
the shift benchmark) and again in the training words. Attribute mAP@10 (genre and lead instrument) is also given
for the genre alone and the lead instrument alone, with the share of content words the text tower never saw.

    python scripts/bench_wording_gap.py --corpus data/gen --runs runs/gen --run small --run small-hand \\
        --markdown scripts/results/39_wording_gap.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_retrieval import publish
from muscall.checkpoint import load_checkpoint
from muscall.eval.shift import GAP_COLUMNS, shift_markdown, wording_gap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("data/gen"))
    ap.add_argument("--runs", type=Path, default=Path("runs/gen"))
    ap.add_argument("--run", action="append", default=[], help="a finished run under --runs (repeat; default small)")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    results = {}
    for name in args.run or ["small"]:
        best = args.runs / name / "checkpoints" / "best"
        if not best.is_dir():
            raise SystemExit(f"{best} does not exist: train it first with scripts/bench_generalization.py "
                             f"--runs {args.runs} --variant {name}=...")
        results[name] = wording_gap(load_checkpoint(best), args.corpus / "manifest.jsonl")

    def table(command: str) -> str:
        lines = ["## Where the wording gap is: new sentence shapes or new words", "", f"`{command}`", "",
                 "The shift benchmark's training-soundfont test pool, queried with the held-out sentence shapes "
                 "and the short-query form in the held-out words (settings c and d) and again in the training words "
                 "(the same facts, drawn with the generator's lexicon); ranked as search ranks (key agreement "
                 "included). attr_mAP@10: genre and lead instrument both match; genre_mAP@10 and lead_mAP@10: "
                 "each alone; unknown_share: mean share of a query's content words the text tower never saw.", ""]
        for name, r in results.items():
            lines += [f"**{name}**", "", shift_markdown(r, GAP_COLUMNS)]
        return "\n".join(lines)

    publish(table, args.markdown)


if __name__ == "__main__":
    main()
