/**
 * What choosing by package and real path costs (src/instrument/match.ts, selection.ts,
 * src/run/selection-report.ts):
 *   1. Matcher.select per file, cold (a fresh Matcher: every directory's realpath and
 *      package.json read once) and warm (the same files again), over every .js/.cjs/.mjs
 *      file under this checkout's node_modules, with and without the selection report;
 *   2. the end-of-run scan of a trace for function_selection records (and the second pass
 *      for candidate strings), given a trace file.
 * Usage: bun scripts/bench-selection.ts [trace.bin] [rounds]
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Matcher } from "../src/instrument/match";
import { SelectionTracker, selectionPatterns } from "../src/instrument/selection";
import { unmatchedPatterns } from "../src/run/selection-report";

const root = join(import.meta.dir, "..");
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
const config = { root, packages: ["markd", "yaml/dist/**"], include: ["src/**", "**/marked/**"], functions: ["parse*"] };

for (const report of [false, true]) {
  const cold: number[] = [];
  const warm: number[] = [];
  let selected = 0;
  for (let round = 0; round < rounds; round++) {
    const matcher = new Matcher(config);
    if (report) new SelectionTracker(selectionPatterns(config), { record: () => {}, str: () => 1 }).observe(matcher);
    let start = performance.now();
    selected = 0;
    for (const file of all) if (matcher.file(file)) selected++;
    cold.push(((performance.now() - start) * 1e6) / all.length);
    start = performance.now();
    for (const file of all) matcher.file(file);
    warm.push(((performance.now() - start) * 1e6) / all.length);
  }
  console.log(`Matcher.select, ${all.length} files (${selected} selected), report ${report ? "on" : "off"}: cold ${(median(cold) / 1000).toFixed(1)} µs/file, warm ${(median(warm) / 1000).toFixed(1)} µs/file (median of ${rounds})`);
}

if (tracePath) {
  const times: number[] = [];
  let result: ReturnType<typeof unmatchedPatterns> = [];
  const settings = JSON.stringify({ packages: ["markd", "marked"] });
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    result = unmatchedPatterns(tracePath, settings);
    times.push(performance.now() - start);
  }
  const size = Bun.file(tracePath).size;
  console.log(`unmatchedPatterns(${tracePath}, ${(size / 1024 / 1024).toFixed(1)} MiB): ${median(times).toFixed(1)} ms (median of ${rounds}); ${result.length} unmatched`);
}
