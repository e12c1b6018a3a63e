"""Fingerprint what a checkpoint gives through the user commands, to show a refactor changed no numbers.

Runs, through the `muscall` command line only (so the same script runs on any revision): `embed` (inline decoding,
float32 shards with window embeddings), `index build` (Flat) and `index search` for a few queries, `eval retrieval`,
`eval zeroshot` and `tag`; optionally `embed` of a folder of long files. Writes OUT/fingerprint.json: the SHA-256 of every catalog array and the numbers of each
report. Two fingerprints are compared with --compare; bit-identical embeddings give identical hashes.

    python scripts/check_behaviour.py --checkpoint CKPT --manifest M --labels L --out before/
    python scripts/check_behaviour.py --compare before/fingerprint.json after/fingerprint.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

QUERIES = ("a fast techno track with a synth lead", "a calm jazz ballad with piano", "heavy metal with distorted guitar")
VOLATILE = ("seconds", "time", "elapsed", "path", "checkpoint", "manifest", "out", "created", "date", "version")


def run(*args: str) -> str:
    """Run one muscall command and return its stdout; stop on failure."""
    done = subprocess.run(["muscall", *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"muscall {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def numbers(obj: Any) -> Any:
    """A report without the fields that name files, times or versions."""
    if isinstance(obj, dict):
        return {k: numbers(v) for k, v in sorted(obj.items()) if not any(w in k.lower() for w in VOLATILE)}
    if isinstance(obj, list):
        return [numbers(v) for v in obj]
    return obj


def embed(ckpt: str, source: str, catalog: Path) -> dict[str, str]:
    """Embed ``source`` inline into float32 shards; the SHA-256 of each array."""
    run("embed", "--checkpoint", ckpt, "--source", source, "--out", str(catalog), "--workers", "0",
        "--dtype", "float32", "--shard-size", "64", "--no-progress")
    return {f"{catalog.name}/{p.relative_to(catalog)}": sha256(p) for p in sorted(catalog.rglob("*.npy"))}


def fingerprint(ckpt: str, manifest: str, labels: str, folder: str | None, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    catalog, index = out / "catalog", out / "index"
    arrays = embed(ckpt, manifest, catalog)
    if folder:
        arrays.update(embed(ckpt, folder, out / "folder-catalog"))
    run("index", "build", "--catalog", str(catalog), "--out", str(index), "--factory", "Flat")
    searches = {q: json.loads(run("index", "search", "--index", str(index), "--checkpoint", ckpt, "--text", q,
                                  "--k", "10", "--json")) for q in QUERIES}
    reports = {}
    for kind in ("retrieval", "zeroshot"):
        run("eval", kind, "--checkpoint", ckpt, "--manifest", manifest, "--split", "test", "--out", str(out / kind),
            *(["--labels", labels] if kind == "zeroshot" else []))
        for f in sorted((out / kind).glob("*.json")):
            reports[f"{kind}/{f.name}"] = numbers(json.loads(f.read_text()))
    tags = out / "tags.csv"
    run("tag", "--catalog", str(index), "--checkpoint", ckpt, "--labels", labels, "--set", "genres",
        "--out", str(tags), "--no-progress")
    return {"arrays": arrays, "searches": numbers(searches), "reports": reports, "tags_csv": sha256(tags)}


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The keys whose values differ between two fingerprints."""
    diffs = []
    for section in sorted(set(a) | set(b)):
        x, y = a.get(section), b.get(section)
        if isinstance(x, dict) and isinstance(y, dict):
            diffs += [f"{section}/{k}" for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k)]
        elif x != y:
            diffs.append(section)
    return diffs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint")
    p.add_argument("--manifest")
    p.add_argument("--labels")
    p.add_argument("--folder", help="also embed this folder of audio files (long, stereo, other sample rates)")
    p.add_argument("--out", type=Path)
    p.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    a = p.parse_args()
    if a.compare:
        before, after = (json.loads(f.read_text()) for f in a.compare)
        diffs = compare(before, after)
        n = len(before["arrays"])
        print(f"{n} arrays, {len(before['searches'])} searches, {len(before['reports'])} reports, tags: "
              + ("identical" if not diffs else f"{len(diffs)} differ: " + ", ".join(diffs)))
        sys.exit(1 if diffs else 0)
    if not (a.checkpoint and a.manifest and a.labels and a.out):
        p.error("give --checkpoint, --manifest, --labels and --out (or --compare BEFORE AFTER)")
    fp = fingerprint(a.checkpoint, a.manifest, a.labels, a.folder, a.out)
    (a.out / "fingerprint.json").write_text(json.dumps(fp, indent=1, sort_keys=True))
    print(f"wrote {a.out / 'fingerprint.json'}: {len(fp['arrays'])} arrays, {len(fp['reports'])} reports")


if __name__ == "__main__":
    main()
