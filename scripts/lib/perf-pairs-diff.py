#!/usr/bin/env python3
# Per worker CPU time (ms) by perf's sort key, untraced against traced, from scripts/worker-start-perf.sh's
# records: (112 - 12 workers) / 100 per run, the mean (or median) over runs.
#   perf-pairs-diff.py <dir> [runs=3] [dso|comm|dso,sym] [rows=40] [mean|median]
import collections, re, statistics, subprocess, sys
d, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
key = sys.argv[3] if len(sys.argv) > 3 else "dso"
rows = int(sys.argv[4]) if len(sys.argv) > 4 else 40
agg = statistics.median if len(sys.argv) > 5 and sys.argv[5] == "median" else statistics.mean
HZ = 4000


def samples(path):
    out = subprocess.run(["perf", "report", "-i", path, "--stdio", "--sort", key, "-n", "--percent-limit", "0"], capture_output=True, text=True).stdout
    counts = collections.Counter()
    for line in out.splitlines():
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+(.*)$", line)
        if m and not line.startswith("#"):
            counts[re.sub(r"\s+", " ", re.sub(r"\[JIT\] tid \d+", "[JIT]", m.group(2))).strip()] += int(m.group(1))
    return counts


per, totals = {}, {}
for v in "ut":
    diffs = []
    for r in range(1, runs + 1):
        hi, lo = samples(f"{d}/{v}-112-{r}.data"), samples(f"{d}/{v}-12-{r}.data")
        diffs.append({k: (hi[k] - lo[k]) / 100 * 1000 / HZ for k in set(hi) | set(lo)})
    per[v] = {k: agg([x.get(k, 0) for x in diffs]) for k in set().union(*diffs)}
    totals[v] = [sum(x.values()) for x in diffs]
paired = [t - u for u, t in zip(totals["u"], totals["t"])]
print("ms a worker, each run: untraced", [round(x, 2) for x in totals["u"]], "traced", [round(x, 2) for x in totals["t"]])
print(f"paired difference: median {statistics.median(paired):+.3f} ms ({100 * statistics.median(paired) / statistics.median(totals['u']):+.1f}% of the untraced median {statistics.median(totals['u']):.2f}), mean {statistics.mean(paired):+.3f}")
for k in sorted(set(per["u"]) | set(per["t"]), key=lambda k: -abs(per["t"].get(k, 0) - per["u"].get(k, 0)))[:rows]:
    a, b = per["u"].get(k, 0), per["t"].get(k, 0)
    print(f"{a:8.3f} {b:8.3f} {b - a:+8.3f}  {k[:110]}")
