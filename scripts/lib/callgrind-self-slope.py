#!/usr/bin/env python3
"""Self instructions by function name, per unit, as the slope between two callgrind profiles of
one configuration (LOW and HIGH, N units apart), for up to two configurations side by side
(e.g. untraced and traced, or main and a change): the functions whose slope differs most
first. JIT code is named from node's --perf-basic-prof map as in callgrind-attribute.py; a
function inlined into another counts for the one it was inlined into. Names are compared
without the workload's directory and the agent bundle's line numbers.

    python3 scripts/lib/callgrind-self-slope.py N A_LOW A_HIGH [B_LOW B_HIGH] [TOP]
"""
import collections
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
attribute = __import__("callgrind-attribute")


def self_by_name(out):
    own, _, display = attribute.parse(out)
    by = collections.Counter()
    for fn, cost in own.items():
        # Comparable across trees and runs: the workload's directory and the agent bundle's line numbers out.
        name = re.sub(r" /\S*/([^/\s]+\.cjs)", r" \1", display.get(fn, fn))
        name = re.sub(r"(AGENT:[\w.-]+\.cjs):\d+:\d+", r"\1", name)
        by[name] += cost
    return by


def slope(low, high, n):
    a, b = self_by_name(low), self_by_name(high)
    return collections.Counter({k: (b[k] - a[k]) / n for k in set(a) | set(b)})


def main():
    args = sys.argv[1:]
    n = int(args[0])
    a = slope(args[1], args[2], n)
    b = slope(args[3], args[4], n) if len(args) >= 5 else None
    top = int(args[5]) if len(args) >= 6 else (int(args[3]) if len(args) == 4 else 60)
    if b is None:
        print(f"total {sum(a.values()):.1f}")
        for k, v in sorted(a.items(), key=lambda kv: -abs(kv[1]))[:top]:
            print(f"{v:9.1f}  {k[:150]}")
        return
    print(f"total A {sum(a.values()):.1f}, B {sum(b.values()):.1f}, B - A {sum(b.values()) - sum(a.values()):+.1f}")
    keys = set(a) | set(b)
    for k in sorted(keys, key=lambda k: -abs(b[k] - a[k]))[:top]:
        print(f"{a[k]:9.1f} {b[k]:9.1f} {b[k] - a[k]:+9.1f}  {k[:150]}")


if __name__ == "__main__":
    main()
