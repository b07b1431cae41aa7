#!/usr/bin/env bash
# Instructions per worker start counted in the worker threads alone (callgrind,
# --separate-threads=yes): the same seed-like program as worker-start-instructions.sh (workers
# one after another, each echoing one message), with `lo` and with `hi` workers; per worker =
# (count(hi) - count(lo)) / (hi - lo) over the threads valgrind numbers from 8 on (the
# workers: each starts after the previous one ended, so they share one number). Leaves out
# the main thread and V8's platform threads, whose share moves with timing (background
# compile and GC tasks, the main thread's polling): repeat runs of one tree agree to a few
# tenths of a million, where the whole-process count moves by ~1 M. The main thread's own
# per-worker records are in worker-start-instructions.sh's figure, not in this one.
#
#   [KEEP=dir] [CHAIN=seed] scripts/worker-start-thread-instructions.sh [lo] [hi] [variant]...   (variants, `require=<file>` too, and CHAIN as in worker-start-instructions.sh)
#
# ADDONS=tree gives each traced tree the scope.node built from its own zig/ (else every
# variant runs this tree's): for comparing a change to zig/napi.zig with a base whose agent
# expects its own addon's exports (BENCHMARKS.md "Fourteenth look").
#
# KEEP=dir keeps each run's profiles (one per thread) in dir/<n>-<workers>/, n the variant's
# place in the list, for callgrind_annotate (split by function: BENCHMARKS.md "Ninth look").
# At the end the profiles are split by category and thread group (scripts/lib/callgrind-split.py),
# with the figure to compare: all threads without the scavenger, V8's hash tables and the
# hash-seed prime search, which move by chance between identical runs (BENCHMARKS.md
# "Eleventh look"); the worker-threads-only line above it moves by ~2-4 M with where a
# scavenge's parallel tasks ran.
set -euo pipefail
cd "$(dirname "$0")/.."
lo=${1:-2}
hi=${2:-10}
shift 2 || true
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(untraced "$PWD")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_required worker-start-thread-instructions.sh
valgrind_build . "$dir/zig"
cp "scripts/lib/worker-chain.cjs" "$dir/start.cjs"
keep=${KEEP:-$dir/keep}
count() {
  local spec=$1 workers=$2 tree events
  IFS=: read -r tree events <<<"$spec"
  local addon="$dir/zig"
  if [ "${ADDONS:-}" = tree ] && [ "$tree" != untraced ]; then
    addon="$dir/zig-$index"
    [ -f "$addon/lib/scope.node" ] || valgrind_build "$tree" "$addon"
  fi
  rm -f "$dir"/cg.out*
  local vg=(valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$dir/cg.out" node "$dir/start.cjs" "$workers" ${CHAIN:+"$CHAIN"})
  if [ "$tree" = untraced ]; then
    "${vg[@]}" > /dev/null 2> "$dir/err"
  elif [ "${tree#require=}" != "$tree" ]; then
    NODE_OPTIONS="--require \"${tree#require=}\"" SCOPE_ADDON="$addon/lib/scope.node" "${vg[@]}" > /dev/null 2> "$dir/err"
  else
    (cd "$tree" && . scripts/env.sh && SCOPE_ADDON="$addon/lib/scope.node" SCOPE_LIBSCOPE="$addon/lib/libscope.so" \
      bun src/cli/main.ts run ${events:+--events $events} --out "$dir/t.bin" -- "${vg[@]}" > /dev/null 2> "$dir/err")
  fi
  local total=0 file n
  for file in "$dir"/cg.out-*; do
    n=${file##*-}
    [ "$((10#$n))" -ge 8 ] || continue
    total=$((total + $(awk '/^totals:/ {print $2}' "$file")))
  done
  rm -rf "${keep:?}/$index-$workers"
  mkdir -p "$keep/$index-$workers"
  cp "$dir"/cg.out-* "$keep/$index-$workers/"
  echo "$total"
}
index=0
for v in "${variants[@]}"; do
  index=$((index + 1))
  a=$(count "$v" "$lo")
  b=$(count "$v" "$hi")
  awk -v name="$v" -v a="$a" -v b="$b" -v n=$((hi - lo)) 'BEGIN {printf "%-40s %7.2f M instructions per worker, worker threads only (%d workers: %.1f M, %d: %.1f M)\n", name, (b - a) / n / 1e6, '"$lo"', a / 1e6, '"$hi"', b / 1e6}'
done
python3 scripts/lib/callgrind-split.py "$keep" "$lo" "$hi" $(seq 1 "$index")
