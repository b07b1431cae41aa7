/**
 * One look over /proc for a run's processes (src/run/descendants.ts runProcesses) against the
 * same look of another checkout's, alternated in one process over the same run (the same
 * processes on the host): batches of `looks` looks each way, `rounds` times, CPU (user +
 * system) a look. The run is bench-run-look.ts's (4 node children, a shell's `sleep`, a shell
 * waiting on one), started from this checkout's src. BENCHMARKS.md "scope run's look over /proc".
 *
 *   bun scripts/bench-run-look-ab.ts <other checkout> [rounds=10] [looks=200]
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runProcesses } from "../src/run/descendants";

const other = resolve(process.argv[2] ?? "");
const rounds = Number(process.argv[3] ?? 10);
const looks = Number(process.argv[4] ?? 200);
// The other checkout's look: (ring, pid) before RunMarks, ({ ring, agents }, pid) since.
const { runProcesses: otherLook } = (await import(join(other, "src/run/descendants.ts"))) as { runProcesses: (run: unknown, pid: number) => { records: boolean }[] };
const program = `const { spawn } = require("node:child_process");
for (let i = 0; i < 4; i++) spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
spawn("sh", ["-c", "sleep 60"], { stdio: "ignore" });
spawn("sh", ["-c", "sleep 60; :"], { stdio: "ignore" });
setTimeout(() => {}, 60000);`;
const root = join(import.meta.dir, "..");
const run = Bun.spawn([process.execPath, join(root, "src/cli/main.ts"), "run", "--out", "/dev/null", "--linger", "0", "--", "node", "-e", program], { stdio: ["ignore", "ignore", "ignore"] });

/** The run's SCOPE_RING and NODE_OPTIONS/BUN_OPTIONS agents, from its direct child's environment. */
function marksOf(pid: number): { ring: string; agents: { node: string; bun: string } } | undefined {
  for (const name of readdirSync("/proc")) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== pid) continue;
      const environ = readFileSync(`/proc/${name}/environ`, "latin1");
      const ring = /SCOPE_RING=([^\0]+)/.exec(environ)?.[1];
      const node = /NODE_OPTIONS=--require "?([^"\0 ]+)/.exec(environ)?.[1] ?? "";
      const bun = /BUN_OPTIONS=--preload=([^\0 ]+)/.exec(environ)?.[1] ?? "";
      return ring === undefined ? undefined : { ring, agents: { node, bun } };
    } catch {
      // Gone, or not ours.
    }
  }
  return undefined;
}

const cpuOf = (look: () => unknown) => {
  const cpu = process.cpuUsage();
  for (let i = 0; i < looks; i++) look();
  const spent = process.cpuUsage(cpu);
  return (spent.user + spent.system) / 1000 / looks;
};

try {
  let marks: ReturnType<typeof marksOf>;
  const deadline = Date.now() + 30_000;
  while ((marks === undefined || runProcesses(marks, 0).filter((p) => p.records).length < 5) && Date.now() < deadline) {
    await Bun.sleep(100);
    marks ??= marksOf(run.pid);
  }
  if (marks === undefined) throw new Error("the run's ring was not found");
  await Bun.sleep(3500); // past the 3 s a node is taken as still starting: the ring holders only
  const oldStyle = otherLook.length === 2 && !/RunMarks|run\.ring/.test(readFileSync(join(other, "src/run/descendants.ts"), "utf8"));
  const theirs = () => otherLook(oldStyle ? marks!.ring : marks, 0);
  const ours = () => runProcesses(marks!, 0);
  const results: { ours: number; theirs: number }[] = [];
  for (let round = 0; round < rounds; round++) results.push(round % 2 === 0 ? { theirs: cpuOf(theirs), ours: cpuOf(ours) } : { ours: cpuOf(ours), theirs: cpuOf(theirs) });
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const total = readdirSync("/proc").filter((name) => /^\d+$/.test(name)).length;
  const diffs = results.map((r) => r.ours - r.theirs);
  console.log(`${total} processes, ${runProcesses(marks, 0).length} of the run; CPU a look, median of ${rounds} x ${looks}: this ${median(results.map((r) => r.ours)).toFixed(3)} ms, other ${median(results.map((r) => r.theirs)).toFixed(3)} ms, difference ${median(diffs).toFixed(3)} ms (rounds: ${diffs.map((d) => d.toFixed(3)).join(" ")})`);
} finally {
  process.kill(run.pid, "SIGTERM");
  await run.exited;
}
