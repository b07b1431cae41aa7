/**
 * Where the traced pool's program CPU goes, by `perf record` samples of the node process (all
 * its threads, background compiles included) under `scope run`, for each given tree, rounds
 * alternated: samples in the agent's own JavaScript (the preview walk and the hooks), in the
 * native writes (scope.node's Node-API entry points and the ring), in the property-descriptor
 * and for-in builtins the walk calls, and in the whole process. Sample counts of one function
 * move far less with the machine's load than a whole run's CPU time does, so two trees are
 * compared by these, as ns per message event (200 002 messages per 100 000 jobs, a send and a
 * receive each). Needs `perf` (linux-perf) and each tree's zig-out built.
 *
 *   bun scripts/pool-agent-samples.ts ROUNDS JOBS TREE...
 *   e.g. bun scripts/pool-agent-samples.ts 3 300000 /tmp/before .
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";

const [roundsText, jobsText, ...trees] = process.argv.slice(2);
const rounds = Number(roundsText);
const jobs = Number(jobsText);
if (!(rounds > 0) || !(jobs > 0) || trees.length === 0) {
  console.error("usage: bun scripts/pool-agent-samples.ts ROUNDS JOBS TREE...");
  process.exit(2);
}
const frequencyHz = 4000;
const events = (2 * jobs + 2) * 2;
const here = join(import.meta.dir, "..");
const workload = join(here, "src/bench/workloads/pool.cjs");
const out = mkdtempSync(join(tmpdir(), "scope-pool-samples-"));

/** Categories by symbol, first match wins. */
const categories: [string, RegExp][] = [
  ["agent JS", /JS:\S* \S*scope-dev-agent-|JS:\S* \S*dist\/agent\//],
  ["native writes", /\bring\.|\bnapi\.|producer\.|v8impl::|\bnapi_/],
  ["descriptor/for-in builtins", /GetOwnPropertyDescriptor|ForInEnumerate|ForInPrepare|ForInNext|ObjectKeys/],
  ["garbage collector", /Scaveng|Heap::|MarkCompact|Marking|Sweeper|Evacuat|RememberedSet|RootScavenge/],
  ["JIT compiler", /compiler::|Maglev|Turbofan|TurboFan|Compiler::|Zone::|BytecodeGraph|GraphReducer|Typer|Schedule/],
];

function samplesOf(data: string): Map<string, number> {
  const report = Bun.spawnSync(["perf", "report", "-i", data, "--no-children", "--sort", "sym", "-F", "sample,sym", "--stdio"]);
  const counts = new Map<string, number>();
  for (const line of report.stdout.toString().split("\n")) {
    const match = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!match || line.startsWith("#")) continue;
    const name = match[2]!.trim();
    counts.set(name, (counts.get(name) ?? 0) + Number(match[1]));
  }
  return counts;
}

const results = new Map<string, Record<string, number[]>>();
try {
  for (let round = 0; round < rounds; round++) {
    for (const tree of trees) {
      const name = basename(resolve(tree));
      const data = join(out, `${name}-${round}.data`);
      const run = Bun.spawnSync(
        ["bun", "src/cli/main.ts", "run", "--out", join(out, "t.bin"), "--", "perf", "record", "-q", "-F", String(frequencyHz), "-o", data, "node", "--perf-basic-prof", workload, join(out, "r.json"), JSON.stringify({ jobs })],
        { cwd: resolve(tree), stdout: "pipe", stderr: "pipe" },
      );
      if (run.exitCode !== 0) throw new Error(`${name}: ${run.stderr.toString()}`);
      const counts = samplesOf(data);
      const sums: Record<string, number> = { total: 0 };
      for (const [symbol, count] of counts) {
        sums.total! += count;
        const category = categories.find(([, pattern]) => pattern.test(symbol));
        if (category) sums[category[0]] = (sums[category[0]] ?? 0) + count;
      }
      const entry = results.get(name) ?? {};
      for (const [key, count] of Object.entries(sums)) (entry[key] ??= []).push(((count / frequencyHz) * 1e9) / events);
      results.set(name, entry);
      rmSync(data, { force: true });
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`pool, ${jobs} jobs, ${events} message events a run; ns of sampled CPU per message event, median of ${rounds} (runs)`);
for (const [name, entry] of results) {
  console.log(name);
  for (const key of ["total", ...categories.map(([category]) => category)]) {
    const values = entry[key] ?? [0];
    console.log(`  ${key.padEnd(28)} ${median(values).toFixed(0).padStart(6)}   (${values.map((v) => v.toFixed(0)).join(" ")})`);
  }
}
