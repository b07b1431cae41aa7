const { parentPort } = require("node:worker_threads");
parentPort.on("message", ({ n }) => parentPort.postMessage(n * n));
