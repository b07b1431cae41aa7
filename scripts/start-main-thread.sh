#!/usr/bin/env bash
# The transform workload's first start through each tree's compiled CLI (dist/scope, built),
# alternated: the main thread's own CPU time, its run-queue wait and its minor page faults
# (scripts/lib/thread-exit-stat.cjs), then one cached start each (issue 12). CPU and wait are
# load-dependent: read them with the load average printed; the faults are not.
#
#   . scripts/env.sh && bash scripts/start-main-thread.sh <rounds> <tree>...
#
# Each tree keeps its own XDG_CACHE_HOME (its agents extracted once, the functions agent's
# code cache made by a first, unmeasured start); its transforms are removed before each first start.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
rounds=$1
shift
. "$here/scripts/lib/start-workload.sh"
dir=$(mktemp -d /tmp/scope-start-main-XXXXXX)
trap 'rm -rf "$dir"' EXIT
run() {
  local tree=$1 label=$2
  XDG_CACHE_HOME="$dir/$(basename "$tree")" "$tree/dist/scope" run --ring-size 64MiB --functions="$start_functions" --out "$dir/t.bin" -- \
    node -r "$here/scripts/lib/thread-exit-stat.cjs" "$start_program" "$dir/r.json" "$start_params" 2>&1 >/dev/null | grep '^MAIN' | sed "s|^MAIN|$label $(basename "$tree")|"
}
for tree in "$@"; do rm -rf "$dir/$(basename "$tree")/scope/transforms-"*; run "$tree" warm >/dev/null; done
for round in $(seq "$rounds"); do
  for tree in "$@"; do
    rm -rf "$dir/$(basename "$tree")/scope/transforms-"*
    run "$tree" first
  done
  echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
done
for tree in "$@"; do run "$tree" cached; done
