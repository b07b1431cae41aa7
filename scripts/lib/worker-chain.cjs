"use strict";
// The worker-start scripts' seed-like program: `n` workers (argv[2], default 3) one after
// another, each echoing one message, then exiting. With argv[3] = "cpu" it prints the
// process's CPU time per worker in ms (user + system) to stdout; with argv[3] = "seed" each
// worker only receives its message and closes its port, as `scope bench`'s seed workload's do
// (src/bench/workloads/seed.cjs): no send of its own.
//   node worker-chain.cjs [n] [cpu|seed]
const { Worker, isMainThread, parentPort, workerData } = require("node:worker_threads");
if (isMainThread) {
  const n = Number(process.argv[2] ?? 3);
  let i = 0;
  const next = () => {
    if (i++ < n) {
      const worker = new Worker(__filename, { workerData: process.argv[3] === "seed" });
      worker.once("message", () => {});
      worker.postMessage({ hello: i });
      return worker.once("exit", next);
    }
    if (process.argv[3] !== "cpu") return;
    const u = process.resourceUsage();
    process.stdout.write(String((u.userCPUTime + u.systemCPUTime) / 1000 / n));
  };
  next();
} else {
  parentPort.once("message", (m) => (workerData === true ? parentPort.close() : parentPort.postMessage(m)));
}
