/**
 * What print.ts columnShifts (the per-line insertions callsites.ts needs) costs on a large
 * file: typescript.js (typescript-js, 8.7 MB) transformed at "full", then columnShifts and,
 * for scale, MagicString#toString of the same edits, each timed N times (median), and the
 * size of the text it adds to the instrumented file.
 *   bun scripts/bench-column-shifts.ts [N]      node: build it first (bun build --target node)
 */
import MagicString from "magic-string";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "../src/instrument/parse";
import { columnShifts } from "../src/instrument/print";
import { transform } from "../src/instrument/transform";

const runs = Number(process.argv[2] ?? 11);
const file = join(import.meta.dir, "..", "node_modules/typescript-js/lib/typescript.js");
const code = readFileSync(file, "utf8");
const parsed = parse(code, file, false);
if (!parsed.ok) throw new Error(parsed.reason);
const edits = new MagicString(code);
transform(parsed.program, code, edits, () => "full", () => false);
const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
const shifts: number[] = [];
const strings: number[] = [];
let size = 0;
for (let i = 0; i < runs; i++) {
  let start = performance.now();
  size = columnShifts(edits, code).length;
  shifts.push(performance.now() - start);
  start = performance.now();
  edits.toString();
  strings.push(performance.now() - start);
}
console.log(`typescript.js ${(code.length / 1e6).toFixed(1)} MB at full: columnShifts median ${median(shifts).toFixed(1)} ms, toString ${median(strings).toFixed(1)} ms, shifts text ${(size / 1e6).toFixed(2)} MB (${runs} runs)`);
