"use strict";
// scripts/code-cache-deserialise.sh's programs (BENCHMARKS.md "Seventeenth look").
//   node code-cache-deserialise.cjs copy <out>          run traced: copies the agent's directory (node.cjs's,
//                                                       from NODE_OPTIONS) to <out>/start at the program's
//                                                       start and to <out>/end after two seed workers
//   node code-cache-deserialise.cjs floor <bundle> <cache>   writes the bundle's cache compiled, not run
//   node code-cache-deserialise.cjs read <bundle> <cache> <n>  n workers one after another, each compiling
//                                                       the bundle with the cache (vm.Script, as node.cjs does)
const { Worker, isMainThread, parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs"), path = require("node:path"), vm = require("node:vm");
const [mode, ...args] = isMainThread ? process.argv.slice(2) : workerData;
const copy = (to) => {
  const at = path.dirname(/--require "?([^ "]+node\.cjs)/.exec(process.env.NODE_OPTIONS)[1]);
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(at)) if (/^node(-bundle)?\.cjs/.test(name)) fs.copyFileSync(path.join(at, name), path.join(to, name));
};
if (mode === "copy" && isMainThread) {
  copy(path.join(args[0], "start"));
  let started = 0;
  const next = () => {
    if (started++ === 2) return copy(path.join(args[0], "end"));
    const worker = new Worker(__filename, { workerData: ["copy"] });
    worker.postMessage(started);
    worker.once("exit", next);
  };
  next();
} else if (mode === "copy") {
  parentPort.once("message", () => parentPort.close());
} else if (mode === "floor") {
  fs.writeFileSync(args[1], new vm.Script(fs.readFileSync(args[0], "latin1"), { filename: args[0] }).createCachedData());
} else if (mode === "read" && isMainThread) {
  let n = Number(args[2]);
  const next = () => n-- > 0 && new Worker(__filename, { workerData: ["read", ...args] }).once("exit", next);
  next();
} else if (mode === "read") {
  const script = new vm.Script(fs.readFileSync(args[0], "latin1"), { filename: args[0], cachedData: fs.readFileSync(args[1]) });
  if (script.cachedDataRejected) process._rawDebug(`rejected: ${args[1]}`);
}
