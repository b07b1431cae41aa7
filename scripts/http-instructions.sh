#!/bin/bash
# Instructions per request of the http workload's server (src/bench/workloads/http-server.cjs),
# untraced and traced with `--events EVENTS` (default process,thread,message: the http-bare
# workload, nothing recorded per request; EVENTS=default: scope run's default groups, the http
# workload, every request recorded), counted by cachegrind in the server process alone
# (the client is plain node outside valgrind; the collector is another process): a figure the
# machine's load does not move. Each count of requests (sequential keep-alive GETs on 4
# connections) runs untraced and traced side by side; per request = the slope between the two
# counts, so the start-up and most of V8's tiering cancel out.
#   scripts/http-instructions.sh [LOW] [HIGH]      e.g. EVENTS=process,thread,message scripts/http-instructions.sh 2000 8000
# Needs valgrind. The addon is built for x86-64-v3 (valgrind does not decode AVX-512).
set -euo pipefail
low=${1:-2000}
high=${2:-8000}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/env.sh"
. "$here/scripts/lib/valgrind.sh"
valgrind_work_dir http-instructions.sh
valgrind_build "$here" "$out/zig"
events=${EVENTS:-process,thread,message}
events_flag=(--events "$events")
[ "$events" = default ] && events_flag=()
vg=(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null)
server="$here/src/bench/workloads/http-server.cjs"

# $1 untraced|traced, $2 requests: the server's instruction count.
one() {
  local dir="$out/$1-$2" pid
  mkdir -p "$dir"
  if [ "$1" = traced ]; then
    (cd "$here" && SCOPE_ADDON="$out/zig/lib/scope.node" bun src/cli/main.ts run ${events_flag[@]+"${events_flag[@]}"} --out "$dir/trace.bin" -- \
      "${vg[@]}" node "$server" "$dir/r.json" "{\"ready\":\"$dir/ready.json\"}" >"$dir/log" 2>&1) &
  else
    "${vg[@]}" node "$server" "$dir/r.json" "{\"ready\":\"$dir/ready.json\"}" >"$dir/log" 2>&1 &
  fi
  pid=$!
  until [ -s "$dir/ready.json" ]; do sleep 0.2; done
  node -e '
    const http = require("node:http");
    const { port } = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const count = Number(process.argv[2]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let started = 0, done = 0;
    const get = (path, then) => http.get({ host: "127.0.0.1", port, path, agent }, (res) => { res.resume(); res.on("end", then); }).on("error", then);
    const next = () => {
      if (started < count) { started++; get("/item", () => { done++; next(); }); }
      else if (done === count) get("/shutdown", () => agent.destroy());
    };
    for (let i = 0; i < 4; i++) next();
  ' "$dir/ready.json" "$2"
  wait "$pid" || true
  cachegrind_refs "$dir/log"
}

declare -A count
for n in "$low" "$high"; do
  one untraced "$n" >"$out/untraced-$n.count" &
  one traced "$n" >"$out/traced-$n.count" &
  wait
  count[untraced-$n]=$(cat "$out/untraced-$n.count")
  count[traced-$n]=$(cat "$out/traced-$n.count")
done
awk -v l="$low" -v h="$high" -v ul="${count[untraced-$low]}" -v uh="${count[untraced-$high]}" -v tl="${count[traced-$low]}" -v th="${count[traced-$high]}" -v e="$events" 'BEGIN {
  u = (uh - ul) / (h - l); t = (th - tl) / (h - l)
  printf "untraced: %.0f instructions a request (%d → %d requests)\n", u, l, h
  printf "traced --events %s: %.0f instructions a request, added %.0f (%+.1f%%); fixed (start-up) %+.1f M\n", e, t, t - u, 100 * (t - u) / u, ((tl - ul) - (t - u) * l) / 1e6
}'
