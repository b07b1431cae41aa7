#!/bin/bash
# The pool workload's CPU by thread, untraced and traced (`dist/scope run`), alternated:
# each thread's on-CPU and run-queue time from /proc/self/task/*/schedstat, read when the
# workers are online and at the end (a copy of src/bench/workloads/pool.cjs with the reads
# added; the bench's own workload is untouched). BENCHMARKS.md "End of the 2026-12-05 18:29 stop".
# usage: scripts/pool-thread-cpu.sh [node binary] [pairs]   (PARAMS='{"jobs":400000}' for more work)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
NODE=${1:-node}; N=${2:-3}; P=${PARAMS:-"{}"}
dir=$(mktemp -d /tmp/pool-thread-cpu.XXXX); trap 'rm -rf "$dir"' EXIT
python3 - "$PWD/src/bench/workloads" "$dir/pool-probe.cjs" <<'PY'
import sys
workloads, out = sys.argv[1], sys.argv[2]
src = open(f"{workloads}/pool.cjs").read()
src = src.replace('require("./common.cjs")', f'require("{workloads}/common.cjs")')
probe = '''const fsP = require("node:fs");
function tasks() {
  const out = new Map();
  for (const tid of fsP.readdirSync("/proc/self/task")) {
    try {
      const [run, wait] = fsP.readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").trim().split(" ").map(Number);
      out.set(tid, { run, wait });
    } catch {}
  }
  return out;
}
let before;
'''
src = src.replace('if (isMainThread) {', probe + 'if (isMainThread) {', 1)
src = src.replace('start = nowSeconds();', 'start = nowSeconds(); before = tasks();')
src = src.replace('const seconds = nowSeconds() - start;', '''const seconds = nowSeconds() - start;
    const rows = [];
    for (const [tid, a] of tasks()) { const b = before.get(tid) || { run: 0, wait: 0 }; rows.push({ main: String(process.pid) === tid, run: (a.run - b.run) / 1e6, wait: (a.wait - b.wait) / 1e6 }); }
    fsP.writeFileSync(process.env.PROBE_OUT, JSON.stringify({ seconds, rows }));''')
assert src.count("tasks()") == 3
open(out, "w").write(src)
PY
for i in $(seq 1 "$N"); do
  for mode in untraced traced; do
    out=$dir/$mode-$i.json
    if [ $mode = untraced ]; then PROBE_OUT=$out "$NODE" "$dir/pool-probe.cjs" "$dir/r.json" "$P"
    else PROBE_OUT=$out ./dist/scope run -o "$dir/t.bin" -- "$NODE" "$dir/pool-probe.cjs" "$dir/r.json" "$P" > /dev/null 2>&1; fi
    python3 - "$out" $mode <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); rows = d["rows"]
main = [r for r in rows if r["main"]][0]
others = sorted([r for r in rows if not r["main"]], key=lambda r: -r["run"])
workers, rest = others[:2], others[2:]
print(f"{sys.argv[2]:9} wall {d['seconds'] * 1000:7.1f} ms | main on CPU {main['run']:7.1f} queued {main['wait']:6.1f} | workers {workers[0]['run']:6.1f} + {workers[1]['run']:6.1f} | other threads {sum(r['run'] for r in rest):5.1f}")
PY
  done
done
