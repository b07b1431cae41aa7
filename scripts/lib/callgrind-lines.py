#!/usr/bin/env python3
"""The code lines (64 bytes) each function runs, from a callgrind profile taken with --dump-instr=yes
--cache-sim=yes: per function (JIT code named from node's --perf-basic-prof map, as
callgrind-attribute.py does), a unit (N units in the window): the distinct lines it ran, how often a
line ran (a line's runs: its most-run instruction's count), and its I1 misses, so "misses / line runs"
says whether the function's code stays in the I1 between its runs (near 0) or is fetched again every
run (near 1). BENCHMARKS.md "Web: caches and branches, traced against untraced".

    EXTRA=--dump-instr=yes ... scripts/web-inproc-callgrind.sh OUT traced 14000 2000   (CALLGRIND_FLAGS as there)
    [LINES_OF=REGEX] python3 scripts/lib/callgrind-lines.py OUT N [TOP] [KIND-PATTERN]
    (LINES_OF: every line of the functions it matches, by address, e.g. LINES_OF=node-extras.cjs:1437)
"""
import collections
import importlib.util
import os
import re
import sys

spec = importlib.util.spec_from_file_location("events", os.path.join(os.path.dirname(__file__), "callgrind-events.py"))
events_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(events_module)
attribute = events_module.attribute


def main():
    out, n = sys.argv[1], float(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    pattern = re.compile(sys.argv[4]) if len(sys.argv) > 4 else None
    name_of = attribute.perf_map(out)
    profile = events_module.Profile()
    # function -> line address -> [max Ir of an instruction, sum I1mr, sum Ir]
    lines = collections.defaultdict(dict)
    address = 0
    for fn, parts, in_call in events_module.read_costs(out, profile):
        assert "instr" in profile.positions, "take the profile with --dump-instr=yes"
        # A call's cost line moves the address too (positions are relative to the line before).
        token = parts[0]
        if token.startswith("0x"):
            address = int(token, 16)
        elif token[0] in "+-":
            address += int(token)
        elif token != "*":
            address = int(token)
        if in_call:
            continue
        # parts[1] is the source line (positions: instr line), then the events.
        events = profile.events
        values = [int(v) for v in parts[2:]]
        ir = values[0] if values else 0
        i1 = values[events.index("I1mr")] if "I1mr" in events and len(values) > events.index("I1mr") else 0
        entry = lines[fn].setdefault(address & ~63, [0, 0, 0])
        entry[0] = max(entry[0], ir)
        entry[1] += i1
        entry[2] += ir
    rows = []
    # LINES_OF=REGEX: each line of the functions it matches, by address: its runs, I1 misses and Ir a unit.
    detail = re.compile(os.environ["LINES_OF"]) if os.environ.get("LINES_OF") else None
    details = []
    for key, by_line in lines.items():
        display = profile.display(key, name_of)
        kind = events_module.kind(display, profile.object(key))
        if pattern and not pattern.search(kind + " " + display):
            continue
        runs = sum(v[0] for v in by_line.values())
        misses = sum(v[1] for v in by_line.values())
        ir = sum(v[2] for v in by_line.values())
        rows.append((misses / n, len(by_line), runs / n, ir / n, kind, display))
        if detail and detail.search(display):
            details.append((display, by_line))
    rows.sort(reverse=True)
    print(f"{'I1mr':>8} {'lines':>6} {'line runs':>10} {'miss/run':>8} {'Ir':>8}  function (a unit; lines: distinct 64-byte lines run in the window)")
    for misses, count, runs, ir, kind, display in rows[:top]:
        print(f"{misses:8.1f} {count:6d} {runs:10.1f} {misses / runs if runs else 0:8.2f} {ir:8.1f}  [{kind}] {display[:100]}")
    for display, by_line in details:
        first = min(by_line)
        print(f"\n{display} at {first:#x}: line (offset from its first line run), runs, I1 misses, Ir a unit")
        for address in sorted(by_line):
            top_ir, i1, ir = by_line[address]
            print(f"  +{address - first:#06x} {top_ir / n:7.2f} {i1 / n:7.2f} {ir / n:8.1f}")
    total = [sum(r[i] for r in rows) for i in (0, 1, 2, 3)]
    print(f"{total[0]:8.1f} {total[1]:6d} {total[2]:10.1f} {total[0] / total[2] if total[2] else 0:8.2f} {total[3]:8.1f}  all shown by the pattern ({len(rows)} functions)")


if __name__ == "__main__":
    main()
