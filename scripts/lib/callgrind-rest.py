#!/usr/bin/env python3
"""A callgrind profile of the web service (scripts/web-inproc-callgrind.sh) per request, split
by function name into V8's GC, its compiler and the rest (the part a window's tiering and
scavenges move least: BENCHMARKS.md "Web on Node 24", "Web: the wrappers' own cost").

    python3 scripts/lib/callgrind-rest.py OUT N               # gc, compiler, rest, total per unit (N units)
    python3 scripts/lib/callgrind-rest.py --diff A B N [TOP]  # self instructions per unit by function, B - A, largest first

JIT code shows as addresses (`???:0x...`, summed as one row in --diff; scripts/callgrind-jit-names.cjs
names it). Needs callgrind_annotate.
"""
import re
import subprocess
import sys

GC = re.compile(r"Scaveng|MarkCompact|Marking|Sweeper|Heap::|Evacuat|IterateObjectCache|RootVisitor|MinorMS|ConcurrentMark|GCTracer|LocalHeap|Heap|heap::")
COMPILER = re.compile(r"compiler::|turboshaft|maglev|Maglev|Parser|Compile|Sparkplug|baseline::|Scanner|interpreter::BytecodeGenerator|Bytecode(Array)?Builder")
LINE = re.compile(r"\s*([\d,]+)\s+\(.*?\)\s+(.*)$")


def functions(path):
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", path], capture_output=True, text=True, check=True).stdout
    totals = {}
    for line in out.splitlines():
        match = LINE.match(line) or re.match(r"\s*([\d,]+)\s+(\S.*)$", line)
        if not match or "PROGRAM TOTALS" in match.group(2) or match.group(2).startswith("file:"):
            continue
        name = re.sub(r"0x[0-9a-f]+", "0x?", match.group(2))
        totals[name] = totals.get(name, 0) + int(match.group(1).replace(",", ""))
    return totals


if sys.argv[1] == "--diff":
    a, b, n = functions(sys.argv[2]), functions(sys.argv[3]), int(sys.argv[4])
    top = int(sys.argv[5]) if len(sys.argv) > 5 else 40
    for name in sorted(set(a) | set(b), key=lambda k: -abs(b.get(k, 0) - a.get(k, 0)))[:top]:
        print(f"{a.get(name, 0) / n:9.0f} {b.get(name, 0) / n:9.0f} {(b.get(name, 0) - a.get(name, 0)) / n:+8.0f}  {name[:110]}")
else:
    n = int(sys.argv[2])
    parts = {"gc": 0, "compiler": 0, "rest": 0}
    for name, count in functions(sys.argv[1]).items():
        parts["gc" if GC.search(name) else "compiler" if COMPILER.search(name) else "rest"] += count
    print(" ".join(f"{k}={v / n / 1000:.1f}k" for k, v in parts.items()), f"total={sum(parts.values()) / n / 1000:.1f}k")
