// Workers started back to back (every second one terminated 0-6 ms after its start) and
// NodeWorker.enable on an in-process node:inspector session every 1 ms, for argv[2] ms.
// Node 20.20, 22 and 24 crash within seconds (SIGSEGV in WorkerManager::SetAutoAttach or
// SIGABRT in MainThreadInterface::Post): see run.sh.
const { Worker } = require("node:worker_threads");
const inspector = require("node:inspector");
let n = 0, enables = 0, reported = 0;
(async () => {
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
const seen = [];
setInterval(() => {
  const session = new inspector.Session();
  session.connect();
  session.on("NodeWorker.attachedToWorker", (m) => { reported++; seen.push(m.params.sessionId); });
  session.post("NodeWorker.enable", { waitForDebuggerOnStart: false }, () => {
    session.post("NodeWorker.disable", {}, () => session.disconnect());
  });
  enables++;
  if (seen.length > 1000) seen.length = 0;
  if (enables % 1000 === 0) console.error(`${enables} enables, ${reported} reported, ${n} workers`);
}, 1);
setTimeout(() => { console.log(`alive after ${enables} enables, ${n} workers`); process.exit(0); }, +process.argv[2] || 20000);
