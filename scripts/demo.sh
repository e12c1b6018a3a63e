#!/usr/bin/env bash
# The demo: generate a small corpus, train the `small` model briefly, evaluate it, embed and index the corpus,
# tag the catalog zero-shot, train quality heads with a calibrated alignment, then serve it and show one example
# each of text search, audio search, /tag and /score. Every step resumes or reuses its output when rerun.
# Usage: scripts/demo.sh OUT_DIR   (make demo calls it with the venv on PATH)
#   DEMO_CLIPS (1000), DEMO_TRAIN_MINUTES (5), DEMO_PORT (8000), DEMO_KEEP_SERVING (1: keep serving when interactive)
#   DEMO_QUALITY_CLIPS (150: clips degraded for the quality heads), DEMO_SCORE_EPOCHS (10)
set -euo pipefail
OUT=${1:-demo-out}
N=${DEMO_CLIPS:-1000}
MINUTES=${DEMO_TRAIN_MINUTES:-5}
PORT=${DEMO_PORT:-8000}
QUERY=${DEMO_QUERY:-"a fast techno track with a synth lead"}
QCLIPS=${DEMO_QUALITY_CLIPS:-150}
SCORE_EPOCHS=${DEMO_SCORE_EPOCHS:-10}
CKPT="$OUT/run/checkpoints/best"
URL="http://127.0.0.1:$PORT"
mkdir -p "$OUT"
step() { printf '\n==== %s  [%s]\n' "$*" "$(date +%T)"; }

step "1/7 generating a corpus of $N clips (rerun skips finished shards; a finished corpus is reused as it is)"
if [ -f "$OUT/corpus/manifest.jsonl" ]; then echo "already generated: $OUT/corpus"; else
  muscall data synth --out "$OUT/corpus" --n "$N" --seconds 10 --seed 0 --workers 2 --splits 0.8,0.1,0.1
fi

step "2/7 training the 'small' model for at most $MINUTES minutes (rerun resumes)"
# train.compile=false: on a fresh machine the first torch.compile takes about 2 of the demo's 5 minutes, which the
# faster steps only win back in longer runs. The validation pool is small (about 100 clips), so the best
# checkpoint is chosen on mean reciprocal rank (train.val_metric=auto), which does not saturate like R@10.
if [ -f "$OUT/run/done" ]; then echo "already trained: $CKPT"; else
  muscall train small data.manifest="$OUT/corpus/manifest.jsonl" train.max_minutes="$MINUTES" \
    train.val_pool_size=100 train.compile=false --out "$OUT/run" --resume
  touch "$OUT/run/done"
fi

step "3/7 evaluating on the held-out test split"
muscall eval retrieval --checkpoint "$CKPT" --manifest "$OUT/corpus/manifest.jsonl" --split test --out "$OUT/eval"
muscall eval zeroshot --checkpoint "$CKPT" --manifest "$OUT/corpus/manifest.jsonl" --split test --out "$OUT/eval"

step "4/7 embedding the whole corpus and building the index"
muscall embed --checkpoint "$CKPT" --source "$OUT/corpus/manifest.jsonl" --out "$OUT/catalog" --shard-size 500
[ -d "$OUT/index" ] || muscall index build --catalog "$OUT/catalog" --out "$OUT/index"
muscall index info --index "$OUT/index"

step "5/7 zero-shot tagging the catalog (genre and moods), stored in the index as predicted tags"
muscall tag --catalog "$OUT/catalog" --checkpoint "$CKPT" --labels "$OUT/corpus/labels.json" --set genres \
  --out "$OUT/tags-genres.csv" --write-db "$OUT/index" --no-progress
muscall tag --catalog "$OUT/catalog" --checkpoint "$CKPT" --labels "$OUT/corpus/labels.json" --set moods \
  --mode multi --out "$OUT/tags-moods.csv" --write-db "$OUT/index" --no-progress

step "6/7 quality heads: degrading $QCLIPS clips, then training the heads (frozen encoder) and the calibration"
muscall data degrade --corpus "$OUT/corpus" --out "$OUT/quality" --clips "$QCLIPS" --systems-per-clip 8 \
  --seconds 4 --workers 2 --no-progress
if [ -f "$OUT/heads/done" ]; then echo "already trained: $OUT/heads"; else
  muscall score train --checkpoint "$CKPT" --manifest "$OUT/quality/manifest.jsonl" --out "$OUT/heads" \
    --epochs "$SCORE_EPOCHS" --cache "$OUT/quality/cache" --into-checkpoint
  touch "$OUT/heads/done"
fi

step "7/7 serving on $URL/"
muscall serve --catalog "$OUT/index" --checkpoint "$CKPT" --windows "$OUT/catalog" --heads "$OUT/heads" \
  --labels "$OUT/corpus/labels.json" --host 127.0.0.1 --port "$PORT" > "$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -fsS "$URL/readyz" > /dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { echo "the server stopped; see $OUT/serve.log"; tail -20 "$OUT/serve.log"; exit 1; }
  sleep 1
done
bash "$(dirname "$0")/demo_examples.sh" "$OUT" "$URL" "$QUERY"
echo
echo "muscall is serving the demo catalog at $URL/  (API docs: $URL/docs)"
if [ -t 0 ] && [ "${DEMO_KEEP_SERVING:-1}" = 1 ]; then
  echo "press Ctrl-C to stop"
  wait $SERVER
fi
