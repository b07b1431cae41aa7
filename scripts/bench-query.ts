/**
 * `scope query` speed on a trace the user names (made by a bench workload, BENCHMARKS.md
 * "scope query" gives the commands): the CLI run as a user runs it (`bun
 * src/cli/main.ts`, Bun start-up included), each step its own process, CPU time (user +
 * system of that process) and wall time, medians over the runs:
 *
 * - load: `scope query <trace> "SELECT count(*) FROM events"` with no database cached
 *   (the load, indexes and the write of trace.bin.sqlite included);
 * - cached: the same query again (the database reused);
 * - top: `scope top <trace>` on the cached database;
 * - window: the spans of the main thread in 10 ms in the middle of the trace.
 *
 *   . scripts/env.sh && bun scripts/bench-query.ts <trace.bin> [runs, default 3]
 */
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";

const trace = process.argv[2];
const runs = Number(process.argv[3] ?? 3);
if (!trace) throw new Error("usage: bun scripts/bench-query.ts <trace.bin> [runs]");
const cli = join(import.meta.dir, "../src/cli/main.ts");

interface Step {
  wallMs: number;
  cpuMs: number;
  stdout: string;
}

async function step(args: string[]): Promise<Step> {
  const started = performance.now();
  const child = Bun.spawn([process.execPath, cli, ...args], { stdout: "pipe", stderr: "inherit", env: { ...process.env, NO_COLOR: "1" } });
  const stdout = await new Response(child.stdout).text();
  const code = await child.exited;
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`scope ${args.join(" ")}: exit ${code}`);
  const usage = child.resourceUsage()!;
  return { wallMs, cpuMs: Number(usage.cpuTime.user + usage.cpuTime.system) / 1000, stdout };
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const results: Record<string, Step[]> = { load: [], cached: [], top: [], window: [] };
let events = 0;
let records = 0;
let middle = 0;
for (let run = 0; run < runs; run++) {
  rmSync(`${trace}.sqlite`, { force: true });
  const load = await step(["query", "--json", trace, "SELECT (SELECT value FROM meta WHERE key = 'events') AS events, (SELECT value FROM meta WHERE key = 'records') AS records, (SELECT (min(start_ns) + max(end_ns)) / 2 FROM threads) AS middle"]);
  results.load!.push(load);
  ({ events, records, middle } = JSON.parse(load.stdout));
  results.cached!.push(await step(["query", "--json", trace, "SELECT count(*) FROM events"]));
  results.top!.push(await step(["top", trace]));
  results.window!.push(await step(["query", "--json", trace, `SELECT type, name, start_ns, duration_ns FROM spans WHERE tid = 0 AND start_ns < ${middle + 5e6} AND end_ns > ${middle - 5e6}`]));
}
const line = (name: string) => {
  const steps = results[name]!;
  const wall = median(steps.map((s) => s.wallMs));
  const cpu = median(steps.map((s) => s.cpuMs));
  return `${name.padEnd(7)} wall ${(wall / 1000).toFixed(2)} s  cpu ${(cpu / 1000).toFixed(2)} s${name === "load" ? `  → ${(events / (wall / 1000) / 1e6).toFixed(2)} M events/s wall, ${(events / (cpu / 1000) / 1e6).toFixed(2)} M events/s cpu (${(records / (cpu / 1000) / 1e6).toFixed(2)} M records/s cpu)` : ""}`;
};
console.log(`${trace}: ${events} events, ${records} records; ${runs} runs, medians; load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
for (const name of Object.keys(results)) console.log(line(name));
