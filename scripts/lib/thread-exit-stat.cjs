// Preloaded (node -r) by scripts/start-main-thread.sh: at exit, the main thread's own CPU time,
// run-queue wait (/proc/thread-self/schedstat, ns) and minor page faults (/proc/thread-self/stat)
// on stderr, one line starting with MAIN.
"use strict";
process.on("exit", () => {
  const fs = require("fs");
  const stat = fs.readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1].split(" ");
  const sched = fs.readFileSync("/proc/thread-self/schedstat", "utf8").split(" ");
  fs.writeSync(2, `MAIN cpu_ms ${(Number(sched[0]) / 1e6).toFixed(0)} wait_ms ${(Number(sched[1]) / 1e6).toFixed(0)} minflt ${stat[7]}\n`);
});
