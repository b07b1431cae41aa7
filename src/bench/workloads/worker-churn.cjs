"use strict";
// Worker threads started back to back for ever, every second one terminated 0-6 ms after its
// start (scripts/attach-worker-churn.sh: scope attach's workers started while attached).
// Counts the workers that ended in <dir>/count (dir: argv[2], else this file's directory).
const { Worker } = require("node:worker_threads");
const { writeFileSync } = require("node:fs");
const { join } = require("node:path");
const countFile = join(process.argv[2] || __dirname, "count");
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
    writeFileSync(countFile, String(++n));
  }
})();
