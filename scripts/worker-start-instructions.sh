#!/usr/bin/env bash
# Instructions per worker start, counted by valgrind (cachegrind, every thread of the
# program): unlike CPU time on this shared 2-core machine, the count does not move with the
# load (repeat runs agree within ~0.5 M of ~120 M a worker once V8's random hash-seed prime
# search is left out: the second figure). A seed-like program (workers one
# after another, each echoing one message) runs with `lo` and with `hi` workers; per worker =
# (count(hi) - count(lo)) / (hi - lo), so the process's own start, the main thread's code
# cache and the first worker's cache rewrite cancel out.
#
#   scripts/worker-start-instructions.sh [lo] [hi] [variant]...
#
# Variants: `untraced`; `require=<file>`: untraced with NODE_OPTIONS `--require <file>` and
# SCOPE_ADDON naming the addon built for valgrind (scripts/seed-floor.ts's probes, kept with
# SEED_FLOOR_KEEP: empty.cjs, vm.cjs, floor.cjs); or a tree (a checkout of scope with node_modules) optionally followed
# by `:events` (scope run --events). Default: untraced and this tree. CHAIN=seed makes each worker
# only receive its message and close its port, as `scope bench --workload seed`'s workers do
# (no send of the worker's own: scripts/lib/worker-chain.cjs). ADDONS=tree gives each traced
# tree the scope.node built from its own zig/, as in worker-start-thread-instructions.sh (for
# a base whose agent expects its own addon's exports). valgrind cannot run
# the native code built for this CPU (AVX-512), so the addon is built for x86-64-v3 first.
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
valgrind_required worker-start-instructions.sh
valgrind_build . "$dir/zig"
cp "scripts/lib/worker-chain.cjs" "$dir/start.cjs"
count() {
  local spec=$1 workers=$2 tree events
  IFS=: read -r tree events <<<"$spec"
  local addon="$dir/zig"
  if [ "${ADDONS:-}" = tree ] && [ "$tree" != untraced ]; then
    addon="$dir/zig-$index"
    [ -f "$addon/lib/scope.node" ] || valgrind_build "$tree" "$addon"
  fi
  local vg=(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$dir/cg.out" node "$dir/start.cjs" "$workers" ${CHAIN:+"$CHAIN"})
  if [ "$tree" = untraced ]; then
    "${vg[@]}" > /dev/null 2> "$dir/err"
  elif [ "${tree#require=}" != "$tree" ]; then
    NODE_OPTIONS="--require \"${tree#require=}\"" SCOPE_ADDON="$addon/lib/scope.node" "${vg[@]}" > /dev/null 2> "$dir/err"
  else
    (cd "$tree" && . scripts/env.sh && SCOPE_ADDON="$addon/lib/scope.node" SCOPE_LIBSCOPE="$addon/lib/libscope.so" \
      bun src/cli/main.ts run ${events:+--events $events} --out "$dir/t.bin" -- "${vg[@]}" > /dev/null 2> "$dir/err")
  fi
  # V8's hash-seed set-up searches for random primes (detail::sprp, under
  # HashSeed::InitializeRoots, on the main thread): 5-19 M a run by chance, ~1 M a worker at
  # lo=2, hi=10 (BENCHMARKS.md "Tenth look"). Printed with it and without it.
  local sprp
  sprp=$(cg_annotate "$dir/cg.out" 2> /dev/null | awk '/detail::sprp/ {gsub(",", "", $1); n += $1} END {print n + 0}')
  echo "$(cachegrind_refs "$dir/err") $sprp"
}
index=0
for v in "${variants[@]}"; do
  index=$((index + 1))
  read -r a sa <<<"$(count "$v" "$lo")"
  read -r b sb <<<"$(count "$v" "$hi")"
  awk -v name="$v" -v a="$a" -v b="$b" -v sa="$sa" -v sb="$sb" -v n=$((hi - lo)) 'BEGIN {printf "%-40s %7.2f M instructions per worker, %7.2f M without the hash-seed prime search (%d workers: %.1f M, %d: %.1f M)\n", name, (b - a) / n / 1e6, (b - sb - a + sa) / n / 1e6, '"$lo"', a / 1e6, '"$hi"', b / 1e6}'
done
