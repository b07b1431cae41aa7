#!/usr/bin/env bash
# The main thread's GC pauses in the transform workload's first start under `scope run
# --functions` (calls level, typescript, marked, yaml; an empty transform cache): node's
# --trace-gc lines, their pause times added up per kind (issue 12; BENCHMARKS.md "Start-up:
# where a first start's instructions go"). Wall time, so read it with the load average.
#
#   . scripts/env.sh && bash scripts/start-gc-pauses.sh
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
. scripts/env.sh
dir=$(mktemp -d /tmp/scope-start-gc-XXXXXX)
trap 'rm -rf "$dir"' EXIT
. "$here/scripts/lib/start-workload.sh"
XDG_CACHE_HOME="$dir/cache" bun src/cli/main.ts run --ring-size 64MiB \
  --functions="$start_functions" \
  --out "$dir/t.bin" -- node --trace-gc "$start_program" "$dir/r.json" "$start_params" 2>&1 |
  awk '/Mark-Compact|Scavenge/ {
      match($0, /MB, [0-9.]+ \//); t = substr($0, RSTART + 4, RLENGTH - 6) + 0
      if ($0 ~ /Mark-Compact/) { mc++; mct += t } else { sc++; sct += t }
    }
    END { printf "mark-compact %d (%.1f ms)  scavenge %d (%.1f ms)  total %.1f ms\n", mc, mct, sc, sct, mct + sct }'
