/**
 * Instrumented output of this tree against another checkout's (e.g. main before a change),
 * in node: every file at "calls" and "full", results (code with its table and inline map,
 * functions, status, reason) compared whole. Files as scripts/check-raw-walk.ts picks them
 * (the transform corpus, one file per package of node_modules, any paths given).
 *
 *   . scripts/env.sh && bun scripts/check-instrument-trees.ts <other-tree> [count] [file...]
 *
 * Exits 1 when any result differs. The transform cache format depends on exactly this.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { corpusFiles, repoRoot } from "../src/bench/instrument";
import { oxcBindingSource } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";
import { npmFiles } from "./check-raw-walk-files";

const other = resolve(process.argv[2] ?? "");
if (!process.argv[2]) throw new Error("usage: check-instrument-trees.ts <other-tree> [count] [file...]");
const count = Number(process.argv[3] ?? 60);
const files = [...new Set([...corpusFiles, ...npmFiles(count), ...process.argv.slice(4)])];
const scratch = mkdtempSync(join(tmpdir(), "scope-check-trees-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

async function bundle(tree: string, name: string): Promise<string> {
  const { oxcBindingPlugin: plugin } = (await import(join(tree, "src/core/oxc-plugin.ts"))) as { oxcBindingPlugin: typeof oxcBindingPlugin };
  const built = await Bun.build({ entrypoints: [join(tree, "src/instrument/instrument.ts")], outdir: scratch, target: "node", format: "cjs", naming: `${name}.cjs`, plugins: [plugin()] });
  if (!built.success) throw new Error(built.logs.map(String).join("\n"));
  return join(scratch, `${name}.cjs`);
}

const mine = await bundle(repoRoot, "this");
const theirs = await bundle(other, "other");
writeFileSync(join(scratch, "files.json"), JSON.stringify(files));
writeFileSync(
  join(scratch, "check.cjs"),
  `const fs = require("node:fs");
const [mine, theirs] = [require(${JSON.stringify(mine)}), require(${JSON.stringify(theirs)})];
const files = JSON.parse(fs.readFileSync(${JSON.stringify(join(scratch, "files.json"))}, "utf8"));
const run = (lib, code, file, level) => {
  const out = lib.instrument(code, file, { config: { root: "/", include: ["**", "**/node_modules/**"], level }, module: file.endsWith(".mjs") ? true : file.endsWith(".cjs") ? false : undefined });
  return JSON.stringify({ status: out.status, code: out.code, functions: out.functions, reason: out.reason, map: out.map });
};
let differ = 0, compared = 0, bytes = 0;
for (const file of files) {
  const code = fs.readFileSync(file, "utf8");
  bytes += code.length;
  for (const level of ["calls", "full"]) {
    const a = run(mine, code, file, level), b = run(theirs, code, file, level);
    compared++;
    if (a !== b) {
      differ++;
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      console.log("DIFFERS " + level + " " + file + " at " + i + ":\\n  this:  " + JSON.stringify(a.slice(Math.max(0, i - 80), i + 80)) + "\\n  other: " + JSON.stringify(b.slice(Math.max(0, i - 80), i + 80)));
    }
  }
}
console.log(files.length + " files (" + (bytes / 1e6).toFixed(1) + " M characters), " + compared + " results compared, " + differ + " differ");
process.exit(differ === 0 ? 0 : 1);
`,
);
const child = Bun.spawnSync(["node", join(scratch, "check.cjs")], { env: { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" }, stdout: "inherit", stderr: "inherit" });
process.exit(child.exitCode ?? 1);
