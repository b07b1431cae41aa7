#!/usr/bin/env python3
"""Every event of callgrind profiles taken with --cache-sim=yes --branch-sim=yes (instructions, I1/D1/LL
misses, conditional and indirect branch mispredicts), a unit (N units in each window), by who owns the
code: the agent's JIT code, Node's and the program's (named from node's --perf-basic-prof map, as
callgrind-attribute.py does), V8's builtins, the GC, the compilers, scope.node, Node's C++, libc. Self
cost only (no call-edge attribution): a miss is counted where the missing instruction is.
BENCHMARKS.md "Web: caches and branches, traced against untraced".

    LL=1048576,16,64 CALLGRIND_FLAGS="--cache-sim=yes --branch-sim=yes --I1=32768,8,64 --D1=49152,12,64 --LL=$LL" \\
      NODE_FLAGS="--perf-basic-prof --no-memory-reducer" WEB_CONNECTIONS=16 scripts/web-inproc-callgrind.sh A untraced 14000 2000
    python3 scripts/lib/callgrind-events.py A N [B N] [TOP]   # one profile, or B against A by kind and the TOP functions

The last column, "model ns", prices the events (MODEL="c0,l1,ll,bm": ns an instruction, an L1 miss that
hits the LL, an LL miss, a mispredict; default 0.1,5,12,5 with the LL at 1 MB, i.e. an L2 miss that hits L3):
Ir*c0 + (I1mr+D1mr+D1mw)*l1 + (ILmr+DLmr+DLmw)*ll + (Bcm+Bim)*bm. A model, not a measurement.
"""
import collections
import importlib.util
import os
import re
import sys

spec = importlib.util.spec_from_file_location("attribute", os.path.join(os.path.dirname(__file__), "callgrind-attribute.py"))
attribute = importlib.util.module_from_spec(spec)
spec.loader.exec_module(attribute)


def compressed(table, token):
    """A callgrind name token, "(id) name" or "(id)": its id, the name noted in `table` when given."""
    match = re.match(r"\((\d+)\)(?: (.*))?$", token)
    if not match:
        return token
    if match.group(2) is not None:
        table[match.group(1)] = match.group(2)
    return match.group(1)


class Profile:
    """What reading a callgrind profile (read_costs) learns besides the costs: its event and
    position names, and its compressed function and object names."""

    def __init__(self):
        self.events = []
        # "line", or "instr line" with --dump-instr=yes: the columns before the events.
        self.positions = ["line"]
        self.names, self.objects, self.object_of = {}, {}, {}

    def object(self, key):
        """The file name of the object function `key` is in."""
        return os.path.basename(self.objects.get(self.object_of.get(key), "") or "")

    def display(self, key, name_of):
        """Function `key`'s name, JIT code named from node's perf map (name_of)."""
        text = self.names.get(key, key).split("'")[0]
        match = re.match(r"0x([0-9a-f]+)$", text)
        if not match:
            return text
        named = name_of(int(match.group(1), 16))
        return attribute.clean(named) if named else "JIT ???"


def read_costs(out, profile):
    """Each cost line of callgrind profile `out` as (function key, its columns, whether it is a
    call's cost): positions, then the events. Fills `profile` as it reads."""
    ob = fn = None
    in_call = False
    with open(out, errors="replace") as file:
        for line in file:
            if line.startswith("events:"):
                profile.events = line.split()[1:]
            elif line.startswith("positions:"):
                profile.positions = line.split()[1:]
            elif line.startswith("ob="):
                ob = compressed(profile.objects, line[3:].strip())
            elif line.startswith("fn="):
                fn = compressed(profile.names, line[3:].strip())
                profile.object_of.setdefault(fn, ob)
            elif line.startswith("cob="):
                compressed(profile.objects, line[4:].strip())
            elif line.startswith("cfn="):
                compressed(profile.names, line[4:].strip())
            elif line.startswith("calls="):
                in_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                yield fn, line.split(), in_call
                in_call = False


def parse(out):
    """Self cost per display name, one vector of events each, and the event names."""
    name_of = attribute.perf_map(out)
    profile = Profile()
    own = collections.defaultdict(lambda: [0] * len(profile.events))
    for fn, parts, in_call in read_costs(out, profile):
        if in_call:
            continue
        vector = own[fn]
        for i, value in enumerate(parts[len(profile.positions):]):
            vector[i] += int(value)
    events = profile.events
    by_name = collections.defaultdict(lambda: [0] * len(events))
    kind_of = {}
    for key, vector in own.items():
        display = profile.display(key, name_of)
        kind_of[display] = kind(display, profile.object(key))
        total = by_name[display]
        for i, value in enumerate(vector):
            total[i] += value
    return events, by_name, kind_of


GC = re.compile(r"Scaveng|MarkCompact|Marking|Sweep|Evacuat|heap::|Heap::|MinorMS|ConcurrentMark|GCTracer|RememberedSet|SlotSet|Worklist|BodyDescriptor|ObjectVisitor|RootVisitor|LocalHeap|Safepoint|MemoryAllocator|PagedSpace|NewSpace|SemiSpace|MemoryChunk|PageMetadata")


def kind(name, obj):
    if name.startswith("JS:") or name.startswith("JIT"):
        owner = attribute.category(name)
        return {"agent": "JIT: the agent's functions", "node": "JIT: Node's JavaScript", "program": "JIT: the program (Express, pg, app)"}.get(owner, "JIT: other (stubs, unnamed)")
    if obj.startswith(("scope.node", "libscope")):
        return "scope.node / libscope"
    # The name without its parameter list (a signature's "Tagged<HeapObject>" is not the GC).
    bare = name.split("(")[0]
    if GC.search(bare):
        return "GC"
    if attribute.COMPILER.search(bare):
        return "compilers"
    if name.startswith("Builtins_"):
        return "V8 builtins"
    if re.match(r"v8::internal::Runtime_|v8::internal::__RT_impl", name):
        return "V8 runtime functions"
    if re.match(r"node::|uv_|napi_|v8impl", name) or obj == "node":
        if name.startswith("v8::"):
            return "V8 C++ (other)"
        return "Node C++ / libuv / N-API" if re.match(r"node::|uv_|napi_|v8impl", name) else "V8 C++ (other)"
    if obj.startswith(("libc", "ld-linux")):
        return "libc / ld"
    return "other (" + (obj or "?") + ")"


def per_unit(vector, n):
    return [value / n for value in vector]


MODEL = [float(x) for x in os.environ.get("MODEL", "0.1,5,12,5").split(",")]


def model(events, vector):
    """Nanoseconds by MODEL's prices (see the docstring)."""
    get = lambda name: vector[events.index(name)] if name in events else 0.0
    c0, l1, ll, bm = MODEL
    return get("Ir") * c0 + (get("I1mr") + get("D1mr") + get("D1mw")) * l1 + (get("ILmr") + get("DLmr") + get("DLmw")) * ll + (get("Bcm") + get("Bim")) * bm


def show(events, rows, label_width=44):
    print(" " * label_width + " ".join(f"{name:>9}" for name in events) + "   model ns")
    for label, vector in rows:
        print(f"{label[:label_width]:<{label_width}}" + " ".join(f"{value:9.1f}" if abs(value) < 1e5 else f"{value:9.0f}" for value in vector) + f" {model(events, vector):10.0f}")


def main():
    args = sys.argv[1:]
    a, n_a = args[0], float(args[1])
    b, n_b = (args[2], float(args[3])) if len(args) >= 4 else (None, None)
    top = int(args[4]) if len(args) >= 5 else (int(args[2]) if len(args) == 3 else 15)
    events, by_a, kinds = parse(a)
    by_kind_a = collections.defaultdict(lambda: [0.0] * len(events))
    for name, vector in by_a.items():
        for i, value in enumerate(per_unit(vector, n_a)):
            by_kind_a[kinds[name]][i] += value
    total_a = [sum(v[i] for v in by_kind_a.values()) for i in range(len(events))]
    if b is None:
        print(f"{a}: a unit, by kind")
        show(events, sorted(by_kind_a.items(), key=lambda kv: -kv[1][0]) + [("all", total_a)])
        return
    events_b, by_b, kinds_b = parse(b)
    assert events_b == events, "the profiles count different events"
    kinds.update(kinds_b)
    by_kind_b = collections.defaultdict(lambda: [0.0] * len(events))
    for name, vector in by_b.items():
        for i, value in enumerate(per_unit(vector, n_b)):
            by_kind_b[kinds[name]][i] += value
    total_b = [sum(v[i] for v in by_kind_b.values()) for i in range(len(events))]
    print(f"A {a}, a unit, by kind")
    show(events, sorted(by_kind_a.items(), key=lambda kv: -kv[1][0]) + [("all", total_a)])
    print(f"\nB {b}, a unit, by kind")
    show(events, sorted(by_kind_b.items(), key=lambda kv: -kv[1][0]) + [("all", total_b)])
    print("\nB minus A, a unit, by kind")
    keys = set(by_kind_a) | set(by_kind_b)
    diff = {k: [by_kind_b.get(k, [0.0] * len(events))[i] - by_kind_a.get(k, [0.0] * len(events))[i] for i in range(len(events))] for k in keys}
    show(events, sorted(diff.items(), key=lambda kv: -kv[1][0]) + [("all", [total_b[i] - total_a[i] for i in range(len(events))])])
    names = set(by_a) | set(by_b)
    fdiff = {name: [(by_b.get(name, [0] * len(events))[i] / n_b) - (by_a.get(name, [0] * len(events))[i] / n_a) for i in range(len(events))] for name in names}
    for event in ("I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw", "Bcm", "Bim"):
        if event not in events:
            continue
        i = events.index(event)
        print(f"\nB minus A, a unit: the {top} functions whose {event} grew most (and the most shrunk)")
        ranked = sorted(fdiff.items(), key=lambda kv: -kv[1][i])
        for name, vector in ranked[:top]:
            print(f"  {vector[i]:8.1f} {event}  (Ir {vector[0]:8.1f})  [{kinds[name]}] {name[:110]}")
        for name, vector in ranked[-5:]:
            print(f"  {vector[i]:8.1f} {event}  (Ir {vector[0]:8.1f})  [{kinds[name]}] {name[:110]}")


if __name__ == "__main__":
    main()
