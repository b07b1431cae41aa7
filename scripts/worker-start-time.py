#!/usr/bin/env python3
"""Time a worker's start takes, untraced against traced, split where instructions do not show it.

Alternated pairs (untraced, traced; the order flips every pair) of a seed-like chain
(scripts/lib/worker-chain-time.cjs: `n` workers one after another, each receiving one message
and closing its port). Per worker = (snapshot after the last worker - snapshot after worker
`lo`) / (n - lo), so the process's own start and the agent's main-thread load cancel out.
Read per worker: wall, CPU (user + system, every thread, dead worker threads included), the
main thread's CPU and run-queue wait (schedstat), the live non-main threads' CPU (V8's platform
threads, libuv), minor faults, context switches, and, traced, the `scope run` collector's CPU
(the node process's parent). Instructions do not change with the load on this shared 2-core
machine, time does: PRE="chrt -f 1" runs both sides under SCHED_FIFO (root), which takes both
cores from other processes for the run's length and leaves run-queue waits at ~0 (BENCHMARKS.md
"Worker start: the time instructions do not show").

  scripts/worker-start-time.py <tree> [pairs=20] [n=42] [lo=2] [out.jsonl] [node bin dir]
  scripts/worker-start-time.py --summary out.jsonl

Env: PRE (a prefix command for both sides), NODEFLAGS (node options for both sides).
"""
import json, os, statistics as st, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHAIN = os.path.join(HERE, "lib", "worker-chain-time.cjs")


def run(tree, traced, n, lo, env, work):
    res = os.path.join(work, "res.json")
    if os.path.exists(res):
        os.remove(res)
    pre, flags = os.environ.get("PRE", ""), os.environ.get("NODEFLAGS", "")
    node = f"node {flags} {CHAIN} {n} {lo} {res}"
    if traced:
        cmd = f"cd {tree} && . scripts/env.sh && {pre} bun src/cli/main.ts run --out {work}/t.bin -- {node}"
    else:
        cmd = f"{pre} {node}"
    subprocess.run(["bash", "-c", cmd], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    a, b = json.load(open(res))["snaps"]
    k = n - lo
    ru = lambda f: (b["ru"][f] - a["ru"][f]) / k
    r = {"traced": traced, "wall": (b["t"] - a["t"]) / k}
    r["user"], r["sys"] = ru("userCPUTime") / 1000, ru("systemCPUTime") / 1000
    r["cpu"] = r["user"] + r["sys"]
    r["minflt"], r["vcsw"], r["ivcsw"] = ru("minorPageFault"), ru("voluntaryContextSwitches"), ru("involuntaryContextSwitches")
    main = min(a["self"], key=int)
    r["main_run"] = (b["self"][main]["run"] - a["self"][main]["run"]) / 1e6 / k
    r["main_wait"] = (b["self"][main]["wait"] - a["self"][main]["wait"]) / 1e6 / k
    r["main_vcsw"] = (b["self"][main]["v"] - a["self"][main]["v"]) / k
    live = [t for t in a["self"] if t in b["self"] and t != main]
    r["other_run"] = sum(b["self"][t]["run"] - a["self"][t]["run"] for t in live) / 1e6 / k
    r["other_wait"] = sum(b["self"][t]["wait"] - a["self"][t]["wait"] for t in live) / 1e6 / k
    # Threads gone by the last snapshot: the workers' own threads.
    r["workers_cpu"] = r["cpu"] - r["main_run"] - r["other_run"]
    if traced:
        both = [t for t in a["parent"] if t in b["parent"]]
        r["collector_cpu"] = sum(b["parent"][t]["run"] - a["parent"][t]["run"] for t in both) / 1e6 / k
        r["collector_wakeups"] = sum(b["parent"][t]["slices"] - a["parent"][t]["slices"] for t in both) / k
        r["collector_minflt"] = (b["parentStat"]["minflt"] - a["parentStat"]["minflt"]) / k
    return r


def summary(path):
    rows = [json.loads(line) for line in open(path)]
    pairs = [(rows[i], rows[i + 1]) for i in range(0, len(rows) - 1, 2)]
    pairs = [(x, y) if not x["traced"] else (y, x) for x, y in pairs]
    print(f"{len(pairs)} pairs, per worker: median untraced, median traced, median of the pairs' differences (min..max)")
    for key in ["wall", "cpu", "user", "sys", "main_run", "main_wait", "other_run", "other_wait", "workers_cpu", "minflt", "vcsw", "ivcsw", "main_vcsw"]:
        u, t = [p[0][key] for p in pairs], [p[1][key] for p in pairs]
        d = [y - x for x, y in zip(u, t)]
        print(f"  {key:12} {st.median(u):9.3f} {st.median(t):9.3f}  {st.median(d):+8.3f} ({min(d):+.3f}..{max(d):+.3f})")
        if key in ("wall", "cpu"):
            q = st.quantiles([y / x for x, y in zip(u, t)], n=4)
            print(f"  {key:12} traced/untraced: median {q[1]:.4f}, quartiles {q[0]:.4f}..{q[2]:.4f}")
    for key in ["collector_cpu", "collector_wakeups", "collector_minflt"]:
        v = [p[1][key] for p in pairs]
        print(f"  {key:17} {st.median(v):8.3f} ({min(v):.3f}..{max(v):.3f})")


def main():
    if sys.argv[1] == "--summary":
        return summary(sys.argv[2])
    tree = os.path.abspath(sys.argv[1])
    pairs, n, lo = (int(x) for x in (sys.argv[2:5] + ["20", "42", "2"][len(sys.argv[2:5]):]))
    work = tempfile.mkdtemp(prefix="worker-start-time-")
    out = sys.argv[5] if len(sys.argv) > 5 else os.path.join(work, "pairs.jsonl")
    env = dict(os.environ)
    if len(sys.argv) > 6:
        env["PATH"] = sys.argv[6] + ":" + env["PATH"]
    with open(out, "a") as f:
        for p in range(pairs):
            for traced in ([False, True] if p % 2 == 0 else [True, False]):
                f.write(json.dumps({**run(tree, traced, n, lo, env, work), "pair": p}) + "\n")
                f.flush()
    summary(out)


main()
