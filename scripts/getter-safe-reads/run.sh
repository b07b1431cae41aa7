#!/bin/bash
# Instructions an iteration of scripts/getter-safe-reads/micro.cjs, one MODE per process:
# cachegrind's count at 100,000 and 300,000 iterations, the slope between them (the fixed
# start-up taken out), node --single-threaded. BENCHMARKS.md "Getter-safe reads".
#   scripts/getter-safe-reads/run.sh NODE MODE...   e.g. scripts/getter-safe-reads/run.sh node make od held-direct
# Builds native.c (the n-* modes) against /usr/include/node (Node 20's headers; the functions it
# calls have the same symbols in Node 24). The held-* modes use zig-out's scope.node (or SCOPE_ADDON).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../env.sh"
node=$1
shift
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
zig cc -O2 -shared -fPIC -mcpu=x86_64_v3 -I/usr/include/node -o "$out/native.node" "$here/native.c" -Wl,--allow-shlib-undefined
export READS_NATIVE="$out/native.node"
count() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$node" --single-threaded "$here/micro.cjs" "$1" "$2" 2>&1 | awk '/I *refs/ {gsub(",", "", $4); print $4}'
}
for mode in "$@"; do
  low=$(count "$mode" 100000)
  high=$(count "$mode" 300000)
  echo "$("$node" -v) $mode $(((high - low) / 200000))"
done
