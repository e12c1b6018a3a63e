#!/usr/bin/env bash
# The demo's last step: one example each of text search (and one naming a key, which the tracks' chroma re-ranks),
# audio search ("more like this" and an uploaded clip),
# /tag and /score (a matching and a mismatched prompt for the same clip), each printed with the curl command
# that produced it so that it can be copied. Usage: scripts/demo_examples.sh OUT_DIR URL QUERY
set -euo pipefail
OUT=$1
URL=$2
QUERY=$3
EX="$OUT/examples"
mkdir -p "$EX"

# The example clip: the first test clip of the corpus; the mismatched prompt is the caption of the first test
# clip of another genre.
read -r CLIP TRACK < <(python - "$OUT/corpus/manifest.jsonl" "$EX" <<'PY'
import json, sys
from pathlib import Path
manifest, ex = Path(sys.argv[1]), Path(sys.argv[2])
rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
test = [r for r in rows if r.get("split") == "test"] or rows
clip = test[0]
genre = clip.get("attributes", {}).get("genre")
other = next((r for r in test if r.get("attributes", {}).get("genre") != genre), test[-1])
(ex / "match.txt").write_text(clip["caption"])
(ex / "mismatch.txt").write_text(other["caption"])
path = Path(clip["audio_path"])
print(path if path.is_absolute() else (manifest.parent / path).resolve(), clip["id"])
PY
)
MATCH=$(cat "$EX/match.txt")
MISMATCH=$(cat "$EX/mismatch.txt")

# (--form-string: curl -F would read a ';' in a caption as the start of a field option and cut the prompt there)
# show NAME FORMAT CURL-ARGS...: print the curl command, run it, print its reply in short form.
show() {
  local name=$1 format=$2
  shift 2
  printf '\n---- %s\n$ curl' "$name"
  local arg
  for arg in "$@"; do  # single-quoted where the shell needs it, so that the line can be copied
    if [[ $arg =~ ^[A-Za-z0-9_./:=@%+-]+$ ]]; then printf ' %s' "$arg"; else printf " '%s'" "${arg//\'/\'\\\'\'}"; fi
  done
  printf '\n'
  curl -fsS "$@" > "$EX/$name.json" || { echo "  (failed; see $OUT/serve.log)"; return 0; }
  python - "$EX/$name.json" "$format" <<'PY'
import json, sys
reply, kind = json.load(open(sys.argv[1])), sys.argv[2]
if kind == "search":
    if reply.get("reading"):  # how text search read the query: the key it states, words the model never saw
        from muscall.reading import describe_reading
        print(f"  read as: {describe_reading(reply['reading'])}")
    for hit in reply["results"]:
        t = hit["track"]
        predicted = sorted({l for ls in (t["attributes"].get("zeroshot") or {}).values() for l in ls})
        print(f"  {hit['score']:.3f}  {t['track_id']:<16} {t['attributes'].get('caption', t['title'])}")
        key = " ".join(str(t["attributes"][k]) for k in ("key", "mode") if t["attributes"].get(k))
        print(f"         genre {t['attributes'].get('genre')}{', ' + key if key else ''}; "
              f"predicted: {', '.join(predicted) or '-'}")
elif kind == "tag":
    tag = "abstained (none of these)" if reply["abstained"] else reply["label"]
    print(f"  tag: {tag}   (calibration {reply['calibration']}, temperature {reply['temperature']:.3f})")
    for r in reply["results"]:
        print(f"    {r['probability']:.3f}  {r['label']}")
else:
    axes = ", ".join(f"{k} {v:.2f}" for k, v in reply["scores"].items()) or "none (no heads)"
    print(f"  prompt: {reply['prompt']}")
    print(f"  quality axes: {axes}")
    print(f"  cosine {reply['cosine']:.3f}  alignment {reply['alignment']:.3f}  "
          f"calibrated: {str(reply['alignment_calibrated']).lower()}  {reply.get('note') or ''}")
PY
}

echo "example clip: $CLIP (track $TRACK)"
show text_search search -X POST "$URL/search/text" -H 'content-type: application/json' \
  -d "{\"query\": \"$QUERY\", \"k\": 5}"
show key_search search -X POST "$URL/search/text" -H 'content-type: application/json' \
  -d '{"query": "a dark techno track in F# minor", "k": 5}'
show similar search "$URL/tracks/$TRACK/similar?k=5"
show audio_search search -X POST "$URL/search/audio" -F "file=@$CLIP" -F k=5
show tag tag -X POST "$URL/tag" -F "file=@$CLIP" -F label_set=genres -F top=3
show score_match score -X POST "$URL/score" -F "file=@$CLIP" --form-string "prompt=$MATCH"
show score_mismatch score -X POST "$URL/score" -F "file=@$CLIP" --form-string "prompt=$MISMATCH"
