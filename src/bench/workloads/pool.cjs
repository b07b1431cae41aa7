"use strict";
// Messaging: a pool of worker threads processing jobs. The main thread keeps
// `inFlight` jobs queued per worker; each job is a small computation whose result is
// posted back. Ends with one "stop" message per worker.
const { Worker, isMainThread, parentPort } = require("node:worker_threads");

function work(job) {
  let hash = job.seed;
  for (let i = 0; i < job.rounds; i++) hash = (Math.imul(hash ^ i, 2654435761) >>> 0) % 4294967291;
  return hash;
}

if (isMainThread) {
  const { params, report, nowSeconds } = require("./common.cjs");
  const { workers: workerCount, jobs, inFlight, rounds } = params({ workers: 2, jobs: 100000, inFlight: 8, rounds: 200 });
  const workers = [];
  let sent = 0;
  let finished = 0;
  let online = 0;
  let start = 0;
  const dispatch = (worker) => {
    if (sent < jobs) worker.postMessage({ id: sent, seed: sent++, rounds });
  };
  const end = () => {
    const seconds = nowSeconds() - start;
    let exited = 0;
    for (const worker of workers) {
      worker.postMessage({ stop: true });
      worker.once("exit", (code) => {
        if (code !== 0) throw new Error(`worker exited with ${code}`);
        if (++exited < workers.length) return;
        // Sends: one per job each way, plus one stop per worker.
        report({
          ops: jobs,
          unit: "jobs",
          seconds,
          expect: { messages: 2 * jobs + workerCount, threads: workerCount, processes: 0 },
        });
      });
    }
  };
  for (let w = 0; w < workerCount; w++) {
    const worker = new Worker(__filename);
    workers.push(worker);
    worker.on("message", () => {
      if (++finished === jobs) end();
      else dispatch(worker);
    });
    worker.once("online", () => {
      if (++online < workerCount) return;
      start = nowSeconds();
      for (const each of workers) for (let i = 0; i < inFlight; i++) dispatch(each);
    });
  }
} else {
  parentPort.on("message", (job) => {
    if (job.stop) parentPort.close();
    else parentPort.postMessage({ id: job.id, result: work(job) });
  });
}
