#!/usr/bin/env python3
"""Per-instruction cost of one optimized JavaScript function: a callgrind profile taken with
--dump-instr=yes of a node that printed its optimized code in the same run (--print-opt-code),
so the addresses in the profile are the addresses in the printed disassembly. Prints, per unit
(N units: requests, calls), every instruction of the function's code that ran, with its count,
or with --regions the sums between the given code offsets (hex). BENCHMARKS.md "Web: Express's
layer visit, instruction by instruction".

    PGURL=... SCOPE_ADDON=... SCOPE_LIBSCOPE=... NODE_FLAGS="--perf-basic-prof --no-memory-reducer --print-opt-code" \\
      CALLGRIND_FLAGS=--dump-instr=yes scripts/web-inproc-callgrind.sh OUT traced 14000 3000 > OUT.log 2>&1
    python3 scripts/lib/callgrind-jit-heat.py OUT OUT.log 3000 'SOURCE TEXT' ['MORE TEXT' ...]
    python3 scripts/lib/callgrind-jit-heat.py --regions 2e2,6e5 OUT OUT.log 3000 'SOURCE TEXT'

SOURCE TEXT: strings that all occur in the function's printed raw source (its "--- Raw source ---"
block), e.g. a line of its body; every printed code object of it is shown (a reoptimised function
has several; the ones that did not run show a total of 0). --print-opt-code-filter=NAME keeps the
log small for a named function (an empty filter prints the anonymous ones).
"""
import collections
import re
import sys


def costs(out):
    """Instruction address -> its own Ir (calls' inclusive lines skipped)."""
    cost = collections.Counter()
    fields = None
    addr = 0
    skip = False
    with open(out) as file:
        for line in file:
            if line.startswith("positions:"):
                fields = line.split()[1:]
                continue
            if line.startswith("calls="):
                skip = True
                continue
            if not line or line[0] not in "0123456789+-*":
                continue
            parts = line.split()
            token = parts[0]
            if token.startswith("0x"):
                addr = int(token, 16)
            elif token[0] in "+-":
                step = int(token[1:], 16) if token[1:].startswith("0x") else int(token[1:])
                addr = addr + step if token[0] == "+" else addr - step
            elif token != "*":
                continue
            if skip:
                skip = False
                continue
            if fields and len(parts) > len(fields):
                cost[addr] += int(parts[len(fields)])
    return cost


def blocks(log):
    """(raw source, [(address, offset, assembly)]) of each optimized code object printed."""
    found = []
    source, code, mode = [], [], None
    for line in open(log, errors="replace"):
        if line.startswith("--- Raw source ---"):
            if code:
                found.append(("".join(source), code))
            source, code, mode = [], [], "source"
            continue
        if line.startswith("--- Optimized code ---"):
            mode = "meta"
            continue
        if line.startswith("Instructions (size"):
            mode = "code"
            continue
        if mode == "source":
            source.append(line)
        elif mode == "code":
            match = re.match(r"^(0x[0-9a-f]+)\s+([0-9a-f]+)\s+\S+\s+(.*)$", line)
            if match:
                code.append((int(match.group(1), 16), int(match.group(2), 16), match.group(3).rstrip()))
            elif not line.strip() or re.match(r"^(Inlined|Source positions|Safepoints|Deopt|RelocInfo)", line):
                mode = None
    if code:
        found.append(("".join(source), code))
    return found


def main():
    args = sys.argv[1:]
    regions = None
    if args and args[0] == "--regions":
        regions = [int(x, 16) for x in args[1].split(",")]
        args = args[2:]
    out, log, n, wanted = args[0], args[1], int(args[2]), args[3:]
    cost = costs(out)
    for source, code in blocks(log):
        if not all(text in source for text in wanted):
            continue
        total = sum(cost.get(address, 0) for address, _, _ in code) / n
        print(f"=== code at {code[0][0]:#x}: {total:.0f} per unit; source: {source[:70]!r}")
        if total == 0:
            continue
        if regions is not None:
            sums = [0.0] * (len(regions) + 1)
            for address, offset, _ in code:
                sums[sum(1 for cut in regions if offset >= cut)] += cost.get(address, 0) / n
            edges = ["0"] + [f"{cut:x}" for cut in regions]
            for i, value in enumerate(sums):
                print(f"{value:8.0f}  from +{edges[i]}")
            continue
        for address, offset, assembly in code:
            if cost.get(address):
                print(f"{cost[address] / n:8.1f} {offset:5x} {assembly[:120]}")


if __name__ == "__main__":
    main()
