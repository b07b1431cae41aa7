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
modules=$(printf '"%s/node_modules/%s",' "$here" typescript-js "$here" marked "$here" yaml)
XDG_CACHE_HOME="$dir/cache" bun src/cli/main.ts run --ring-size 64MiB \
  --functions="{\"root\":\"$here\",\"include\":[\"node_modules/typescript-js/**\",\"node_modules/marked/**\",\"node_modules/yaml/**\"],\"level\":\"calls\"}" \
  --out "$dir/t.bin" -- node --trace-gc src/bench/workloads/transform-start.cjs "$dir/r.json" "{\"modules\":[${modules%,}]}" 2>&1 |
  awk '/Mark-Compact|Scavenge/ {
      match($0, /MB, [0-9.]+ \//); t = substr($0, RSTART + 4, RLENGTH - 6) + 0
      if ($0 ~ /Mark-Compact/) { mc++; mct += t } else { sc++; sct += t }
    }
    END { printf "mark-compact %d (%.1f ms)  scavenge %d (%.1f ms)  total %.1f ms\n", mc, mct, sc, sct, mct + sct }'
