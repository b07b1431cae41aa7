// Workers started back to back, every second one terminated 0-6 ms after its start (as
// src/bench/workloads/worker-churn.cjs); prints "ready". For remote.ts.
const { Worker } = require("node:worker_threads");
let n = 0;
(async () => {
  console.log("ready");
  for (;;) {
    await new Promise((resolve) => {
      const worker = new Worker("require('node:worker_threads').parentPort.postMessage(1); setTimeout(() => {}, 20)", { eval: true });
      worker.on("error", () => {});
      if (n % 2 === 1) setTimeout(() => worker.terminate(), n % 7);
      worker.once("exit", resolve);
    });
    n++;
  }
})();
