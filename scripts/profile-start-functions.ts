/**
 * Where a traced start of the transform workload's program goes, by function (issue 12):
 * `--cpu-prof` of node under `scope run --functions` (calls level, typescript, marked,
 * yaml) from an empty transform cache (first) or again (cached); the main thread's self
 * time per function, top N. The sampler counts time blocked in system calls too (mkdir,
 * writes of cache entries under load): read it as wall time.
 *
 *   . scripts/env.sh && bun scripts/profile-start-functions.ts [repo root] [first|cached] [N]
 * KEEP_PROFILE=1 keeps the scratch directory (its .cpuprofile) and prints where it is.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot as here } from "../src/bench/instrument";
import { transformModules } from "../src/bench/transform";
const repoRoot = process.argv[2] || here;
const which = process.argv[3] ?? "cached";
const scratch = mkdtempSync(join(tmpdir(), "scope-profile-start-"));
process.on("exit", () => (process.env.KEEP_PROFILE ? console.log(scratch) : rmSync(scratch, { recursive: true, force: true })));
const program = join(repoRoot, "src/bench/workloads/transform-start.cjs");
const modules = transformModules.map((name) => join(repoRoot, "node_modules", name));
const settings = JSON.stringify({ root: repoRoot, include: transformModules.map((name) => `node_modules/${name}/**`), level: "calls" });
const env = { ...process.env, XDG_CACHE_HOME: join(scratch, "cache") };
const run = (label: string, prof: boolean) => {
  const node = ["node", ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${scratch}/prof-${label}`] : []), program, join(scratch, "r.json"), JSON.stringify({ modules })];
  const argv = label === "untraced" ? node : ["bun", join(repoRoot, "src/cli/main.ts"), "run", "--ring-size", "64MiB", `--functions=${settings}`, "--out", join(scratch, "trace.bin"), "--", ...node];
  const r = Bun.spawnSync(argv, { env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
};
run("first", which === "first");
if (which === "cached") run("cached", true);
const dir = join(scratch, `prof-${which}`);
const p = JSON.parse(readFileSync(join(dir, readdirSync(dir).sort()[0]!), "utf8"));
const byId = new Map(p.nodes.map((n: any) => [n.id, n]));
const sums = new Map<string, number>();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const f = (byId.get(p.samples[i]) as any).callFrame;
  const k = `${f.functionName || "(anon)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber}`;
  sums.set(k, (sums.get(k) ?? 0) + p.timeDeltas[i] / 1000);
  total += p.timeDeltas[i] / 1000;
}
console.log(`${which}: total ${total.toFixed(0)} ms of samples`);
for (const [k, v] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[4] ?? 30))) console.log(v.toFixed(1).padStart(7), k);
