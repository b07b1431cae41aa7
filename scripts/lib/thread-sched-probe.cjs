"use strict";
// Preloaded (node --require) into every thread of a run by scripts/pool-thread-waits.ts: at each
// thread's exit, one JSON line appended to $PROBE_OUT with the thread's CPU time, run-queue wait
// (/proc/thread-self/schedstat), CPU migrations and switches (/proc/thread-self/sched) and its GC
// pauses; the main thread adds V8's and libuv's threads still alive and /proc/stat's steal ticks.
// BENCHMARKS.md "The pool's figure on a noisy host".
const fs = require("node:fs");
const { isMainThread, threadId } = require("node:worker_threads");
const { PerformanceObserver } = require("node:perf_hooks");
const out = process.env.PROBE_OUT;
let gcMs = 0;
let gcs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration;
    gcs++;
  }
}).observe({ entryTypes: ["gc"] });
function sched(path) {
  const text = fs.readFileSync(path, "utf8");
  const get = (key) => Number(new RegExp(`^${key.replace(/\./g, "\\.")}\\s*:\\s*([\\d.]+)`, "m").exec(text)?.[1] ?? NaN);
  const [runNs, waitNs] = fs.readFileSync(path.replace(/sched$/, "schedstat"), "utf8").trim().split(" ").map(Number);
  return { runMs: runNs / 1e6, waitMs: waitNs / 1e6, migrations: get("se.nr_migrations"), vcs: get("nr_voluntary_switches"), ics: get("nr_involuntary_switches") };
}
function cpuTicks() {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { steal: fields[7], total: fields.reduce((a, b) => a + b, 0) };
}
const ticksStart = isMainThread ? cpuTicks() : null;
process.on("exit", () => {
  const record = { pid: process.pid, thread: threadId, gcMs, gcs, ...sched("/proc/thread-self/sched") };
  if (isMainThread) {
    const ticks = cpuTicks();
    record.stealTicks = ticks.steal - ticksStart.steal;
    record.totalTicks = ticks.total - ticksStart.total;
    record.others = [];
    for (const tid of fs.readdirSync("/proc/self/task")) {
      if (Number(tid) === process.pid) continue;
      try {
        record.others.push({ comm: fs.readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim(), ...sched(`/proc/self/task/${tid}/sched`) });
      } catch {}
    }
  }
  fs.appendFileSync(out, `${JSON.stringify(record)}\n`);
});
