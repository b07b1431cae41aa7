#!/usr/bin/env bash
# The in-process web service (scripts/web-inproc.cjs, one request in flight) under
# callgrind, collecting only after its warm-up (callgrind_control -i on when it writes
# WEB_WARM_FILE; the service then holds its requests until WEB_WARM_FILE.go exists, so the
# window holds exactly `requests` requests: without that hold a faster mode served more of them
# before collection began, and a figure per request came out too high, by up to ~25%,
# BENCHMARKS.md "The request context on Node 20"), so the call graph is steady-state requests only. Needs PGURL and, when
# traced, the addon built for valgrind (SCOPE_ADDON/SCOPE_LIBSCOPE, -Dcpu=x86_64_v2).
#   [NODE_FLAGS="--perf-basic-prof ..."] [WEB_CONNECTIONS=1] [CALLGRIND_FLAGS="--cache-sim=yes --branch-sim=yes"] scripts/web-inproc-callgrind.sh OUT_FILE [untraced|traced|nodb] [warmup] [requests]
# (--perf-basic-prof: scripts/callgrind-jit-names.cjs then names the JIT code by function.)
# Then: callgrind_annotate --inclusive=yes OUT_FILE, or --tree=caller for a function's callers.
set -euo pipefail
out=$1; mode=${2:-traced}; warmup=${3:-2000}; requests=${4:-500}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
export WEB_WARM_FILE=$dir/warm WEB_WARM_WAIT=1 NODE_PATH=$root/node_modules
service=(valgrind --tool=callgrind --instr-atstart=no ${CALLGRIND_FLAGS:-} "--callgrind-out-file=$out" node --single-threaded ${NODE_FLAGS:-} "$root/scripts/web-inproc.cjs" "{\"connections\":${WEB_CONNECTIONS:-1},\"warmup\":$warmup,\"requests\":$requests}")
case $mode in
  untraced) "${service[@]}" & ;;
  traced) bun "$root/src/cli/main.ts" run --out "$dir/trace.bin" -- "${service[@]}" & ;;
  nodb) bun "$root/src/cli/main.ts" run --events process,thread,message,http --out "$dir/trace.bin" -- "${service[@]}" & ;;
esac
job=$!
while [ ! -f "$WEB_WARM_FILE" ] && kill -0 $job 2>/dev/null; do sleep 1; done
callgrind_control -i on "$(cat "$WEB_WARM_FILE")" >/dev/null
touch "$WEB_WARM_FILE.go"
wait $job
rm -rf "$dir"
