/**
 * What each --async level costs per unit of work, without start-up: the `async` bench
 * workload (src/bench/workloads/async.cjs) untraced, traced without --async, with --async
 * and with --async=promises, in rounds alternating the four, each run's CPU time in its
 * measured window (the program's own process.cpuUsage: the main thread, where the hooks
 * run) per task; medians and min–max over rounds.
 *   bun scripts/bench-async.ts [rounds] [tasks]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const rounds = Number(process.argv[2] ?? 5);
const tasks = Number(process.argv[3] ?? 50_000);
const root = join(import.meta.dir, "..");
const workload = join(root, "src/bench/workloads/async.cjs");
const cli = join(root, "src/cli/main.ts");
const dir = mkdtempSync(join(tmpdir(), "scope-bench-async-"));

const modes: Record<string, string[]> = {
  untraced: [],
  "traced, --async off": ["run", "--out", join(dir, "t.bin"), "--"],
  "--async (callbacks)": ["run", "--async", "--out", join(dir, "t.bin"), "--"],
  "--async=promises": ["run", "--async=promises", "--out", join(dir, "t.bin"), "--"],
};

const results: Record<string, { cpuUs: number[]; records: number[] }> = {};
for (let round = 0; round < rounds; round++) {
  for (const [mode, prefix] of Object.entries(modes)) {
    const result = join(dir, "r.json");
    const argv = prefix.length === 0 ? ["node", workload, result, JSON.stringify({ tasks })] : [process.execPath, cli, ...prefix, "node", workload, result, JSON.stringify({ tasks })];
    const child = Bun.spawnSync(argv, { stdout: "ignore", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    if (child.exitCode !== 0) throw new Error(`${mode}: exit ${child.exitCode}: ${child.stderr.toString()}`);
    const { cpuSeconds } = JSON.parse(readFileSync(result, "utf8")) as { cpuSeconds: number };
    const records = Number(/(\d+) records/.exec(child.stderr.toString())?.[1] ?? 0);
    const entry = (results[mode] ??= { cpuUs: [], records: [] });
    entry.cpuUs.push((cpuSeconds * 1e6) / tasks);
    entry.records.push(records);
  }
}
rmSync(dir, { recursive: true, force: true });
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const base = median(results.untraced!.cpuUs);
for (const [mode, { cpuUs, records }] of Object.entries(results)) {
  const m = median(cpuUs);
  const recs = median(records);
  console.log(
    `${mode.padEnd(20)} ${m.toFixed(2).padStart(6)} µs CPU/task (${Math.min(...cpuUs).toFixed(2)}–${Math.max(...cpuUs).toFixed(2)})  ${m === base ? "" : `${((m / base - 1) * 100).toFixed(0).padStart(4)}%`}  ${recs ? `${(recs / tasks).toFixed(1)} records/task` : ""}`,
  );
}
