"use strict";
// Soak: a steady mix for a long traced run. A long-lived worker echoes `rate`
// messages per second; every second a short-lived worker is spawned, sent one
// message and exits; every 5 seconds a child process is forked, exchanges one
// message each way and exits. Writes {pid} to the ready file when it starts.
// Usage: node soak.cjs <result.json> '{"seconds": 600, "rate": 1000, "ready": "<ready.json>"}'
const { Worker, isMainThread, parentPort, workerData } = require("node:worker_threads");
const { fork } = require("node:child_process");

if (process.argv[2] === "--child") {
  process.once("message", (message) => process.send({ echo: message.n }, () => process.disconnect()));
} else if (!isMainThread) {
  if (workerData?.once) parentPort.once("message", () => parentPort.close());
  else {
    parentPort.on("message", (message) => {
      if (!message.stop) return parentPort.postMessage(message);
      // The last word: every echo before it has been delivered once main reads it.
      parentPort.postMessage({ stopped: true });
      parentPort.close();
    });
  }
} else {
  const fs = require("node:fs");
  const { params, report, nowSeconds } = require("./common.cjs");
  const { seconds, rate, ready } = params({ seconds: 60, rate: 1000, ready: "" });
  const start = nowSeconds();
  let messages = 0;
  let threads = 1;
  let processes = 0;
  let pendingEnds = 0;
  const echo = new Worker(__filename, { workerData: { once: false } });
  let echoStopped = false;
  echo.on("message", (message) => {
    messages++;
    if (message.stopped) echoStopped = true;
  });

  const perTick = Math.max(1, Math.round(rate / 100));
  const tick = setInterval(() => {
    for (let i = 0; i < perTick; i++) echo.postMessage({ n: i, body: "soak" });
    messages += perTick;
  }, 10);
  const spawnWorker = setInterval(() => {
    threads++;
    pendingEnds++;
    const worker = new Worker(__filename, { workerData: { once: true } });
    worker.postMessage({ hello: true });
    messages++;
    worker.once("exit", () => pendingEnds--);
  }, 1000);
  const spawnChild = setInterval(() => {
    processes++;
    pendingEnds++;
    const child = fork(__filename, ["--child"], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
    child.send({ n: processes });
    messages++;
    // Done when both its answer has arrived and it has exited, in whichever order.
    let parts = 0;
    const part = () => {
      if (++parts === 2) pendingEnds--;
    };
    child.once("message", () => {
      messages++;
      part();
    });
    child.once("exit", part);
  }, 5000);

  if (ready) {
    fs.writeFileSync(`${ready}.tmp`, JSON.stringify({ pid: process.pid }));
    fs.renameSync(`${ready}.tmp`, ready);
  }
  setTimeout(() => {
    clearInterval(tick);
    clearInterval(spawnWorker);
    clearInterval(spawnChild);
    echo.postMessage({ stop: true });
    messages++;
    echo.once("exit", function finish() {
      if (pendingEnds > 0 || !echoStopped) return setTimeout(finish, 50);
      // `messages` counted every send: pings and their echoes, one per short worker,
      // two per child, the stop and its answer.
      report({ ops: messages, unit: "messages", seconds: nowSeconds() - start, expect: { messages, threads, processes } });
    });
  }, seconds * 1000);
}
