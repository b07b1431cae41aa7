/**
 * typescript.js's raw-transfer parse in a fresh node process as a transform cache miss runs it
 * (cache.ts): prefaultParse, the evaluator scan, the parse; without and with scope.node's
 * prefault (zig-out), alternated. Per step the main thread's minor faults, CPU ms, wall ms and
 * run-queue wait ms (/proc/thread-self): the faults are load-independent, the rest is not.
 *
 *   . scripts/env.sh && zig build -Doptimize=ReleaseFast && bun scripts/bench-parse-prefault.ts [processes]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../src/bench/instrument";
import { oxcBindingSource } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";

const processes = Number(process.argv[2] ?? 4);
const scratch = mkdtempSync(join(tmpdir(), "scope-bench-prefault-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));
writeFileSync(
  join(scratch, "entry.ts"),
  `import { parseProgram, prefaultParse, setPrefault } from ${JSON.stringify(join(repoRoot, "src/instrument/oxc-raw"))};
import { hasEvaluatorText } from ${JSON.stringify(join(repoRoot, "src/instrument/loads-modules"))};
import { readFileSync } from "node:fs";
const holder = { exports: {} as { prefault?: (view: Uint8Array, from: number, to: number) => boolean } };
process.dlopen(holder, ${JSON.stringify(join(repoRoot, "zig-out/lib/scope.node"))});
if (process.argv[2] === "prefault") setPrefault(holder.exports.prefault);
const file = ${JSON.stringify(join(repoRoot, "node_modules/typescript-js/lib/typescript.js"))};
const code = readFileSync(file, "utf8");
const thread = () => {
  const stat = readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1]!.split(" ");
  const sched = readFileSync("/proc/thread-self/schedstat", "utf8").split(" ");
  return { faults: Number(stat[7]), cpu: Number(sched[0]) / 1e6, wait: Number(sched[1]) / 1e6, wall: Number(process.hrtime.bigint()) / 1e6 };
};
const step = (a: ReturnType<typeof thread>, b: ReturnType<typeof thread>) => \`faults \${b.faults - a.faults} cpu \${(b.cpu - a.cpu).toFixed(1)} wall \${(b.wall - a.wall).toFixed(1)} wait \${(b.wait - a.wait).toFixed(1)}\`;
parseProgram("function f() {}", "/x/a.js", "jsx", "unambiguous"); // the binding and the buffer, as after an earlier file
const a = thread();
prefaultParse(code, file);
hasEvaluatorText(code);
const b = thread();
const parsed = parseProgram(code, file, "jsx", "unambiguous");
if (!parsed?.ok) throw new Error("no raw parse");
const c = thread();
console.log(\`\${(process.argv[2] ?? "none").padEnd(8)} scan: \${step(a, b)} | parse: \${step(b, c)}\`);
`,
);
const built = await Bun.build({ entrypoints: [join(scratch, "entry.ts")], outdir: scratch, target: "node", format: "cjs", naming: "prefault.cjs", plugins: [oxcBindingPlugin()] });
if (!built.success) throw new Error(built.logs.map(String).join("\n"));
console.log(`typescript.js: prefaultParse + evaluator scan, then the parse; main thread, ${processes} processes each`);
for (let p = 0; p < processes; p++) {
  for (const mode of ["none", "prefault"]) {
    const out = Bun.spawnSync(["node", join(scratch, "prefault.cjs"), mode], { env: { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" }, stderr: "pipe" });
    if (out.exitCode !== 0) throw new Error(out.stderr.toString());
    process.stdout.write(out.stdout.toString());
  }
}
