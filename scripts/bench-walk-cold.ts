/**
 * The buffer walk alone (oxc-walk.generated.ts, every handler only walking on) over
 * typescript.js in a fresh node process, CPU ms per walk: the first walk runs cold, as a
 * first start's does (V8's interpreter and baseline code until the walkers are optimized),
 * the next ones warm (issue 12):
 *
 *   . scripts/env.sh && bun scripts/bench-walk-cold.ts [walks] [processes]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../src/bench/instrument";
import { oxcBindingSource } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";

const walks = Number(process.argv[2] ?? 3);
const processes = Number(process.argv[3] ?? 3);
const scratch = mkdtempSync(join(tmpdir(), "scope-bench-walk-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));
writeFileSync(
  join(scratch, "entry.ts"),
  `import { parseProgram } from ${JSON.stringify(join(repoRoot, "src/instrument/oxc-raw"))};
import * as W from ${JSON.stringify(join(repoRoot, "src/instrument/oxc-walk.generated"))};
import { readFileSync } from "node:fs";
const file = ${JSON.stringify(join(repoRoot, "node_modules/typescript-js/lib/typescript.js"))};
const code = readFileSync(file, "utf8");
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const parsed = parseProgram(code, file, "jsx", "unambiguous");
if (!parsed?.ok) throw new Error("no raw parse");
const on = { onFunction: W.childrenFunction, onArrow: W.childrenArrowFunctionExpression, onReturn: W.childrenReturnStatement, onYield: W.childrenYieldExpression, onClass: W.childrenClass, onObject: W.childrenObjectExpression, onMethod: W.childrenMethodDefinition, onProperty: W.childrenObjectProperty, onCall: W.childrenCallExpression, onJsxElement: W.childrenJSXElement, onJsxFragment: W.childrenJSXFragment, onImport: W.childrenImportExpression };
const times = [];
for (let i = 0; i < ${walks}; i++) { const c = cpu(); W.walk(parsed.raw.uint8, parsed.raw.int32, parsed.raw.program, on); times.push(Math.round(cpu() - c)); }
console.log(JSON.stringify(times));
`,
);
const built = await Bun.build({ entrypoints: [join(scratch, "entry.ts")], outdir: scratch, target: "node", format: "cjs", naming: "walk.cjs", plugins: [oxcBindingPlugin()] });
if (!built.success) throw new Error(built.logs.map(String).join("\n"));
console.log(`the buffer walk of typescript.js in node, CPU ms per walk (first: cold), ${processes} processes`);
for (let p = 0; p < processes; p++) {
  const out = Bun.spawnSync(["node", join(scratch, "walk.cjs")], { env: { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" }, stderr: "pipe" });
  if (out.exitCode !== 0) throw new Error(out.stderr.toString());
  console.log(out.stdout.toString().trim());
}
