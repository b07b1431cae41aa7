/**
 * What choosing by package and real path costs (src/instrument/match.ts, selection.ts,
 * src/run/selection-report.ts):
 *   1. Matcher.select per file (run from the checkout), cold (a fresh Matcher: every directory's realpath and
 *      package.json read once) and warm (the same files again), over every .js/.cjs/.mjs
 *      file under this checkout's node_modules, with and without the selection report;
 *   2. the end-of-run scan of a trace for function_selection records (and the second pass
 *      for candidate strings), given a trace file.
 * Usage: bun scripts/bench-selection.ts [trace.bin] [rounds]
 * In Node (the matcher part only): bun build scripts/bench-selection.ts --target node
 *   --outfile /tmp/bench-selection.mjs && node /tmp/bench-selection.mjs "" 5
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Matcher } from "../src/instrument/match";
import { SelectionTracker, selectionPatterns } from "../src/instrument/selection";

// Run from the checkout (a Node bundle of this script lives elsewhere).
const root = process.cwd();
const tracePath = process.argv[2];
const rounds = Number(process.argv[3] ?? 5);

function files(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files(path, out);
    else if (/\.[cm]?js$/.test(entry.name)) out.push(path);
  }
  return out;
}

const all = files(join(root, "node_modules"));
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** CPU time (user + system) in µs: less moved by other processes on a loaded machine than wall time. */
const cpu = () => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};
const config = { root, packages: ["markd", "yaml/dist/**"], include: ["src/**", "**/marked/**"], functions: ["parse*"] };

for (const report of [false, true]) {
  const cold: number[] = [];
  const warm: number[] = [];
  let selected = 0;
  for (let round = 0; round < rounds; round++) {
    const matcher = new Matcher(config);
    if (report) new SelectionTracker(selectionPatterns(config), { record: () => {}, str: () => 1 }).observe(matcher);
    let start = cpu();
    selected = 0;
    for (const file of all) if (matcher.file(file)) selected++;
    cold.push((cpu() - start) / all.length);
    start = cpu();
    for (const file of all) matcher.file(file);
    warm.push((cpu() - start) / all.length);
  }
  console.log(`Matcher.select, ${all.length} files (${selected} selected), report ${report ? "on" : "off"}: cold ${median(cold).toFixed(1)} µs CPU/file, warm ${median(warm).toFixed(1)} µs CPU/file (median of ${rounds})`);
}

if (tracePath) {
  // Bun only (the trace reader is bun:ffi); a computed name keeps it out of a Node bundle.
  const report = "../src/run/selection-report";
  const { unmatchedPatterns } = (await import(report)) as typeof import("../src/run/selection-report");
  const times: number[] = [];
  let result: ReturnType<typeof unmatchedPatterns> = [];
  const settings = JSON.stringify({ packages: ["markd", "marked"] });
  for (let round = 0; round < rounds; round++) {
    const start = cpu();
    result = unmatchedPatterns(tracePath, settings);
    times.push((cpu() - start) / 1000);
  }
  const size = Bun.file(tracePath).size;
  console.log(`unmatchedPatterns(${tracePath}, ${(size / 1024 / 1024).toFixed(1)} MiB): ${median(times).toFixed(1)} ms CPU (median of ${rounds}); ${result.length} unmatched`);
}
