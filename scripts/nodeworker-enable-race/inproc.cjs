"use strict";
// Workers started back to back (src/bench/workloads/worker-churn.cjs, counting in argv[2]) and
// NodeWorker.enable on an in-process node:inspector session every 1 ms, for argv[3] ms.
// Node 20.20, 22 and 24 crash within seconds (SIGSEGV in WorkerManager::SetAutoAttach or
// SIGABRT in MainThreadInterface::Post): see run.sh.
const inspector = require("node:inspector");
require("../../src/bench/workloads/worker-churn.cjs");
let enables = 0;
let reported = 0;
setInterval(() => {
  const session = new inspector.Session();
  session.connect();
  session.on("NodeWorker.attachedToWorker", () => reported++);
  session.post("NodeWorker.enable", { waitForDebuggerOnStart: false }, () => {
    session.post("NodeWorker.disable", {}, () => session.disconnect());
  });
  enables++;
  if (enables % 250 === 0) console.error(`${enables} enables, ${reported} reported`);
}, 1);
setTimeout(() => {
  console.log(`alive after ${enables} enables, ${reported} workers reported`);
  process.exit(0);
}, Number(process.argv[3]) || 20000);
