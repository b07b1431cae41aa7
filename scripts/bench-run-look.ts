/**
 * What one look over /proc for a run's processes costs (src/run/descendants.ts runProcesses:
 * scope run makes one at the program's end when a signal is to be passed on, and one every
 * 25 ms while it waits, --linger). Starts `scope run` (this checkout's src) on a program that
 * keeps 4 node children, a shell's `sleep` and a shell waiting on one running, then times the
 * look: the first (each node's maps read) and 200 more (the ring holders known), in wall and in
 * CPU (user + system). BENCHMARKS.md "scope run's look over /proc".
 *
 *   bun scripts/bench-run-look.ts [children=4] [looks=200]
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runProcesses } from "../src/run/descendants";

const children = Number(process.argv[2] ?? 4);
const looks = Number(process.argv[3] ?? 200);
const program = `const { spawn } = require("node:child_process");
for (let i = 0; i < ${children}; i++) spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
spawn("sh", ["-c", "sleep 60"], { stdio: "ignore" });
spawn("sh", ["-c", "sleep 60; :"], { stdio: "ignore" });
setTimeout(() => {}, 60000);`;
const root = join(import.meta.dir, "..");
const run = Bun.spawn([process.execPath, join(root, "src/cli/main.ts"), "run", "--out", "/dev/null", "--linger", "0", "--", "node", "-e", program], { stdio: ["ignore", "ignore", "ignore"] });

/** The run's ring, from its direct child's environment. */
function ringOf(pid: number): string | undefined {
  for (const name of readdirSync("/proc")) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== pid) continue;
      return /SCOPE_RING=([^\0]+)/.exec(readFileSync(`/proc/${name}/environ`, "latin1"))?.[1];
    } catch {
      // Gone, or not ours.
    }
  }
  return undefined;
}

try {
  let ring: string | undefined;
  const deadline = Date.now() + 30_000;
  while ((ring === undefined || runProcesses({ ring, agents: { node: "", bun: "" } }, 0).filter((p) => p.records).length < children + 1) && Date.now() < deadline) {
    await Bun.sleep(100);
    ring ??= ringOf(run.pid);
  }
  if (ring === undefined) throw new Error("the run's ring was not found");
  await Bun.sleep(3500); // past the 3 s a node is taken as still starting: the ring holders only
  // A fresh ring name empties the holders' cache: the first look reads each node's maps.
  runProcesses({ ring: "/dev/shm/none", agents: { node: "", bun: "" } }, 0);
  let t = performance.now();
  const found = runProcesses({ ring, agents: { node: "", bun: "" } }, 0);
  const first = performance.now() - t;
  t = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < looks; i++) runProcesses({ ring, agents: { node: "", bun: "" } }, 0);
  const each = (performance.now() - t) / looks;
  const spent = process.cpuUsage(cpu);
  const cpuEach = (spent.user + spent.system) / 1000 / looks;
  const total = readdirSync("/proc").filter((name) => /^\d+$/.test(name)).length;
  console.log(`${total} processes, ${found.length} of the run (${found.filter((p) => p.records).length} recording): first look ${first.toFixed(2)} ms, then ${each.toFixed(2)} ms a look, ${cpuEach.toFixed(3)} ms CPU (${looks})`);
} finally {
  process.kill(run.pid, "SIGTERM");
  await run.exited;
}
