/**
 * Where the start-up of an instrumented program goes (issue 12), in Node:
 *
 *   . scripts/env.sh && bun scripts/profile-startup.ts [rounds]
 *
 * 1. The pipeline's steps over the transform corpus (typescript.js, marked, yaml) at the
 *    calls level, timed in node: the first (cold) pass, as in a first start, and the
 *    median of `rounds` warm passes.
 * 2. `--cpu-prof` of the bench's start-up program (require typescript, marked, yaml)
 *    untraced, traced from an empty transform cache (first start) and again (cached),
 *    main thread self time summed by category. The profiler's overhead inflates tight
 *    loops: read the shares, not the totals.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { corpusFiles, repoRoot } from "../src/bench/instrument";
import { transformModules } from "../src/bench/transform";

const rounds = Number(process.argv[2] ?? 3);
const scratch = mkdtempSync(join(tmpdir(), "scope-profile-startup-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

// 1. Steps.
const bundle = await Bun.build({ entrypoints: [join(repoRoot, "src/bench/phases.ts")], outdir: scratch, target: "node", format: "cjs", naming: "phases.cjs" });
if (!bundle.success) throw new Error(bundle.logs.map(String).join("\n"));
const stepsWorker = `
const L = require(${JSON.stringify(join(scratch, "phases.cjs"))});
const sources = ${JSON.stringify(corpusFiles)}.map((f) => [f, require("fs").readFileSync(f, "utf8")]);
const bytes = sources.reduce((n, [, c]) => n + c.length, 0);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const pass = () => { const t = { parse: 0, transform: 0, print: 0 }; for (const [file, code] of sources) {
  let a = now(); const p = L.parse(code, file); let b = now(); t.parse += b - a;
  const edits = new L.MagicString(code); const fns = L.transform(p.program, code, edits, () => "calls"); let c = now(); t.transform += c - b;
  L.print(edits, code, file, fns, undefined); t.print += now() - c; } t.total = t.parse + t.transform + t.print; return t; };
const cold = pass(); const warm = []; for (let i = 0; i < ${rounds}; i++) warm.push(pass());
const med = (k) => warm.map((t) => t[k]).sort((a, b) => a - b)[warm.length >> 1];
console.log(JSON.stringify({ bytes, cold, warm: { parse: med("parse"), transform: med("transform"), print: med("print"), total: med("total") } }));
`;
writeFileSync(join(scratch, "steps.cjs"), stepsWorker);
const steps = JSON.parse(Bun.spawnSync(["node", join(scratch, "steps.cjs")]).stdout.toString());
const row = (label: string, t: Record<string, number>) =>
  `${label.padEnd(22)} parse ${t.parse!.toFixed(0).padStart(5)} ms  transform ${t.transform!.toFixed(0).padStart(5)} ms  print (code + map) ${t.print!.toFixed(0).padStart(5)} ms  total ${t.total!.toFixed(0).padStart(5)} ms = ${(steps.bytes / 1e6 / (t.total! / 1000)).toFixed(1)} MB/s`;
console.log(`pipeline steps in node, calls level, ${(steps.bytes / 1e6).toFixed(1)} MB of source`);
console.log(row("first pass (cold)", steps.cold));
console.log(row(`warm (median of ${rounds})`, steps.warm));

// 2. Profiles.
const program = join(repoRoot, "src/bench/workloads/transform-start.cjs");
const modules = transformModules.map((name) => join(repoRoot, "node_modules", name));
const settings = JSON.stringify({ root: repoRoot, include: transformModules.map((name) => `node_modules/${name}/**`), level: "calls" });
const env = { ...process.env, XDG_CACHE_HOME: join(scratch, "cache") };

function category(url: string, name: string): string {
  if (name === "(garbage collector)") return "GC";
  if (url.includes("source_map")) return "Node's source maps (decode, line lengths)";
  if (name === "wrapSafe" || name === "compileFunctionForCJSLoader" || name === "Script" || name === "runInThisContext" || url.endsWith("node:vm") || url.includes("esm/utils")) return "V8 compile of modules";
  if (url.includes("esm/hooks")) return "waiting for the ESM hooks thread";
  if (name === "readFileUtf8" || name === "readFileSync" || url === "node:fs") return "reading files";
  if (url.includes("crypto")) return "cache key (SHA-256)";
  if (/functions\.cjs|node\.cjs|esm-loader|scope-dev-agent/.test(url)) return "scope (agent, hooks, transform, runtime)";
  if (url.includes("node_modules/")) return "the program's modules running";
  return "other (Node, idle)";
}

function profile(label: string, traced: boolean): Map<string, number> {
  const dir = join(scratch, `prof-${label}`);
  const result = join(scratch, `result-${label}.json`);
  const node = ["node", "--cpu-prof", `--cpu-prof-dir=${dir}`, program, result, JSON.stringify({ modules })];
  const argv = traced ? ["bun", join(repoRoot, "src/cli/main.ts"), "run", "--ring-size", "64MiB", `--functions=${settings}`, "--out", join(scratch, "trace.bin"), "--", ...node] : node;
  const run = Bun.spawnSync(argv, { env, stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`${label}: ${run.stderr.toString()}`);
  // The main thread's profile is the first one written (workers' come later).
  const file = readdirSync(dir).sort()[0]!;
  const p = JSON.parse(readFileSync(join(dir, file), "utf8")) as { nodes: { id: number; callFrame: { url: string; functionName: string } }[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const sums = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const frame = byId.get(p.samples[i]!)!.callFrame;
    const key = category(frame.url, frame.functionName);
    sums.set(key, (sums.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  return sums;
}

const profiles: [string, Map<string, number>][] = [
  ["untraced", profile("untraced", false)],
  ["first start", profile("first", true)],
  ["cached start", profile("cached", true)],
];
const categories = [...new Set(profiles.flatMap(([, sums]) => [...sums.keys()]))].sort((a, b) => (profiles[2]![1].get(b) ?? 0) - (profiles[2]![1].get(a) ?? 0));
console.log(`\nmain thread self time by category, ms (--cpu-prof; program: require ${transformModules.join(", ")})`);
console.log(`${"".padEnd(44)}${profiles.map(([label]) => label.padStart(14)).join("")}`);
for (const key of categories) console.log(`${key.padEnd(44)}${profiles.map(([, sums]) => (sums.get(key) ?? 0).toFixed(0).padStart(14)).join("")}`);
console.log(`${"total".padEnd(44)}${profiles.map(([, sums]) => [...sums.values()].reduce((a, b) => a + b, 0).toFixed(0).padStart(14)).join("")}`);
