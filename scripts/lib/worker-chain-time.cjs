"use strict";
// The seed-like chain of scripts/worker-start-time.py: `n` workers one after another, each only
// receiving its message and closing its port (as `scope bench --workload seed`'s workers do),
// with a snapshot of the process's rusage, every live thread's schedstat and context switches
// and the parent's threads (the `scope run` collector when traced) after worker `lo` and after
// the last, written to out.json: per-worker deltas without the process's own start.
//   node worker-chain-time.cjs n lo out.json
const { Worker, isMainThread, parentPort } = require("node:worker_threads");
const fs = require("node:fs");
function tasks(pid) {
  const out = {};
  let ids = [];
  try { ids = fs.readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of ids) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/task/${t}/comm`, "latin1").trim();
      const [run, wait, slices] = fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, "latin1").trim().split(" ").map(Number);
      const st = fs.readFileSync(`/proc/${pid}/task/${t}/status`, "latin1");
      const v = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)[1]);
      const nv = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)[1]);
      out[t] = { comm, run, wait, slices, v, nv };
    } catch {}
  }
  return out;
}
function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "latin1");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { minflt: Number(f[7]), majflt: Number(f[9]), utime: Number(f[11]), stime: Number(f[12]) };
  } catch { return null; }
}
function snap() {
  return {
    t: performance.now(),
    ru: process.resourceUsage(),
    self: tasks(process.pid),
    parent: tasks(process.ppid),
    parentStat: procStat(process.ppid),
    parentComm: fs.readFileSync(`/proc/${process.ppid}/comm`, "latin1").trim(),
  };
}
if (isMainThread) {
  const n = Number(process.argv[2]);
  const lo = Number(process.argv[3]);
  const snaps = [];
  let i = 0;
  const next = () => {
    if (i === lo) snaps.push(snap());
    if (i++ < n) {
      const worker = new Worker(__filename);
      worker.postMessage({ n: i });
      return worker.once("exit", next);
    }
    snaps.push(snap());
    fs.writeFileSync(process.argv[4], JSON.stringify({ n, lo, snaps }));
  };
  next();
} else {
  parentPort.once("message", () => parentPort.close());
}
