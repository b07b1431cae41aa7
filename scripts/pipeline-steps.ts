/**
 * One node process, the transform corpus (typescript.js, marked, yaml) through the buffer
 * path's steps as instrument() runs them, CPU ms per step and pass: the first pass cold (as
 * a first start runs it), then warm ones (issue 12). "walk" is transformRaw, which hashes
 * the source and finds its line starts itself ("hash" and "lines" time those alone).
 *
 *   . scripts/env.sh && bun scripts/pipeline-steps.ts [level] [passes]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { corpusFiles, repoRoot } from "../src/bench/instrument";
import { oxcBindingSource } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";

const level = process.argv[2] ?? "calls";
const passes = Number(process.argv[3] ?? 4);
const scratch = mkdtempSync(join(tmpdir(), "scope-pipeline-steps-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));
const from = (module: string) => JSON.stringify(join(repoRoot, "src/instrument", module));
writeFileSync(
  join(scratch, "entry.ts"),
  `import { parseProgram } from ${from("oxc-raw")};
import { transformRaw } from ${from("transform-raw")};
import { Insertions } from ${from("insertions")};
import { print } from ${from("print")};
import { hashSource } from ${from("transform")};
import { lineStarts } from ${from("line-ends")};
import { readFileSync } from "node:fs";
const sources = ${JSON.stringify(corpusFiles)}.map((f) => [f, readFileSync(f, "utf8")]);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
for (let pass = 0; pass < ${passes}; pass++) {
  const t = { parse: 0, hash: 0, lines: 0, walk: 0, print: 0 };
  for (const [f, code] of sources) {
    let c = cpu();
    const parsed = parseProgram(code, f, "jsx", "unambiguous");
    t.parse += cpu() - c; c = cpu();
    hashSource(code);
    t.hash += cpu() - c; c = cpu();
    lineStarts(code);
    t.lines += cpu() - c; c = cpu();
    if (!parsed?.ok) throw new Error("no raw parse: " + f);
    const edits = new Insertions(code);
    const functions = transformRaw(parsed.raw, code, edits, () => ${JSON.stringify(level)});
    t.walk += cpu() - c; c = cpu();
    print(edits, code, f, functions, undefined, f, undefined, true);
    t.print += cpu() - c;
  }
  console.log((pass === 0 ? "cold " : "warm ") + Object.entries(t).map(([k, v]) => k + " " + v.toFixed(0).padStart(4)).join("  "));
}
`,
);
const built = await Bun.build({ entrypoints: [join(scratch, "entry.ts")], outdir: scratch, target: "node", format: "cjs", naming: "steps.cjs", plugins: [oxcBindingPlugin()] });
if (!built.success) throw new Error(built.logs.map(String).join("\n"));
console.log(`the buffer path's steps in node at "${level}", CPU ms per pass (9.2 MB corpus)`);
const out = Bun.spawnSync(["node", join(scratch, "steps.cjs")], { env: { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" }, stderr: "pipe" });
if (out.exitCode !== 0) throw new Error(out.stderr.toString());
console.log(out.stdout.toString().trim());
