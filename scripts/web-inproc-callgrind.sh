#!/usr/bin/env bash
# The in-process web service (scripts/web-inproc.cjs, WEB_CONNECTIONS requests in flight, 1
# by default) under callgrind, profiling exactly its measured window of `requests` responses: the
# warm-up runs uninstrumented, callgrind_control -i on turns instrumentation on shortly before
# the window (the service writes WEB_WARM_FILE WEB_WARM_LEAD responses early and starts the
# window at the first response once WEB_WARM_FILE.go exists), and the service marks the window's
# edges by calls nothing else makes (--zero-before=uv_os_getpriority at its start,
# --dump-before=uv_loadavg at its end), so OUT_FILE holds the window's requests only, every
# connection busy through it: no request is held (a pause with all requests answered
# deoptimized Node's, pg's and the agent's code: BENCHMARKS.md "Web: 16 requests in flight",
# "Web: 16 connections steady, traced against untraced"). Before, the service held its requests
# until collection was on (WEB_WARM_WAIT=1 still does; a window counted without either held
# more requests than it divided by, BENCHMARKS.md "The request context on Node 20").
# Needs PGURL and, when traced, the addon built for valgrind (SCOPE_ADDON/SCOPE_LIBSCOPE,
# -Dcpu=x86_64_v2).
#   [NODE_FLAGS="--perf-basic-prof ..."] [WEB_CONNECTIONS=1] [CALLGRIND_FLAGS="--cache-sim=yes --branch-sim=yes"] scripts/web-inproc-callgrind.sh OUT_FILE [untraced|traced|nodb] [warmup] [requests]
# (--perf-basic-prof: scripts/callgrind-jit-names.cjs then names the JIT code by function.)
# Then: callgrind_annotate --inclusive=yes OUT_FILE, or --tree=caller for a function's callers.
set -euo pipefail
out=$1; mode=${2:-traced}; warmup=${3:-2000}; requests=${4:-500}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
export WEB_WARM_FILE=$dir/warm NODE_PATH=$root/node_modules
service=(valgrind --tool=callgrind --instr-atstart=no --zero-before=uv_os_getpriority --dump-before=uv_loadavg ${CALLGRIND_FLAGS:-} "--callgrind-out-file=$dir/callgrind.out" node --single-threaded ${NODE_FLAGS:-} "$root/scripts/web-inproc.cjs" "{\"connections\":${WEB_CONNECTIONS:-1},\"warmup\":$warmup,\"requests\":$requests}")
case $mode in
  untraced) "${service[@]}" & ;;
  traced) bun "$root/src/cli/main.ts" run --out "$dir/trace.bin" -- "${service[@]}" & ;;
  nodb) bun "$root/src/cli/main.ts" run --events process,thread,message,http --out "$dir/trace.bin" -- "${service[@]}" & ;;
esac
job=$!
while [ ! -f "$WEB_WARM_FILE" ] && kill -0 $job 2>/dev/null; do sleep 0.05; done
callgrind_control -i on "$(cat "$WEB_WARM_FILE")" >/dev/null
touch "$WEB_WARM_FILE.go"
wait $job
# The window's dump (the one made at uv_loadavg); the final dump at exit holds the service's close.
mv "$dir/callgrind.out.1" "$out"
rm -rf "$dir"
