#!/usr/bin/env python3
"""V8's inline-cache log of two runs of the same program (node --log-ic --logfile=LOG
--no-logfile-per-isolate), untraced A and traced B: how many IC transitions (misses) each
site logged per unit of work, B against A, and the sites whose last state is more polymorphic
in B (1 → P, P → N: megamorphic). A site is its IC kind, line, column and property name (the
script is not in the log line; a site of the agent's code shows as a new one). BENCHMARKS.md
"Web: the cost scope induces in the program's code".

    node --log-ic --logfile=A.log --no-logfile-per-isolate scripts/web-inproc.cjs '{"connections":1,"warmup":3000,"requests":2000}'
    bun src/cli/main.ts run --out T -- node --log-ic --logfile=B.log --no-logfile-per-isolate scripts/web-inproc.cjs '{...}'
    python3 scripts/lib/ic-log-diff.py A.log B.log UNITS [TOP]

States: 0 uninitialized, 1 monomorphic, P polymorphic, N megamorphic, X no feedback, ^
recompute handler. A megamorphic IC that hits V8's stub cache logs nothing: the counts are
misses, not accesses.
"""
import collections
import csv
import re
import sys

csv.field_size_limit(1 << 30)
RANK = {"0": 0, "X": 0, ".": 0, "1": 1, "^": 1, "P": 2, "N": 3, "G": 3}


def load(path):
    counts = collections.Counter()
    last = {}
    with open(path, errors="replace") as file:
        for row in csv.reader(file):
            # type, pc, time, line, column, old state, new state, map, key, modifier, slow reason
            if row and row[0].endswith("IC") and len(row) > 8:
                site = (row[0], row[3], row[4], re.sub(r" hash \w+", "", row[8][:60]))
                counts[site] += 1
                last[site] = row[6]
    return counts, last


def main():
    a_path, b_path, units = sys.argv[1], sys.argv[2], int(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    a, a_last = load(a_path)
    b, b_last = load(b_path)
    print(f"IC transitions per unit: A {sum(a.values()) / units:.2f}, B {sum(b.values()) / units:.2f}")
    sites = set(a) | set(b)
    print("sites, most added transitions first (A, B, B - A per unit):")
    for site in sorted(sites, key=lambda s: -(b[s] - a[s]))[:top]:
        print(f"{a[site] / units:8.2f} {b[site] / units:8.2f} {(b[site] - a[site]) / units:+8.2f}  {site}")
    print("sites more polymorphic at the end of B than of A (present in both):")
    for site in sorted(set(a_last) & set(b_last)):
        if RANK.get(b_last[site], 0) > max(RANK.get(a_last[site], 0), 1):
            print(f"  {a_last[site]} -> {b_last[site]}  {site}")


if __name__ == "__main__":
    main()
