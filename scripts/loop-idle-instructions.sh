#!/usr/bin/env bash
# Instructions an idle Node thread executes per second of wall time, counted by valgrind
# (cachegrind, every thread of the program): unlike CPU time on this shared machine, the
# count does not move with the load. A program that only waits (setTimeout of S s) runs for
# `lo` and `hi` seconds; per second = (count(hi) - count(lo)) / (hi - lo), so start-up and
# exit cancel out. Variants are `scope run --events` values (`default` = the default
# groups); a variant `<events>@<addon>` runs with that scope.node (e.g. one built before
# the native loop watch, whose agent then keeps the sentinel timer).
#
#   scripts/loop-idle-instructions.sh [lo] [hi] [variant]...
#
# Default: 1 5 default +loop,+memory. valgrind cannot run code built for this CPU
# (AVX-512), so the addon is built for x86-64-v3 first.
set -euo pipefail
cd "$(dirname "$0")/.."
lo=${1:-1}
hi=${2:-5}
shift 2 || true
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(default +loop,+memory)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. scripts/env.sh
. scripts/lib/valgrind.sh
valgrind_required loop-idle-instructions.sh
valgrind_build . "$dir/zig"
count() {
  local spec=$1 seconds=$2 events addon
  IFS=@ read -r events addon <<<"$spec"
  [ "$events" = default ] && events=""
  SCOPE_ADDON="${addon:-$dir/zig/lib/scope.node}" SCOPE_LIBSCOPE="$dir/zig/lib/libscope.so" \
    bun src/cli/main.ts run ${events:+--events $events} --out "$dir/t.bin" -- \
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null node -e "setTimeout(() => {}, $seconds * 1000)" > /dev/null 2> "$dir/err"
  cachegrind_refs "$dir/err"
}
for v in "${variants[@]}"; do
  a=$(count "$v" "$lo")
  b=$(count "$v" "$hi")
  awk -v name="$v" -v a="$a" -v b="$b" -v n=$((hi - lo)) 'BEGIN {printf "%-60s %8.3f M instructions per idle second (%d s: %.1f M, %d s: %.1f M)\n", name, (b - a) / n / 1e6, '"$lo"', a / 1e6, '"$hi"', b / 1e6}'
done
