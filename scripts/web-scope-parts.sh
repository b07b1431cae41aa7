#!/usr/bin/env bash
# scope's own parts of a request in a callgrind profile of the in-process web service
# (scripts/web-inproc-callgrind.sh with NODE_FLAGS=--perf-basic-prof, its output kept in OUT.log):
# the agent's JIT code (scripts/callgrind-jit-names.cjs, self), scope.node's functions, N-API's
# call path (v8impl, napi_, CallApiCallback, GetFunctionTemplateData: the untraced service has
# ~1.4 k of its own) and the clock reads of performance.now() (FastPerformanceNow, uv_hrtime,
# clock_gettime: the program has ~0.2–0.3 k of its own), per request, after callgrind-rest.py's line.
#   scripts/web-inproc-callgrind.sh OUT traced 4000 3000 > OUT.log 2>&1; python3 scripts/lib/callgrind-rest.py OUT 3000 >> OUT.log
#   scripts/web-scope-parts.sh OUT [3000]
# BENCHMARKS.md "Web: fewer records a request (issue 11, helper web24 …)".
set -euo pipefail
out=$1; n=${2:-3000}
root=$(cd "$(dirname "$0")/.." && pwd)
pid=$(grep -o "^==[0-9]*==" "$out.log" | head -1 | tr -d =)
agent=$(node "$root/scripts/callgrind-jit-names.cjs" "$out" "/tmp/perf-$pid.map" "$n" 2>/dev/null | head -1 | sed 's/.*agent.s functions //')
callgrind_annotate "$out" 2>/dev/null | python3 -c '
import re, sys
n, agent, rest = int(sys.argv[1]), sys.argv[2], sys.argv[3]
parts = {"scope.node": 0, "napi": 0, "clock": 0}
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+)\s+\(.*?\)\s+(.*)$", line)
    if not m: continue
    count, name = int(m.group(1).replace(",", "")), m.group(2)
    if "scope.node" in name or ("zig/" in name and "scope" in name): parts["scope.node"] += count
    elif re.search(r"v8impl|napi_|CallApiCallback|GetFunctionTemplateData", name): parts["napi"] += count
    elif re.search(r"FastPerformanceNow|uv__hrtime|uv_hrtime|clock_gettime", name): parts["clock"] += count
print(rest, "agent-jit=" + agent, " ".join(f"{k}={v / n:.0f}" for k, v in parts.items()))
' "$n" "$agent" "$(tail -1 "$out.log")"
