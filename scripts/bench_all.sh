#!/usr/bin/env bash
# Runs every benchmark on this machine and rewrites BENCHMARKS.md from their table fragments.
# Each bench_*.py writes one markdown fragment (with the command that produced it) into scripts/results/.
# BENCH_QUICK=1 runs smaller sizes (for a smoke check, not for the numbers we publish).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=scripts/results  # fragments are kept in git, so a long benchmark run once still shows
mkdir -p "$OUT"
Q=${BENCH_QUICK:-0}
run() { echo "== $*"; "$@"; }

if [ "$Q" = 1 ]; then N_SYNTH=24; N_FE=20; N_INDEX=20000; else N_SYNTH=200; N_FE=200; N_INDEX=1000000; fi
run python scripts/bench_synth.py --n "$N_SYNTH" --markdown "$OUT/10_synth.md"
run python scripts/bench_frontend.py --n "$N_FE" --markdown "$OUT/20_frontend.md"
[ -f scripts/bench_train.py ] && run python scripts/bench_train.py --markdown "$OUT/30_train.md"
[ -f scripts/bench_index.py ] && run python scripts/bench_index.py --n "$N_INDEX" --markdown "$OUT/40_index.md"

{
  echo "# Benchmarks"
  echo
  echo "Measured by \`make bench\` on $(nproc) CPU cores ($(uname -m)), $(date -u +%Y-%m-%d)."
  echo "Each table names the command that produced it; numbers are from one run on this machine."
  for f in "$OUT"/*.md; do echo; cat "$f"; done
} > BENCHMARKS.md.tmp
mv BENCHMARKS.md.tmp BENCHMARKS.md
echo "wrote BENCHMARKS.md"
