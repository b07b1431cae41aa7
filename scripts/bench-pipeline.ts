/**
 * The whole pipeline (parse → match → transform → print) over the transform corpus
 * (typescript.js, marked, yaml: 9.2 MB) as `instrument()` runs it, in node and in bun, in
 * CPU time (issue 12; the bench's own transform figure is wall time, unreadable on a loaded
 * machine):
 *
 *   . scripts/env.sh && bun scripts/bench-pipeline.ts [level] [rounds]
 *
 * Per runtime: the first (cold) pass, as in a first start, and the median of `rounds` warm
 * passes; wall / CPU ms of the process (CPU includes V8's GC helper threads). In Node the
 * files are transformed as a traced program's are (no map of scope's where the column shifts
 * tell stack positions); SCOPE_INLINE_MAPS=1 for the inline maps as before.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { corpusFiles, repoRoot } from "../src/bench/instrument";
import { oxcBindingSource } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";

const level = process.argv[2] ?? "full";
const rounds = Number(process.argv[3] ?? 3);
const scratch = mkdtempSync(join(tmpdir(), "scope-bench-pipeline-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));
const built = await Bun.build({ entrypoints: [join(repoRoot, "src/instrument/index.ts")], outdir: scratch, target: "node", format: "cjs", naming: "instrument.cjs", plugins: [oxcBindingPlugin()] });
if (!built.success) throw new Error(built.logs.map(String).join("\n"));
writeFileSync(
  join(scratch, "worker.cjs"),
  `const lib = require("./instrument.cjs");
const files = ${JSON.stringify(corpusFiles)}.map((f) => [f, require("fs").readFileSync(f, "utf8")]);
const bytes = files.reduce((n, [, c]) => n + c.length, 0);
// As a traced program transforms (src/bench/instrument.ts): no map of scope's where Node's formatter takes the shifts.
const nodeFormats = !process.versions.bun && process.env.SCOPE_INLINE_MAPS !== "1" && Object.getOwnPropertyDescriptor(Error, "prepareStackTrace")?.value?.name === "ErrorPrepareStackTrace";
const config = { root: "/", include: ["**/node_modules/**"], level: ${JSON.stringify(level)}, ...(nodeFormats ? { shiftsForStacks: true } : {}) };
const now = () => Number(process.hrtime.bigint()) / 1e6;
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const pass = () => { for (const [f, c] of files) if (lib.instrument(c, f, { config }).status !== "instrumented") throw new Error(f); };
let a = now(), c = cpu(); pass(); const first = { wall: now() - a, cpu: cpu() - c };
const warm = [];
for (let i = 0; i < ${rounds}; i++) { a = now(); c = cpu(); pass(); warm.push({ wall: now() - a, cpu: cpu() - c }); }
const med = (k) => warm.map((t) => t[k]).sort((x, y) => x - y)[warm.length >> 1];
console.log(JSON.stringify({ bytes, first, warm: { wall: med("wall"), cpu: med("cpu") } }));
`,
);
const env = { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" };
console.log(`instrument() at "${level}", ${rounds} warm rounds; ms (wall / CPU); MB/s of CPU time`);
for (const runtime of ["node", process.execPath]) {
  const out = Bun.spawnSync([runtime, join(scratch, "worker.cjs")], { env, stderr: "pipe" });
  if (out.exitCode !== 0) throw new Error(`${runtime}: ${out.stderr.toString()}`);
  const r = JSON.parse(out.stdout.toString());
  const mbps = (ms: number) => (r.bytes / 1e6 / (ms / 1000)).toFixed(1);
  console.log(`${(runtime === "node" ? "node" : "bun").padEnd(5)} first ${r.first.wall.toFixed(0).padStart(5)} / ${r.first.cpu.toFixed(0).padStart(5)}   warm ${r.warm.wall.toFixed(0).padStart(5)} / ${r.warm.cpu.toFixed(0).padStart(5)}   ${mbps(r.warm.cpu).padStart(5)} MB/s (first ${mbps(r.first.cpu)})`);
}
