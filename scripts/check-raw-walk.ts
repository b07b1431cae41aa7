/**
 * The buffer walk (src/instrument/transform-raw.ts) against the ESTree path (oxc's
 * deserializer + transform.ts) in one node process: every file instrumented both ways at
 * "calls" and "full", and the results (code with its function table and map, functions,
 * status, reason) compared whole. Files: the transform corpus (typescript.js, marked,
 * yaml), then up to `count` more .js/.cjs/.mjs files of node_modules (largest first, one
 * pass over the tree, in name order), plus any paths given.
 *
 *   . scripts/env.sh && bun scripts/check-raw-walk.ts [count] [file...]
 *
 * Prints one line per difference and a summary; exits 1 when any result differs or the
 * walk was not in use.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { corpusFiles, repoRoot } from "../src/bench/instrument";
import { oxcBindingSource } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";
import { npmFiles } from "./check-raw-walk-files";

const count = Number(process.argv[2] ?? 60);
const extra = process.argv.slice(3);
const scratch = mkdtempSync(join(tmpdir(), "scope-check-raw-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

const files = [...new Set([...corpusFiles, ...npmFiles(count), ...extra])];
writeFileSync(join(scratch, "entry.ts"), `export { instrument } from ${JSON.stringify(join(repoRoot, "src/instrument/instrument.ts"))};\nexport { setRawWalk, parseProgram } from ${JSON.stringify(join(repoRoot, "src/instrument/oxc-raw.ts"))};\n`);
const built = await Bun.build({ entrypoints: [join(scratch, "entry.ts")], outdir: scratch, target: "node", format: "cjs", naming: "lib.cjs", plugins: [oxcBindingPlugin()] });
if (!built.success) throw new Error(built.logs.map(String).join("\n"));
writeFileSync(join(scratch, "files.json"), JSON.stringify(files));
writeFileSync(
  join(scratch, "check.cjs"),
  `const lib = require("./lib.cjs");
const fs = require("node:fs");
const files = JSON.parse(fs.readFileSync(__dirname + "/files.json", "utf8"));
const run = (code, file, level) => {
  const out = lib.instrument(code, file, { config: { root: "/", include: ["**", "**/node_modules/**"], level, stateful: ["S", "A", "o", "K", "D"] }, module: file.endsWith(".mjs") ? true : file.endsWith(".cjs") ? false : undefined });
  return JSON.stringify({ status: out.status, code: out.code, functions: out.functions, reason: out.reason, map: out.map });
};
let differ = 0, compared = 0, bytes = 0, statuses = {}, walked = 0;
if (!lib.setRawWalk(true)) { console.log("the buffer walk is not usable here"); process.exit(1); }
for (const file of files) {
  const code = fs.readFileSync(file, "utf8");
  bytes += code.length;
  const lang = /\.jsx$/.test(file) || /\.js$/.test(file) ? "jsx" : "js";
  lib.setRawWalk(true);
  const probe = lib.parseProgram(code, file, lang, file.endsWith(".mjs") ? "module" : file.endsWith(".cjs") ? "commonjs" : "unambiguous");
  if (probe && probe.ok) walked++;
  else console.log("not walked (oxc reports errors; the ESTree path takes it): " + file);
  for (const level of ["calls", "full"]) {
    lib.setRawWalk(true);
    const walked = run(code, file, level);
    lib.setRawWalk(false);
    const estree = run(code, file, level);
    compared++;
    const status = JSON.parse(estree).status;
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (walked !== estree) {
      differ++;
      let i = 0;
      while (i < walked.length && walked[i] === estree[i]) i++;
      console.log("DIFFERS " + level + " " + file + " at " + i + ":\\n  walk:   " + JSON.stringify(walked.slice(Math.max(0, i - 80), i + 80)) + "\\n  estree: " + JSON.stringify(estree.slice(Math.max(0, i - 80), i + 80)));
    }
  }
}
console.log(files.length + " files (" + (bytes / 1e6).toFixed(1) + " M characters, " + walked + " walked in the buffer), " + compared + " results compared, " + differ + " differ; ESTree-path statuses " + JSON.stringify(statuses));
process.exit(differ === 0 ? 0 : 1);
`,
);
const child = Bun.spawnSync(["node", join(scratch, "check.cjs")], { env: { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" }, stdout: "inherit", stderr: "inherit" });
process.exit(child.exitCode ?? 1);
