#!/usr/bin/env python3
"""Two callgrind profiles of the web service taken with cache and branch simulation
(CALLGRIND_FLAGS="--cache-sim=yes --branch-sim=yes" scripts/web-inproc-callgrind.sh), untraced
A and traced B, per request: instructions, L1/LL misses and mispredicted branches by part (V8's
GC, its compiler, the rest: scripts/lib/callgrind-rest.py's split), and a cycle estimate
(Ir + 10 per L1 miss + 100 per LL miss + 15 per mispredict: a model, not a measurement; this
KVM guest exposes no hardware counters). BENCHMARKS.md "Web: where the CPU goes beyond the
instructions".

    python3 scripts/lib/callgrind-misses.py A B N            # by part, N requests in each window
    python3 scripts/lib/callgrind-misses.py --by-function A B N [TOP]   # rest's functions by added miss cycles

JIT code shows as addresses and is summed as one row. Needs callgrind_annotate.
"""
import importlib.util
import os
import re
import subprocess
import sys

_spec = importlib.util.spec_from_file_location("callgrind_rest_patterns", os.path.join(os.path.dirname(__file__), "callgrind-rest.py"))
EVENTS = "Ir I1mr D1mr D1mw DLmr DLmw Bcm Bim".split()


def patterns():
    # callgrind-rest.py's GC and compiler patterns, read from its source (it runs as a script on import).
    text = open(_spec.origin).read()
    gc = re.search(r'^GC = re.compile\(r"(.*)"\)$', text, re.M).group(1)
    compiler = re.search(r'^COMPILER = re.compile\(r"(.*)"\)$', text, re.M).group(1)
    return re.compile(gc), re.compile(compiler)


GC, COMPILER = patterns()


def functions(path):
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", "--show=" + ",".join(EVENTS), path], capture_output=True, text=True, check=True).stdout
    rows, started = {}, False
    for line in out.splitlines():
        if "file:function" in line:
            started = True
            continue
        tokens = re.sub(r"\(\s*[\d.]+%\)", "", line).split()
        if not started or len(tokens) <= len(EVENTS) or not all(re.fullmatch(r"[\d,]+|\.", t) for t in tokens[: len(EVENTS)]):
            continue
        name = " ".join(tokens[len(EVENTS):])
        name = "JIT code (unnamed)" if name.startswith("???:0x") else name
        counts = rows.setdefault(name, [0] * len(EVENTS))
        for i, token in enumerate(tokens[: len(EVENTS)]):
            counts[i] += 0 if token == "." else int(token.replace(",", ""))
    return rows


def part(name):
    return "gc" if GC.search(name) else "compiler" if COMPILER.search(name) else "rest"


def miss_cycles(c):
    return 10 * (c[1] + c[2] + c[3]) + 100 * (c[4] + c[5]) + 15 * (c[6] + c[7])


if sys.argv[1] == "--by-function":
    a, b, n = functions(sys.argv[2]), functions(sys.argv[3]), int(sys.argv[4])
    top = int(sys.argv[5]) if len(sys.argv) > 5 else 20
    zero = [0] * len(EVENTS)
    rows = [(k, a.get(k, zero), b.get(k, zero)) for k in set(a) | set(b) if part(k) == "rest"]
    rows.sort(key=lambda r: -(miss_cycles(r[2]) - miss_cycles(r[1])))
    print("added per request: Ir, miss cycles (est.), I1mr, D1mr, Bcm  function")
    for name, x, y in rows[:top]:
        print(f"{(y[0] - x[0]) / n:8.0f} {(miss_cycles(y) - miss_cycles(x)) / n:8.0f} {(y[1] - x[1]) / n:6.0f} {(y[2] - x[2]) / n:6.0f} {(y[6] - x[6]) / n:6.0f}  {name[:110]}")
else:
    n = int(sys.argv[3])
    for which in ("rest", "gc", "compiler"):
        sums = []
        for path in sys.argv[1:3]:
            total = [0] * len(EVENTS)
            for name, counts in functions(path).items():
                if part(name) == which:
                    total = [t + c for t, c in zip(total, counts)]
            sums.append(total)
        x, y = sums
        print(f"== {which}: per request untraced, traced, added")
        for i, event in enumerate(EVENTS):
            change = f"{100 * (y[i] / x[i] - 1):+6.1f}%" if x[i] else ""
            print(f"  {event:5s} {x[i] / n / 1000:9.2f}k {y[i] / n / 1000:9.2f}k {(y[i] - x[i]) / n / 1000:+8.2f}k {change}")
        cx, cy = x[0] + miss_cycles(x), y[0] + miss_cycles(y)
        print(f"  cycle estimate: {cx / n / 1000:.1f}k -> {cy / n / 1000:.1f}k {100 * (cy / cx - 1):+.1f}%")
