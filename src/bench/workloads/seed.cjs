"use strict";
// The seed's own workload: spawn a worker, send it a message, let it exit; many times.
const { Worker, isMainThread, parentPort } = require("node:worker_threads");

if (isMainThread) {
  const { params, report, nowSeconds } = require("./common.cjs");
  const { workers } = params({ workers: 100 });
  const start = nowSeconds();
  let done = 0;
  const next = () => {
    const worker = new Worker(__filename);
    worker.postMessage({ n: done });
    worker.once("exit", (code) => {
      if (code !== 0) throw new Error(`worker exited with ${code}`);
      if (++done < workers) return next();
      const seconds = nowSeconds() - start;
      report({ ops: workers, unit: "workers", seconds, expect: { messages: workers, threads: workers, processes: 0 } });
    });
  };
  next();
} else {
  parentPort.once("message", () => parentPort.close());
}
