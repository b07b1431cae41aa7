#!/usr/bin/env bash
# What a worker's scavenges copy, untraced and traced, from V8's own GC log (node
# --trace-gc-nvp; no valgrind, a few seconds). The scavenger's work is about proportional to
# the young objects it finds alive (copied within the young generation or promoted), and V8
# logs those bytes per scavenge: the same in repeat runs of one tree to the byte for most
# workers, where callgrind's GC category moves with where a scavenge's parallel tasks ran
# (BENCHMARKS.md "Fifteenth look"). scripts/lib/worker-chain.cjs runs `n` workers one after
# another (CHAIN=seed: each only receives its message and closes its port, as seed's do).
#
#   scripts/worker-scavenges.sh [n] [variant]...
#
# Variants as in worker-start-instructions.sh: `untraced`, or a built tree (zig build and
# `bun run build` done) optionally followed by `:events`. Default: untraced and this tree.
# Per variant: each worker after the first (the first may write the agent's code cache) as
# one line "scavenges, then per scavenge allocated-since-the-last / promoted + copied KB",
# and the workers' medians of the scavenges' count and of their live bytes (promoted + copied,
# summed over the worker's scavenges). Which thread a log line is from: Node 22+ prints the
# thread id after the isolate ([pid:isolate:tid]); Node 20 does not, and there the main
# thread's isolate is told by its address (made by the main thread's malloc, below the
# threads' arenas at 0x7f...), a worker's first scavenge by its fresh heap (nothing promoted,
# everything allocated since the isolate's start).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-6}
shift || true
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(untraced "$PWD")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. scripts/env.sh
cp "scripts/lib/worker-chain.cjs" "$dir/start.cjs"
for spec in "${variants[@]}"; do
  IFS=: read -r tree events <<<"$spec"
  run=(node --trace-gc-nvp "$dir/start.cjs" "$n" ${CHAIN:+"$CHAIN"})
  if [ "$tree" = untraced ]; then
    "${run[@]}" > "$dir/log" 2>&1
  else
    (cd "$tree" && . scripts/env.sh && bun src/cli/main.ts run ${events:+--events $events} --out "$dir/t.bin" -- "${run[@]}" > "$dir/log" 2>&1)
  fi
  echo "$spec"
  python3 - "$dir/log" <<'EOF'
import re, statistics, sys
workers = []
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"\[\d+:0x([0-9a-f]+)(?::(\d+))?\]\s+[\d.]+ ms: (.*)", line)
    if not m:
        continue
    kv = dict(re.findall(r"(\S+)=(\S+)", m.group(3)))
    if kv.get("gc") != "s":
        continue
    main = m.group(2) == "0" if m.group(2) is not None else int(m.group(1), 16) < 0x7F0000000000
    if main:
        continue
    before = int(kv.get("total_size_before", kv.get("start_object_size", "0")))
    allocated, promoted, copied = int(kv["allocated"]), int(kv["promoted"]), int(kv["new_space_survived"])
    if (promoted == 0 and allocated == before) or not workers:
        workers.append([])
    workers[-1].append((allocated, promoted, copied))
if len(workers) < 2:
    sys.exit("worker-scavenges: fewer than two workers' scavenges in the log")
for i, scavenges in enumerate(workers[1:], 2):
    parts = "  ".join("%d/%d+%d" % (a // 1024, p // 1024, c // 1024) for a, p, c in scavenges)
    print("  worker %d: %d scavenges, KB allocated/promoted+copied: %s  live %d" % (i, len(scavenges), parts, sum(p + c for _, p, c in scavenges)))
later = workers[1:]
print("  median: %s scavenges, %d bytes live (promoted + copied) a worker" % (statistics.median(len(s) for s in later), statistics.median(sum(p + c for _, p, c in s) for s in later)))
EOF
done
