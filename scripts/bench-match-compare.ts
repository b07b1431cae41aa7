/**
 * Matcher.file per file, the matcher before choosing by package and real path (270740c)
 * against the current one, CPU time, cold (a fresh Matcher) and warm, over every
 * .js/.cjs/.mjs file under this checkout's node_modules. Run from the checkout:
 *   git show 270740c:src/instrument/match.ts > /tmp/match-old.ts
 *   bun build scripts/bench-match-compare.ts --target node --outfile /tmp/bench-match-compare.mjs
 *   node /tmp/bench-match-compare.mjs
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
// @ts-ignore: written by the command above
import { Matcher as Old } from "/tmp/match-old.ts";
import { Matcher as New } from "../src/instrument/match";

const root = process.cwd();
function files(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else if (/\.[cm]?js$/.test(e.name)) out.push(p);
  }
  return out;
}
const all = files(join(root, "node_modules"));
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const makers: [string, () => { file(f: string): boolean }][] = [
  ["before: include globs", () => new Old({ root, include: ["src/**", "**/marked/**"] })],
  ["now: include globs", () => new New({ root, include: ["src/**", "**/marked/**"] })],
  ["now: include + packages", () => new New({ root, include: ["src/**"], packages: ["marked"] })],
];
for (const [label, make] of makers) {
  const cold: number[] = [];
  const warm: number[] = [];
  for (let r = 0; r < 9; r++) {
    const m = make();
    let s = cpu();
    for (const f of all) m.file(f);
    cold.push((cpu() - s) / all.length);
    s = cpu();
    for (let k = 0; k < 5; k++) for (const f of all) m.file(f);
    warm.push((cpu() - s) / all.length / 5);
  }
  cold.sort((a, b) => a - b);
  warm.sort((a, b) => a - b);
  console.log(`${label}: cold ${cold[4]!.toFixed(1)}, warm ${warm[4]!.toFixed(1)} µs CPU/file (median of 9, ${all.length} files)`);
}
{
  // As Node's hooks run it: the loaders' paths are real (no realpath call).
  const cold: number[] = [];
  for (let r = 0; r < 9; r++) {
    const m = new New({ root, include: ["src/**"], packages: ["marked"] });
    m.loadedIsReal = true;
    const s = cpu();
    for (const f of all) m.file(f);
    cold.push((cpu() - s) / all.length);
  }
  cold.sort((a, b) => a - b);
  console.log(`now: include + packages, paths given real (Node's hooks): cold ${cold[4]!.toFixed(1)} µs CPU/file`);
}
