#!/usr/bin/env python3
"""Whose JavaScript a callgrind profile's instructions belong to: every function that is not
JavaScript (V8's builtins, ICs, runtime, N-API, scope.node, libc) gives its self cost to its
nearest JavaScript caller, each caller in proportion to the inclusive cost of its calls, so
that "KeyedHasIC" or "NewStrictArgumentsElements" count for the agent's function or the
program's function that made V8 run them. JIT code is named from node's --perf-basic-prof map
(/tmp/perf-PID.map, PID from the profile). GC and compiler functions (callgrind-rest.py's
patterns) are left out: the rest only. BENCHMARKS.md "Web: the cost scope induces in the
program's code".

Take the profiles with callgrind's --separate-callers=3: a builtin is then a function per chain
of its three callers, so a builtin that both the agent's and the program's code call (Reflect.apply,
CallFunction, LoadIC) is split by who called it; without it the split is by the builtin's
callers overall, and a builtin reached through a shared one is divided by those proportions.

    CALLGRIND_FLAGS=--separate-callers=3 NODE_FLAGS="--perf-basic-prof --no-memory-reducer" \\
      scripts/web-inproc-callgrind.sh A untraced 4000 3000        # and B traced
    python3 scripts/lib/callgrind-attribute.py A B N [TOP]        # per unit (N units): by category, by file, then by function
    python3 scripts/lib/callgrind-attribute.py --one B N [TOP]    # one profile: the agent's functions and the builtins under them
    python3 scripts/lib/callgrind-attribute.py --slope LOW HIGH N [TOP]  # two sizes of one traced run (N units apart,
        scripts/functions-callgrind.sh): every function's cost per unit, the agent's split into its JIT code and each kind
        of native work under it

Categories: "agent" (scope's bundles and its stamp classes, scope-stamp), "node" (node:
internals), "program" (everything else named: the app, Express, pg, ...), "(root)" (no
JavaScript caller: the event loop's native work, V8's own tasks).
"""
import bisect
import collections
import re
import sys

GC = re.compile(r"Scaveng|MarkCompact|Marking|Sweeper|Heap::|Evacuat|IterateObjectCache|RootVisitor|MinorMS|ConcurrentMark|GCTracer|LocalHeap|Heap|heap::")
COMPILER = re.compile(r"compiler::|turboshaft|maglev|Maglev|Parser|Compile|Sparkplug|baseline::|Scanner|interpreter::BytecodeGenerator|Bytecode(Array)?Builder")


def perf_map(out):
    with open(out, errors="replace") as file:
        pid = re.search(r"^pid: (\d+)", file.read(4000), re.M).group(1)
    entries = []
    try:
        with open(f"/tmp/perf-{pid}.map") as file:
            for line in file:
                match = re.match(r"^([0-9a-f]+) ([0-9a-f]+) (.*)$", line)
                if match:
                    entries.append((int(match.group(1), 16), int(match.group(2), 16), match.group(3), len(entries)))
    except FileNotFoundError:
        pass
    entries.sort(key=lambda entry: (entry[0], entry[3]))
    starts = [entry[0] for entry in entries]

    def name(address):
        # The latest code written that covers the address (V8 reuses addresses).
        at = bisect.bisect_right(starts, address)
        best = None
        for i in range(at - 1, max(-1, at - 200), -1):
            start, size, text, order = entries[i]
            if start <= address < start + size and (best is None or order > best[3]):
                best = entries[i]
        return best[2] if best else None

    return name


def clean(name):
    name = re.sub(r"/tmp/scope-dev-agent-[\w-]+/", "AGENT:", name)
    name = re.sub(r"/\S*?/node_modules/", "", name)
    name = re.sub(r"/\S*?/(src|scripts)/", r"\1/", name)
    name = re.sub(r"JS:[*+^~']+", "JS:", name)
    return name


def parse(out):
    """Self cost per function id, inclusive cost per call edge, and each id's display name."""
    name_of = perf_map(out)
    names = {}

    def function_id(token):
        match = re.match(r"\((\d+)\)(?: (.*))?$", token)
        if match.group(2) is not None:
            names[match.group(1)] = match.group(2)
        return match.group(1)

    own = collections.Counter()
    edges = collections.Counter()
    fn = callee = None
    in_call = False
    with open(out, errors="replace") as file:
        for line in file:
            if line.startswith("fn="):
                fn = function_id(line[3:].strip())
            elif line.startswith("cfn="):
                callee = function_id(line[4:].strip())
            elif line.startswith("calls="):
                in_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) < 2:
                    continue
                if in_call:
                    edges[(fn, callee)] += int(parts[1])
                    in_call = False
                else:
                    own[fn] += int(parts[1])
    display = {}
    for key, text in names.items():
        # --separate-callers: "function'caller'caller"; recursion: "function'2".
        first = text.split("'")[0]
        match = re.match(r"0x([0-9a-f]+)$", first)
        if match:
            named = name_of(int(match.group(1), 16))
            display[key] = clean(named) if named and named.startswith("JS:") else ("JIT " + named if named else "JIT ???")
        else:
            display[key] = first
    return own, edges, display


def attribute(out, n):
    """Per unit: JavaScript function -> self + the non-JavaScript cost it caused; and which builtins that was."""
    own, edges, display = parse(out)
    is_js = lambda key: display.get(key, "").startswith("JS:")
    callers = collections.defaultdict(list)
    for (caller, callee), cost in edges.items():
        if caller != callee:
            callers[callee].append((caller, cost))
    # Absorption into JavaScript callers: share[f] = sum over callers c of p(c) * (c if JavaScript else share[c]), iterated.
    weights = {}
    for fn, calls in callers.items():
        total = sum(cost for _, cost in calls)
        if total and not is_js(fn):
            weights[fn] = [(caller, cost / total) for caller, cost in calls]
    share = {fn: {} for fn in weights}
    for _ in range(60):
        updated = {}
        for fn, parts in weights.items():
            result = collections.Counter()
            for caller, p in parts:
                if is_js(caller):
                    result[caller] += p
                elif caller in share:
                    for target, q in share[caller].items():
                        result[target] += p * q
                else:
                    result["(root)"] += p
            updated[fn] = {target: v for target, v in result.items() if v > 1e-6}
        share = updated
    by_function = collections.Counter()
    under = collections.defaultdict(collections.Counter)
    for fn, cost in own.items():
        name = display.get(fn, fn)
        if GC.search(name) or COMPILER.search(name):
            continue
        if is_js(fn):
            by_function[name] += cost / n
            continue
        parts = share.get(fn) or {"(root)": 1.0}
        left = 1.0 - sum(parts.values())
        for target, p in list(parts.items()) + ([("(root)", left)] if left > 1e-6 else []):
            label = display.get(target, target)
            by_function[label] += cost * p / n
            under[label][name] += cost * p / n
    return by_function, under


GROUPS = [
    ("the records' native path (scope.node, N-API)", r"ring\.|napi\.|producer|clock\.|v8impl|napi_|CallApiCallback|GetFunctionTemplateData|__tls_get_addr|External::Value"),
    ("calls and arguments objects (Reflect.apply, varargs)", r"Builtins_Call|NewStrictArguments|NewSloppyArguments|ReflectApply|ArgumentsAdaptor|FunctionPrototypeApply|FunctionPrototypeCall"),
    ("a function's name/length accessors", r"CallApiGetter|Accessors::Function|JSFunction::GetName|ScopeInfoFunctionVariableInfo|SharedFunctionInfo::"),
    ("stamps' private fields (#field in, define)", r"KeyedHasIC|DefineKeyedOwnIC|Runtime_HasProperty|JSConstructStub|DefineNamedOwnIC"),
    ("Map/WeakMap look-ups, string hashing", r"OrderedHashMap|MapPrototype|MapConstructor|WeakMap|WeakCollection|ComputeAndSetRawHash|WriteToFlat|StringTable"),
    ("property descriptors, prototypes", r"GetOwnPropertyDescriptor|GetPrototypeOf|LookupIterator"),
    ("property access ICs", r"LoadIC|StoreIC|LoadGlobalIC|KeyedLoad|KeyedStore|GetProperty|SetProperty"),
    ("allocation, write barrier", r"RecordWrite|FastNew|AllocateRaw|Allocate|GrowFast|CreateTypedArray|CloneObject|CreateShallow"),
    ("map transitions (MapUpdater)", r"MapUpdater|Transition|Map::"),
]


def group(name):
    for label, pattern in GROUPS:
        if re.search(pattern, name):
            return label
    return "other"


def category(name):
    if "AGENT:" in name or "scope-stamp" in name:
        return "agent"
    if " node:" in name:
        return "node"
    if name.startswith("JS:"):
        return "program"
    return name


def file_of(name):
    """A JavaScript function's file (its module: an inlining moves cost between its functions, less between files)."""
    if not name.startswith("JS:"):
        return name
    return re.sub(r":\d+:\d+$", "", name.split(" ")[-1])


def print_outside(builtins, top):
    """What the agent's functions called outside JavaScript: by kind, then the largest."""
    groups = collections.Counter()
    for k, v in builtins.items():
        groups[group(k)] += v
    print("outside JavaScript, under the agent's functions, by kind:")
    for k, v in groups.most_common():
        print(f"{v:9.0f}  {k}")
    print("outside JavaScript, under the agent's functions:")
    for k, v in builtins.most_common(top):
        print(f"{v:9.0f}  {k[:140]}")


def main():
    args = sys.argv[1:]
    if args and args[0] == "--one":
        out, n = args[1], int(args[2])
        top = int(args[3]) if len(args) > 3 else 40
        by_function, under = attribute(out, n)
        agent = collections.Counter({k: v for k, v in by_function.items() if category(k) == "agent"})
        builtins = collections.Counter()
        for k, parts in under.items():
            if category(k) == "agent":
                builtins.update(parts)
        print(f"agent {sum(agent.values()):.0f} per unit: its JIT code {sum(agent.values()) - sum(builtins.values()):.0f}, what it called outside JavaScript {sum(builtins.values()):.0f}")
        for k, v in agent.most_common(top):
            print(f"{v:9.0f}  {k[:140]}")
        print_outside(builtins, top)
        return
    if args and args[0] == "--slope":
        n = int(args[3])
        top = int(args[4]) if len(args) > 4 else 40
        low, low_under = attribute(args[1], 1)
        high, high_under = attribute(args[2], 1)
        by = collections.Counter({k: (high[k] - low[k]) / n for k in set(low) | set(high)})
        cats = collections.Counter()
        for k, v in by.items():
            cats[category(k)] += v
        print(f"rest per unit {sum(by.values()):.0f} (GC and compilers left out)")
        print("by category:")
        for k, v in cats.most_common():
            if abs(v) >= 1:
                print(f"{v:9.0f}  {k}")
        agent = {k for k in by if category(k) == "agent"}
        builtins = collections.Counter()
        for k in agent:
            for name in set(low_under[k]) | set(high_under[k]):
                builtins[name] += (high_under[k][name] - low_under[k][name]) / n
        own = {k: by[k] - sum((high_under[k][b] - low_under[k][b]) / n for b in set(low_under[k]) | set(high_under[k])) for k in agent}
        print(f"agent: its JIT code {sum(own.values()):.0f}, what it called outside JavaScript {sum(builtins.values()):.0f}")
        print("agent functions (all, own JIT code):")
        for k in sorted(agent, key=lambda k: -by[k])[:top]:
            print(f"{by[k]:9.0f} {own[k]:9.0f}  {k[:140]}")
        print_outside(builtins, top)
        print("the rest (program, node, root), largest first:")
        for k in sorted((k for k in by if k not in agent), key=lambda k: -abs(by[k]))[:top]:
            print(f"{by[k]:9.0f}  {k[:140]}")
        return
    a_out, b_out, n = args[0], args[1], int(args[2])
    top = int(args[3]) if len(args) > 3 else 40
    a, _ = attribute(a_out, n)
    b, _ = attribute(b_out, n)
    ca, cb = collections.Counter(), collections.Counter()
    for k, v in a.items():
        ca[category(k)] += v
    for k, v in b.items():
        cb[category(k)] += v
    print(f"rest per unit: A {sum(a.values()):.0f}, B {sum(b.values()):.0f}, B - A {sum(b.values()) - sum(a.values()):+.0f}")
    print("by category (A, B, B - A):")
    for k in sorted(set(ca) | set(cb), key=lambda k: -abs(cb[k] - ca[k])):
        print(f"{ca[k]:9.0f} {cb[k]:9.0f} {cb[k] - ca[k]:+8.0f}  {k}")
    fa, fb = collections.Counter(), collections.Counter()
    for k, v in a.items():
        fa[file_of(k)] += v
    for k, v in b.items():
        fb[file_of(k)] += v
    print("by file, largest change first (A, B, B - A):")
    for k in sorted(set(fa) | set(fb), key=lambda k: -abs(fb[k] - fa[k]))[:top]:
        print(f"{fa[k]:9.0f} {fb[k]:9.0f} {fb[k] - fa[k]:+8.0f}  {k[:140]}")
    print("the program's and Node's functions, largest change first:")
    keys = [k for k in set(a) | set(b) if category(k) != "agent"]
    for k in sorted(keys, key=lambda k: -abs(b[k] - a[k]))[:top]:
        print(f"{a[k]:9.0f} {b[k]:9.0f} {b[k] - a[k]:+8.0f}  {k[:140]}")


if __name__ == "__main__":
    main()
