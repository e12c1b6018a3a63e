#!/usr/bin/env bash
# The demo: generate a small corpus, train the `small` model on it briefly, evaluate it.
# Usage: scripts/demo.sh OUT_DIR   (make demo calls it with the venv on PATH)
set -euo pipefail
OUT=${1:-demo-out}
N=${DEMO_CLIPS:-1200}
MINUTES=${DEMO_TRAIN_MINUTES:-6}
mkdir -p "$OUT"
step() { printf '\n==== %s\n' "$*"; }

step "1/3 generating a corpus of $N clips (resumable; rerun skips finished shards)"
muscall data synth --out "$OUT/corpus" --n "$N" --seconds 10 --seed 0 --workers 2

step "2/3 training the 'small' model for at most $MINUTES minutes (rerun resumes)"
muscall train small data.manifest="$OUT/corpus/manifest.jsonl" train.max_minutes="$MINUTES" \
  train.val_pool_size=120 --out "$OUT/run" --resume

step "3/3 evaluating on the held-out test split"
muscall eval retrieval --checkpoint "$OUT/run/checkpoints/best" --manifest "$OUT/corpus/manifest.jsonl" \
  --split test --out "$OUT/eval"
muscall eval zeroshot --checkpoint "$OUT/run/checkpoints/best" --manifest "$OUT/corpus/manifest.jsonl" \
  --split test --out "$OUT/eval"
