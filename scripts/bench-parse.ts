/**
 * The parse step alone over the transform corpus (typescript.js, marked, yaml: 9.2 MB),
 * each parser scope can use, in node and in bun (issue 12):
 *
 *   . scripts/env.sh && bun scripts/bench-parse.ts [rounds]
 *
 * meriyah (as parse.ts calls it), oxc-parser's raw transfer (oxc-raw.ts: Node only) and
 * oxc-parser's JSON path (parseSync, as for TypeScript). Per parser: the first pass (cold,
 * as in a first start) and the median of `rounds` warm passes, wall and CPU time of the
 * process (CPU includes V8's GC helper threads).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oxcBindingSource } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";
import { corpusFiles, repoRoot } from "../src/bench/instrument";

const rounds = Number(process.argv[2] ?? 5);
const scratch = mkdtempSync(join(tmpdir(), "scope-bench-parse-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));
writeFileSync(
  join(scratch, "entry.ts"),
  `export { parseModule, parseScript } from ${JSON.stringify(join(repoRoot, "node_modules/meriyah"))};
export { parseRaw, rawTransferUsable } from ${JSON.stringify(join(repoRoot, "src/instrument/oxc-raw.ts"))};
export { parseSync as oxcJson } from ${JSON.stringify(join(repoRoot, "node_modules/oxc-parser"))};
`,
);
const built = await Bun.build({ entrypoints: [join(scratch, "entry.ts")], outdir: scratch, target: "node", format: "cjs", naming: "parsers.cjs", plugins: [oxcBindingPlugin()] });
if (!built.success) throw new Error(built.logs.map(String).join("\n"));
const worker = `
const P = require(${JSON.stringify(join(scratch, "parsers.cjs"))});
const files = ${JSON.stringify(corpusFiles)}.map((f) => [f, require("fs").readFileSync(f, "utf8")]);
const bytes = files.reduce((n, [, c]) => n + c.length, 0);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const options = { next: true, ranges: { start: true, end: true }, webcompat: true };
const parsers = {
  meriyah: () => { for (const [f, c] of files) { try { P.parseModule(c, { ...options, jsx: /\\.js$/.test(f) }); } catch { P.parseScript(c, { ...options, globalReturn: true }); } } },
  "oxc raw transfer": () => { for (const [f, c] of files) { const r = P.parseRaw(c, f, /\\.js$/.test(f) ? "jsx" : "js", "unambiguous"); if (!r || !r.ok) throw new Error(f + ": " + (r ? r.reason : "raw transfer unusable")); } },
  "oxc JSON": () => { for (const [f, c] of files) P.oxcJson(f, c, { lang: "js", sourceType: "unambiguous", range: false }).program; },
};
const which = process.argv[2];
if (which === "oxc raw transfer" && !P.rawTransferUsable()) { console.log(JSON.stringify({ which, unusable: true })); process.exit(0); }
const run = parsers[which];
let a = now(), c = cpu(); run(); const first = { wall: now() - a, cpu: cpu() - c };
const warm = [];
for (let i = 0; i < ${rounds}; i++) { a = now(); c = cpu(); run(); warm.push({ wall: now() - a, cpu: cpu() - c }); }
const med = (k) => warm.map((t) => t[k]).sort((x, y) => x - y)[warm.length >> 1];
console.log(JSON.stringify({ which, bytes, first, warm: { wall: med("wall"), cpu: med("cpu") } }));
`;
writeFileSync(join(scratch, "worker.cjs"), worker);
const env = { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" };
console.log(`parse only, ${rounds} warm rounds; ms (wall / CPU); MB/s of CPU time`);
for (const runtime of ["node", process.execPath]) {
  for (const which of ["meriyah", "oxc raw transfer", "oxc JSON"]) {
    const out = Bun.spawnSync([runtime, join(scratch, "worker.cjs"), which], { env, stderr: "pipe" });
    if (out.exitCode !== 0) throw new Error(`${which} in ${runtime}: ${out.stderr.toString()}`);
    const r = JSON.parse(out.stdout.toString());
    const name = runtime === "node" ? "node" : "bun";
    if (r.unusable) {
      console.log(`${name.padEnd(5)} ${which.padEnd(17)} not usable in this runtime`);
      continue;
    }
    const mbps = (ms: number) => (r.bytes / 1e6 / (ms / 1000)).toFixed(1);
    console.log(`${name.padEnd(5)} ${which.padEnd(17)} first ${r.first.wall.toFixed(0).padStart(5)} / ${r.first.cpu.toFixed(0).padStart(5)}   warm ${r.warm.wall.toFixed(0).padStart(5)} / ${r.warm.cpu.toFixed(0).padStart(5)}   ${mbps(r.warm.cpu).padStart(5)} MB/s (first ${mbps(r.first.cpu)})`);
  }
}
