// Where a pool run's time goes, thread by thread: the pool workload run N times one after another
// as `scope bench` spawns it (Bun.gc between; TRACED=1: through `scope run`), each thread's CPU,
// run-queue wait, switches, migrations and GC read at its exit (scripts/lib/thread-sched-probe.cjs),
// one JSON line a run on stdout; then a summary on stderr (median, min–max, correlation with the
// measured window). BENCHMARKS.md "The pool's figure on a noisy host".
//   bun scripts/pool-thread-waits.ts [RUNS=20] [JOBS=100000] > runs.jsonl
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { median } from "../src/bench/stats";

const runs = Number(process.argv[2] ?? 20);
const jobs = Number(process.argv[3] ?? 100000);
const root = join(import.meta.dir, "..");
const probe = join(root, "scripts/lib/thread-sched-probe.cjs");
const probeOut = join(tmpdir(), `pool-thread-waits-${process.pid}.jsonl`);
const result = join(tmpdir(), `pool-thread-waits-${process.pid}.json`);
const trace = join(tmpdir(), `pool-thread-waits-${process.pid}.bin`);
const rows: Record<string, number>[] = [];
for (let i = 0; i < runs; i++) {
  Bun.gc(true);
  rmSync(probeOut, { force: true });
  const scope = process.env.TRACED ? ["bun", join(root, "src/cli/main.ts"), "run", "--out", trace, "--"] : [];
  const child = Bun.spawn([...scope, "node", "--require", probe, join(root, "src/bench/workloads/pool.cjs"), result, JSON.stringify({ jobs })], {
    env: { ...process.env, PROBE_OUT: probeOut },
    stdio: ["ignore", "ignore", "inherit"],
  });
  if ((await child.exited) !== 0) throw new Error(`run ${i} failed`);
  const usage = child.resourceUsage()!;
  const threads = readFileSync(probeOut, "utf8").trim().split("\n").map((line) => JSON.parse(line));
  const main = threads.find((t) => t.thread === 0);
  const workers = threads.filter((t) => t.thread !== 0);
  const run = {
    window: JSON.parse(readFileSync(result, "utf8")).seconds * 1000,
    cpu: Number(usage.cpuTime.total) / 1000,
    sys: Number(usage.cpuTime.system) / 1000,
    mainRun: main.runMs,
    mainWait: main.waitMs,
    workersRun: workers.reduce((sum, t) => sum + t.runMs, 0),
    mainSwitches: main.vcs + main.ics,
    waitPerSwitchUs: (main.waitMs / (main.vcs + main.ics)) * 1000,
    gc: threads.reduce((sum, t) => sum + t.gcMs, 0),
    mainMigrations: main.migrations,
    otherThreadsRun: main.others.reduce((sum: number, t: { runMs: number }) => sum + t.runMs, 0),
    steal: main.stealTicks,
  };
  rows.push(run);
  console.log(JSON.stringify({ ...run, threads }));
}
rmSync(trace, { force: true });
const correlation = (a: number[], b: number[]) => {
  const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  const cov = a.reduce((sum, x, i) => sum + (x - ma) * (b[i]! - mb), 0);
  return cov / Math.sqrt(a.reduce((sum, x) => sum + (x - ma) ** 2, 0) * b.reduce((sum, y) => sum + (y - mb) ** 2, 0));
};
const windows = rows.map((row) => row.window!);
for (const key of Object.keys(rows[0]!)) {
  const values = rows.map((row) => row[key]!);
  console.error(`${key.padEnd(16)} median ${median(values).toFixed(1).padStart(9)}  ${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}  corr. with the window ${correlation(values, windows).toFixed(2)}`);
}
