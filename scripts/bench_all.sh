#!/usr/bin/env bash
# Runs every benchmark on this machine and rewrites BENCHMARKS.md from their table fragments.
# Each bench_*.py writes one markdown fragment (with the command that produced it) into scripts/results/, which is
# kept in git; BENCHMARKS.md is the fragments in order, each followed by its notes (scripts/results/notes/, written by
# hand, so a rerun keeps them). Long: the retrieval benchmark trains 20-minute models (it
# reuses finished runs under runs/bench5) and the index benchmark builds over 1M vectors.
#   BENCH_QUICK=1  smaller sizes, for a smoke check (not for the numbers we publish; writes to bench-out/ instead)
#   BENCH_ONLY="synth frontend ..."  run only these
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=${BENCH_QUICK:-0}
RES=scripts/results
[ "$QUICK" = 1 ] && RES=bench-out/results
mkdir -p "$RES" bench-out
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }
run() { echo "== $*"; "$@"; }
big() { [ "$QUICK" = 1 ] && echo "$2" || echo "$1"; }

CORPUS=data/corpus
RUNS=runs/bench5
BEST=$RUNS/variant0/checkpoints/best  # the shipped `small`
want synth && run python scripts/bench_synth.py --n "$(big 200 24)" --markdown "$RES/10_synth.md"
want frontend && run python scripts/bench_frontend.py --n "$(big 200 20)" --markdown "$RES/20_frontend.md"
want train && run python scripts/bench_train.py --steps "$(big 6 2)" --markdown "$RES/30_train.md"
want ceiling && run python scripts/caption_ceiling.py --manifest "$CORPUS/manifest.jsonl" --splits test val \
  --markdown "$RES/32_caption_ceiling.md"
want retrieval && run python scripts/bench_retrieval.py --corpus "$CORPUS" --minutes "$(big 20 1)" \
  --runs "$(big $RUNS bench-out/runs)" --only 0 8 --markdown "$RES/35_retrieval.md"
want generalization && run python scripts/bench_generalization.py --corpus data/gen --n "$(big 4400 120)" \
  --minutes "$(big 20 1)" --runs "$(big runs/gen bench-out/runs-gen)" --variant small=small \
  --variant small-hand=small:text_augment.thesaurus=false --variant small-key=small:loss.key_contrast=0.5 \
  --variant small-shared=small:loss.facts.shared=true \
  --variant small-minilm=small-minilm --variant small-minilm-top2=small-minilm:model.text.minilm_trainable_layers=2 \
  --without-neighbours --without-bridge --without-key --markdown "$RES/37_generalization.md"
# the open-world levers one at a time, at a fixed 8 epochs each (a time budget would not compare on a shared CPU);
# the one-soundfont corpus is made first: muscall data synth --out data/gen-1sf --n 4400 --seconds 10
#   --splits 0.8,0.06,0.14 --soundfont fluidr3-gm,musescore-general --holdout-soundfont musescore-general --holdout-wording
# and the corpus without production chain: the same with --out data/gen-noprod --production none (default soundfonts)
E8="train.epochs=$(big 8 1)"
want ablation && run python scripts/bench_generalization.py --corpus data/gen --n "$(big 4400 120)" --minutes 600 \
  --runs "$(big runs/abl bench-out/runs-abl)" --variant "all=small:$E8" --variant "no-text-aug=small:$E8,text_augment.enabled=false" \
  --variant "no-facts=small:$E8,loss.facts.weight=0" --variant "chain=small:$E8,augment.chain.p=0.5" \
  --variant "one-soundfont=small:$E8@data/gen-1sf" --variant "no-production=small:$E8@data/gen-noprod" \
  --without-key --title "Ablation of the open-world levers (8 epochs each)" --markdown "$RES/38_ablation.md"
# where the wording gap is: the runs above read in held-out and in training words
want wordinggap && run python scripts/bench_wording_gap.py --corpus data/gen \
  --runs "$(big runs/gen bench-out/runs-gen)" --run small --run small-hand --run small-minilm-top2 \
  --markdown "$RES/39_wording_gap.md"
[ "$QUICK" = 1 ] && BEST=bench-out/runs/variant0/checkpoints/best
if want index || want load; then
  [ -f bench-out/catalog/catalog.json ] || run muscall embed --checkpoint "$BEST" --source "$CORPUS/manifest.jsonl" \
    --out bench-out/catalog --no-progress
  run python scripts/export_embeddings.py --catalog bench-out/catalog --checkpoint "$BEST" \
    --manifest "$CORPUS/manifest.jsonl" --out bench-out/emb
fi
want embed && run python scripts/bench_embed.py --n "$(big 320 8)" --markdown "$RES/40_embed.md"
want index && run python scripts/bench_index.py --n "$(big 1000000 20000)" --from-embeddings bench-out/emb/tracks.npy \
  --queries bench-out/emb/queries.npy --markdown "$RES/45_index.md"
want tag && run python scripts/bench_tag.py --n "$(big 100000 2000)" --markdown "$RES/50_tag.md"
# shellcheck disable=SC2046  # the sizes are separate arguments
want load && run python scripts/bench_load.py --n $(big "1000 100000 1000000" 2000) --checkpoint "$BEST" --markdown "$RES/55_load.md"
if want scoring; then
  [ -f bench-out/quality-v2/manifest.jsonl ] || run muscall data degrade --corpus "$CORPUS" --out bench-out/quality-v2 \
    --clips "$(big 800 16)" --systems-per-clip 12 --seconds 5 --no-progress
  run python scripts/bench_scoring.py --checkpoint "$BEST" --degraded bench-out/quality-v2 --cache bench-out/quality-v8-cache \
    --epochs 12 --patience 4 --control-repeats 2 --threads 2 --markdown "$RES/60_scoring.md" --json bench-out/scoring-v9.json
fi
WZ=/usr/share/games/warzone2100/music  # Debian's warzone2100-music: 30 Opus tracks nobody here made
if want realmusic; then
  if [ -d "$WZ" ]; then run python scripts/bench_real_music.py --src "$WZ" --format tags --checkpoint "$BEST" \
    --markdown "$RES/70_real_music.md"; else echo "skip realmusic: apt-get install warzone2100-music first"; fi
fi

[ "$QUICK" = 1 ] && { echo "quick run: fragments in $RES (BENCHMARKS.md left alone)"; exit 0; }
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` (scripts/bench_all.sh) on this project's build machine: $(nproc) CPU cores, $(uname -m),"
  echo "no GPU. Each table names the command that produced it; numbers are from one run on this machine."
  # a fragment is what its script wrote; scripts/results/notes/<same name> is the hand-written reading of it
  for f in "$RES"/*.md; do
    echo; cat "$f"
    n="$RES/notes/$(basename "$f")"
    if [ -f "$n" ]; then echo; cat "$n"; fi
  done
} > BENCHMARKS.md.tmp
mv BENCHMARKS.md.tmp BENCHMARKS.md
echo "wrote BENCHMARKS.md"
