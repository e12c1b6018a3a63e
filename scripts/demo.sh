#!/usr/bin/env bash
# The demo: generate a small corpus, train the `small` model briefly, evaluate it, embed and index the corpus,
# then serve it and run one search. Every step resumes or reuses its output when rerun.
# Usage: scripts/demo.sh OUT_DIR   (make demo calls it with the venv on PATH)
#   DEMO_CLIPS (1000), DEMO_TRAIN_MINUTES (5), DEMO_PORT (8000), DEMO_KEEP_SERVING (1: keep serving when interactive)
set -euo pipefail
OUT=${1:-demo-out}
N=${DEMO_CLIPS:-1000}
MINUTES=${DEMO_TRAIN_MINUTES:-5}
PORT=${DEMO_PORT:-8000}
QUERY=${DEMO_QUERY:-"a fast techno track with a synth lead"}
CKPT="$OUT/run/checkpoints/best"
mkdir -p "$OUT"
step() { printf '\n==== %s\n' "$*"; }

step "1/5 generating a corpus of $N clips (rerun skips finished shards; a finished corpus is reused as it is)"
if [ -f "$OUT/corpus/manifest.jsonl" ]; then echo "already generated: $OUT/corpus"; else
  muscall data synth --out "$OUT/corpus" --n "$N" --seconds 10 --seed 0 --workers 2 --splits 0.8,0.05,0.15
fi

step "2/5 training the 'small' model for at most $MINUTES minutes (rerun resumes)"
# train.compile=false: on a fresh machine the first torch.compile takes about 2 of the demo's 5 minutes, which the
# faster steps only win back in longer runs
if [ -f "$OUT/run/done" ]; then echo "already trained: $CKPT"; else
  muscall train small data.manifest="$OUT/corpus/manifest.jsonl" train.max_minutes="$MINUTES" \
    train.val_pool_size=50 train.compile=false --out "$OUT/run" --resume
  touch "$OUT/run/done"
fi

step "3/5 evaluating on the held-out test split"
muscall eval retrieval --checkpoint "$CKPT" --manifest "$OUT/corpus/manifest.jsonl" --split test --out "$OUT/eval"
muscall eval zeroshot --checkpoint "$CKPT" --manifest "$OUT/corpus/manifest.jsonl" --split test --out "$OUT/eval"

step "4/5 embedding the whole corpus and building the index"
muscall embed --checkpoint "$CKPT" --source "$OUT/corpus/manifest.jsonl" --out "$OUT/catalog" --shard-size 500
[ -d "$OUT/index" ] || muscall index build --catalog "$OUT/catalog" --out "$OUT/index"
muscall index info --index "$OUT/index"

step "5/5 serving on http://127.0.0.1:$PORT/"
muscall serve --catalog "$OUT/index" --checkpoint "$CKPT" --windows "$OUT/catalog" \
  --labels "$OUT/corpus/labels.json" --host 127.0.0.1 --port "$PORT" > "$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" > /dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { echo "the server stopped; see $OUT/serve.log"; tail -20 "$OUT/serve.log"; exit 1; }
  sleep 1
done
echo "example search: \"$QUERY\""
curl -fsS -X POST "http://127.0.0.1:$PORT/search/text" -H 'content-type: application/json' \
  -d "{\"query\": \"$QUERY\", \"k\": 5}" > "$OUT/example_search.json"
python - "$OUT/example_search.json" <<'PY'
import json, sys
for hit in json.load(open(sys.argv[1]))["results"]:
    track = hit["track"]
    print(f"  {hit['score']:.3f}  {track['track_id']:<16} {track['attributes'].get('caption', track['title'])}")
PY
echo
echo "muscall is serving the demo catalog at http://127.0.0.1:$PORT/  (API docs: http://127.0.0.1:$PORT/docs)"
if [ -t 0 ] && [ "${DEMO_KEEP_SERVING:-1}" = 1 ]; then
  echo "press Ctrl-C to stop"
  wait $SERVER
fi
