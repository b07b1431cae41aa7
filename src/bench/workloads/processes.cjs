"use strict";
// Processes: child-process churn with IPC. `children` forked children, at most
// `concurrency` at a time; the parent sends each one message, the child answers
// and exits.
const { fork } = require("node:child_process");

if (process.argv[2] === "--child") {
  process.once("message", (message) => {
    process.send({ id: message.id, answer: message.id * 2 }, () => process.disconnect());
  });
} else {
  const { params, report, nowSeconds } = require("./common.cjs");
  const { children, concurrency } = params({ children: 40, concurrency: 2 });
  const start = nowSeconds();
  let started = 0;
  let exited = 0;
  const launch = () => {
    const id = started++;
    const child = fork(__filename, ["--child"], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
    child.once("message", (message) => {
      if (message.answer !== id * 2) throw new Error(`child ${id} answered ${JSON.stringify(message)}`);
    });
    child.once("exit", (code, signal) => {
      if (code !== 0) throw new Error(`child ${id} exited with ${code ?? signal}`);
      if (started < children) launch();
      if (++exited === children) {
        const seconds = nowSeconds() - start;
        // Each child: one spawn, one message each way, one exit.
        report({ ops: children, unit: "children", seconds, expect: { messages: 2 * children, threads: 0, processes: children } });
      }
    });
    child.send({ id });
  };
  for (let i = 0; i < Math.min(concurrency, children); i++) launch();
}
