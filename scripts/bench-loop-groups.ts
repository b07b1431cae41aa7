/**
 * What the loop and memory groups cost on every `scope bench` workload: each workload traced
 * as `scope bench` traces it (its own groups, functions, --async), against the same with
 * `loop` and `memory` added, alternated (which goes first alternates too), N pairs. Program
 * workloads: the program's CPU time (rusage of its whole life, reaped children included)
 * per unit of work; HTTP: the server's CPU per request in the measured window. Reported:
 * medians of each side and the median of the paired ratios, with its spread.
 *
 *   bun scripts/bench-loop-groups.ts [pairs] [workloads,comma,separated] [scale]
 *
 * (from the repository root after `. scripts/env.sh`; default 7 pairs, every program and
 * HTTP workload but web, scale 1; loop-gc's own side is --events process alone). ADD=loop or
 * ADD=memory adds that group alone.
 */
import { loadavg } from "node:os";
import { defaultEventGroups } from "../src/run/options";
import { workloads, scaledParams, type HttpWorkload, type ProgramWorkload } from "../src/bench/catalogue";
import { runHttp, runProgram, type RunContext } from "../src/bench/runner";
import { extractWorkloads } from "../src/bench/workloads";

const pairs = Number(process.argv[2] ?? 7);
const wanted = process.argv[3]?.split(",");
const scale = Number(process.argv[4] ?? 1);
const candidates = workloads.filter((w): w is ProgramWorkload | HttpWorkload => (w.kind === "program" || (w.kind === "http" && !w.web)) && w.name !== "http-loop-gc");
const chosen = wanted ? candidates.filter((w) => wanted.includes(w.name)) : candidates;
if (chosen.length === 0) throw new Error(`no workload among ${candidates.map((w) => w.name).join(",")}`);

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const dir = await extractWorkloads();
const context: RunContext = { dir, ringBytes: 16 * 2 ** 20, keepTraces: false, sequence: 0 };
const rows: string[] = [];
try {
  for (const workload of chosen) {
    const base = (workload.events ?? defaultEventGroups).filter((group) => group !== "loop" && group !== "memory");
    const added = (process.env.ADD ?? "loop,memory").split(",");
    const sides = { off: { ...workload, events: base }, on: { ...workload, events: [...base, ...added] } };
    const cost: Record<"off" | "on", number[]> = { off: [], on: [] };
    const records: Record<"off" | "on", number[]> = { off: [], on: [] };
    const run = async (side: "off" | "on") => {
      const w = sides[side];
      const m = w.kind === "http"
        ? await runHttp(context, w, { warmupMs: 2000, durationMs: 5000 }, "traced")
        : await runProgram(context, w, scaledParams(w, scale), "traced");
      const perUnit = m.http ? m.http.serverCpuUsPerRequest : (m.programCpuSeconds / m.ops) * 1e6;
      if (!m.trace?.check.ok) throw new Error(`${workload.name} (${side}): trace check failed: ${m.trace?.check.problems.join("; ")}`);
      return { perUnit, recorded: m.trace.recorded };
    };
    // One warm-up pair, not counted.
    await run("off");
    await run("on");
    for (let i = 0; i < pairs; i++) {
      const order: ("off" | "on")[] = i % 2 === 0 ? ["off", "on"] : ["on", "off"];
      for (const side of order) {
        const { perUnit, recorded } = await run(side);
        cost[side].push(perUnit);
        records[side].push(recorded);
      }
      process.stderr.write(`${workload.name} pair ${i + 1}: off ${cost.off.at(-1)!.toFixed(2)} on ${cost.on.at(-1)!.toFixed(2)} µs/unit (load ${loadavg()[0]!.toFixed(1)})\n`);
    }
    const ratios = cost.on.map((on, i) => on / cost.off[i]! - 1);
    const sorted = [...ratios].sort((a, b) => a - b);
    const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;
    const unit = workload.kind === "http" ? "server µs/request" : "program µs/unit";
    const row = `| ${workload.name} | ${unit} | ${median(cost.off).toFixed(2)} | ${median(cost.on).toFixed(2)} | ${pct(median(ratios))} | ${pct(sorted[Math.floor(sorted.length / 4)]!)} … ${pct(sorted[Math.ceil((sorted.length * 3) / 4) - 1]!)} | ${median(records.off).toFixed(0)} → ${median(records.on).toFixed(0)} |`;
    rows.push(row);
    console.log(row);
  }
} finally {
  dir.remove();
}
console.log(`\n| workload | CPU per unit of work | groups off (median) | loop+memory on (median) | paired median | paired quartiles | records per run |\n|---|---|---|---|---|---|---|\n${rows.join("\n")}\nload average after: ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
