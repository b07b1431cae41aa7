// The bundled example that `bash scripts/demo.sh` traces: a worker thread that
// squares numbers, and a forked child that greets over IPC, both messaging the main thread.
const { Worker } = require("node:worker_threads");
const { fork } = require("node:child_process");
const path = require("node:path");

async function askWorker() {
  const worker = new Worker(path.join(__dirname, "worker.js"));
  for (const n of [2, 3]) {
    const squared = await new Promise((resolve) => {
      worker.once("message", resolve);
      worker.postMessage({ n });
    });
    console.log(`worker: ${n}² = ${squared}`);
  }
  await worker.terminate();
}

async function askChild() {
  const child = fork(path.join(__dirname, "child.js"));
  const reply = await new Promise((resolve) => {
    child.once("message", resolve);
    child.send({ hello: "child", token: "s3cret" });
  });
  console.log(`child: ${reply.greeting}`);
  await new Promise((resolve) => child.once("exit", resolve));
}

askWorker().then(askChild).then(() => console.log("done"));
