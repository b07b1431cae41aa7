#!/usr/bin/env python3
"""What a traced pool run pays once, by piece: the fixed part a run (the intercept of instructions
against jobs, from two job counts LOW and HIGH), traced against untraced, split into the part
that the first SMALL jobs already hold (the agent's start in every thread, each thread's first
sends: the walk's chunk, the first shape writer) and the part that comes after them inside the
bench's window (V8's optimizing compiles of the agent's functions and of the handlers they are
inlined into, and the slower tiers' code until those land). By category, then by function (self
instructions, JIT code named from --perf-basic-prof as callgrind-attribute.py names it).
Profiles from scripts/pool-callgrind.sh (run `untraced` and a tree at SMALL, LOW and HIGH jobs
into one directory; scripts/pool-fixed.sh does that). BENCHMARKS.md "The pool's fixed part a run,
by piece".

    python3 scripts/lib/callgrind-fixed.py DIR SMALL LOW HIGH UNTRACED_NAME TRACED_NAME [TOP]
"""
import collections
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
attribute = __import__("callgrind-attribute")
self_slope = __import__("callgrind-self-slope")

PARSE = re.compile(r"Scanner|Parser|PreParse|AstValue|BytecodeGenerator|BytecodeArray|interpreter::|Scope::|CalculateLineEnds|VariableMap")
CACHE = re.compile(r"Serializ|Deserializ")


def category(name):
    if attribute.GC.search(name):
        return "GC"
    if CACHE.search(name):
        return "code cache (de)serialising"
    if PARSE.search(name):
        return "parsing, bytecode"
    if attribute.COMPILER.search(name):
        return "optimizing compiles (Maglev, TurboFan)"
    if name.startswith("JS:") or name.startswith("JIT"):
        return "JIT code"
    if name.startswith("napi.") or name.startswith("producer.") or name.startswith("ring."):
        return "scope.node"
    if name.startswith("Builtins_"):
        return "V8 builtins"
    if "sprp" in name or "HashSeed" in name:
        return "hash seed (random a run)"
    return "other native"


def main():
    directory, small, low, high, untraced, traced = sys.argv[1:7]
    top = int(sys.argv[7]) if len(sys.argv) > 7 else 40
    small, low, high = int(small), int(low), int(high)
    load = lambda name, jobs: self_slope.self_by_name(f"{directory}/{name}-{jobs}.out")
    runs = {(n, j): load(n, j) for n in (untraced, traced) for j in (small, low, high)}
    names = set().union(*runs.values())
    rows = []
    for key in names:
        parts = []
        for n in (untraced, traced):
            lo, hi, sm = runs[(n, low)].get(key, 0), runs[(n, high)].get(key, 0), runs[(n, small)].get(key, 0)
            slope = (hi - lo) / (high - low)
            intercept = lo - slope * low
            parts.append((intercept, sm, slope))
        (iu, su, slu), (it, st, slt) = parts
        # In the window after the first SMALL jobs: the intercept less what SMALL jobs already cost (their per-job part is negligible).
        rows.append(((it - st) - (iu - su), st - su, (slt - slu) / 4, key))
    total = lambda i: sum(r[i] for r in rows)
    print(f"traced - untraced: fixed part after the first {small} jobs {total(0) / 1e6:.1f} M, the first {small} jobs {total(1) / 1e6:.1f} M, a message event {total(2):.1f}")
    by = collections.defaultdict(lambda: [0.0, 0.0])
    for after, first, _, key in rows:
        by[category(key)][0] += after
        by[category(key)][1] += first
    for name, (after, first) in sorted(by.items(), key=lambda item: -abs(item[1][0])):
        print(f"  {name:42} {after / 1e6:8.1f} M after   {first / 1e6:8.1f} M first {small} jobs")
    rows.sort(key=lambda r: -abs(r[0]))
    print(f"by function (M after the first {small} jobs, M in them, per message event):")
    for after, first, per, key in rows[:top]:
        print(f"{after / 1e6:9.2f} {first / 1e6:9.2f} {per:8.1f}  {key[:150]}")


if __name__ == "__main__":
    main()
