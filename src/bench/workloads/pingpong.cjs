"use strict";
// Messaging: worker-thread ping-pong. The main thread posts a message, the worker
// echoes it back, `roundTrips` times; then one "stop" message ends the worker.
const { Worker, isMainThread, parentPort } = require("node:worker_threads");

if (isMainThread) {
  const { params, report, nowSeconds } = require("./common.cjs");
  const { roundTrips } = params({ roundTrips: 20000 });
  const worker = new Worker(__filename);
  let done = 0;
  let start = 0;
  worker.once("online", () => {
    start = nowSeconds();
    worker.postMessage({ n: 0, body: "ping" });
  });
  worker.on("message", (message) => {
    done++;
    if (done < roundTrips) worker.postMessage({ n: message.n + 1, body: "ping" });
    else {
      const seconds = nowSeconds() - start;
      worker.postMessage({ stop: true });
      worker.once("exit", (code) => {
        if (code !== 0) throw new Error(`worker exited with ${code}`);
        // Sends: roundTrips pings + 1 stop from main, roundTrips pongs from the worker.
        report({
          ops: roundTrips,
          unit: "round trips",
          seconds,
          expect: { messages: 2 * roundTrips + 1, threads: 1, processes: 0 },
        });
      });
    }
  });
} else {
  parentPort.on("message", (message) => {
    if (message.stop) parentPort.close();
    else parentPort.postMessage({ n: message.n, body: "pong" });
  });
}
