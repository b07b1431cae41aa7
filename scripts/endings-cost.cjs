// The collector's endings watch (zig/endings.zig), its cost: run under `scope run`, prints scope run's own CPU
// (user + system, from /proc/<ppid>/stat: this process's parent) over a window. `idle`: 16 idle node children,
// 5 s; `churn`: 60 node children started and ended one after another. BENCHMARKS.md "The collector's endings".
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const cpu = () => { const f = fs.readFileSync(`/proc/${process.ppid}/stat`, "latin1").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
const mode = process.argv[2];
const kids = [];
if (mode === "idle") for (let i = 0; i < 16; i++) kids.push(spawn(process.execPath, ["-e", "setTimeout(()=>{}, 8000)"], { stdio: "ignore" }));
setTimeout(async () => {
  const before = cpu();
  if (mode === "churn") {
    for (let i = 0; i < 60; i++) await new Promise((r) => spawn(process.execPath, ["-e", "0"], { stdio: "ignore" }).on("exit", r));
  } else await new Promise((r) => setTimeout(r, 5000));
  console.log(`scope-cpu-ms ${cpu() - before}`);
  for (const kid of kids) kid.kill();
}, 1500);
