#!/usr/bin/env bash
# GPU check, under 5 minutes on one GPU: generate a small corpus, train `tiny` and `small` for a few steps with
# AMP (and SSL views + the recording chain on the GPU), embed the corpus on the GPU, build and search an index on
# the GPU (faiss-gpu, the `gpu` extra), and print the timing of each step. Without a CUDA device it prints
# "skipped: no CUDA device" and exits 0, so CPU machines (and `make test`) run it as a no-op.
# Usage: scripts/gpu_check.sh [OUT_DIR]   (default: a new temporary folder; `muscall` on PATH, as `make` sets)
#   GPU_CHECK_CLIPS (256), GPU_CHECK_DEVICE (cuda), PYTHON (the interpreter with muscall: python3)
set -euo pipefail
PYTHON=${PYTHON:-python3}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
N=${GPU_CHECK_CLIPS:-256}

if ! cuda=$("$PYTHON" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null); then
  echo "gpu_check: '$PYTHON' cannot import torch; set PYTHON to the interpreter muscall is installed in" >&2
  exit 2
fi
if [ "$cuda" != 1 ]; then
  echo "gpu_check: skipped: no CUDA device (torch.cuda.is_available() is false)"
  exit 0
fi

OUT=${1:-$(mktemp -d -t muscall-gpu-check.XXXXXX)}
mkdir -p "$OUT"
TIMES=()
step() {  # step NAME COMMAND...: run it with its output in OUT/NAME.log, record its wall time
  local name=$1 t0=$EPOCHREALTIME
  shift
  printf '==== %-12s %s\n' "$name" "$*"
  if ! "$@" > "$OUT/$name.log" 2>&1; then
    echo "gpu_check: FAILED at '$name'; last lines of $OUT/$name.log:"
    tail -20 "$OUT/$name.log"
    exit 1
  fi
  TIMES+=("$(awk -v n="$name" -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%-12s %7.1f s", n, b - a }')")
}

"$PYTHON" - "$DEVICE" <<'EOF'
import sys, faiss, torch
from muscall.utils.accel import amp_dtype
dev = torch.device(sys.argv[1])
print(f"torch {torch.__version__} on {torch.cuda.get_device_name(dev)}; AMP dtype {amp_dtype(dev)}; "
      f"FAISS {faiss.__version__} sees {faiss.get_num_gpus()} GPU(s)")
EOF

M="$OUT/corpus/manifest.jsonl"
step synth muscall data synth --out "$OUT/corpus" --n "$N" --seconds 6 --seed 0 --workers "$(nproc)" \
  --splits 0.8,0.1,0.1 --no-progress
step train-tiny muscall train tiny data.manifest="$M" train.device="$DEVICE" train.amp=true train.epochs=2 \
  --out "$OUT/tiny" --no-progress
step train-small muscall train small data.manifest="$M" train.device="$DEVICE" train.amp=true train.epochs=2 \
  train.batch_size=32 train.compile=false train.max_minutes=2 train.val_pool_size=25 loss.ssl=true \
  loss.caption_similarity=tfidf train.num_workers=4 --out "$OUT/small" --no-progress
CKPT="$OUT/small/checkpoints/best"
step embed muscall embed --checkpoint "$CKPT" --source "$M" --out "$OUT/catalog" --device "$DEVICE" --no-progress
step index-build muscall index build --catalog "$OUT/catalog" --out "$OUT/index" --factory Flat --target-recall 0 \
  --device "$DEVICE" --no-progress
step index-search muscall index search --index "$OUT/index" --checkpoint "$CKPT" --device "$DEVICE" \
  --text "calm piano with soft strings" --k 3

echo
grep -H '"best_val\|"steps"\|train_clips_per_s' "$OUT/train-tiny.log" "$OUT/train-small.log" || true
grep -h '"tracks_per_s"' "$OUT/embed.log" || true
grep -h 'searching the index' "$OUT/index-build.log" "$OUT/index-search.log" | sort -u || true
tail -n 5 "$OUT/index-search.log"
if [ "$("$PYTHON" -c 'import faiss; print(faiss.get_num_gpus())')" -gt 0 ] && ! grep -q '"gpu": true' \
    "$OUT/index-build.log"; then
  echo "gpu_check: FAILED: FAISS sees a GPU but the index was not copied to it (see $OUT/index-build.log)"
  exit 1
fi
echo
echo "gpu_check: passed ($OUT)"
printf '%s\n' "${TIMES[@]}"
