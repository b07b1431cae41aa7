/**
 * Plain JavaScript is parsed by oxc-parser's raw transfer in Node (src/instrument/oxc-raw.ts)
 * and by meriyah in Bun. The instrumented text must not depend on the parser: each source
 * is instrumented in a real `node` process (raw transfer, checked to be in use) and in this
 * Bun process (meriyah), at both levels, and the results compared whole (code, function
 * table, status and reason). Sources: real npm files and small ones for what the two
 * parsers could see differently (UTF-16 offsets after non-ASCII text and surrogate pairs,
 * JSX, CRLF, a hashbang, CommonJS top-level return, a `.js` file that is not JSX, a syntax
 * error that both refuse).
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oxcBindingSource } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";
import { instrument } from "../src/instrument/instrument";

const root = join(import.meta.dir, "..");
const scratch = mkdtempSync(join(tmpdir(), "scope-oxc-raw-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const small: Record<string, string> = {
  "unicode.js": `const s = "héllo ☃ 𝒳 \u{1F600}"; // ü 𝒳\nfunction f(a) { return a + "é"; }\nconst g = (x) => x * 2; /* 😀 */ const h = async function* named() { yield "𝒳"; };\nclass C { m() { return "ß"; } get v() { return 1; } #p() {} static { } }\nmodule.exports = { f, g, h, C };\n`,
  "view.jsx": `const A = ({ x }) => <div title="é">{x}</div>;\nfunction B() { return <A x={() => 1} />; }\nexport default B;\n`,
  "compare.js": `const a = 1, b = 2, c = 3;\nconsole.log(a < b > c);\nfunction f() { return a; }\n`,
  "crlf.js": `function one() {\r\n  return 1;\r\n}\r\nconst two = () =>\r\n  2;\r\nmodule.exports = { one, two };\r\n`,
  "hashbang.cjs": `#!/usr/bin/env node\n"use strict";\nfunction main() { return process.argv.length; }\nif (require.main === module) main();\nreturn;\n`,
  "module.mjs": `import { readFileSync } from "node:fs";\nexport default (p) => readFileSync(p, "utf8");\nexport const load = async (p) => (await import(p)).default;\nexport class K { static make() { return new K(); } }\n`,
  "parens.js": `var f = (function () { return 1; });\nvar o = { m: (() => 2), ['k' + 1]: function () {} };\nexports.f = f; exports.o = o;\n`,
  "vite-ssr.js": `__vite_ssr_exportName__("add", () => { try { return add } catch {} });\nfunction add(a, b) { return a + b; }\nregister("x", () => 1);\n__vite_ssr_exportName__("k", function () { return 2; });\n`,
  "broken.js": `function ok() {}\nfunction (\n`,
};
for (const [name, code] of Object.entries(small)) writeFileSync(join(scratch, name), code);
const npm = ["node_modules/marked/lib/marked.esm.js", "node_modules/yaml/dist/parse/lexer.js", "node_modules/yaml/dist/compose/composer.js", "node_modules/meriyah/dist/meriyah.umd.min.js"].map((file) => join(root, file));
const files = [...Object.keys(small).map((name) => join(scratch, name)), ...npm];

const cases = files.flatMap((file) =>
  (["calls", "full"] as const).map((level) => ({ file, level, module: file.endsWith(".mjs") ? true : file.endsWith(".cjs") ? false : undefined })),
);

/** The same comparison function in both runtimes (a string: the node side is a plain script). */
const runSource = `function run(instrument, code, file, level, module) {
  const out = instrument(code, file, { config: { root: "/", include: ["**", "**/node_modules/**"], level }, module });
  return { status: out.status, code: out.code, functions: out.functions, reason: out.reason };
}`;
const run = new Function(`return ${runSource}`)() as (i: typeof instrument, code: string, file: string, level: string, module: boolean | undefined) => { status: string };

test("node (oxc raw transfer) and bun (meriyah) instrument alike", async () => {
  writeFileSync(
    join(scratch, "entry.ts"),
    `export { instrument } from ${JSON.stringify(join(root, "src/instrument/instrument.ts"))};\nexport { rawTransferUsable } from ${JSON.stringify(join(root, "src/instrument/oxc-raw.ts"))};\n`,
  );
  const built = await Bun.build({ entrypoints: [join(scratch, "entry.ts")], outdir: scratch, target: "node", format: "cjs", naming: "lib.cjs", plugins: [oxcBindingPlugin()] });
  expect(built.success).toBe(true);
  writeFileSync(join(scratch, "cases.json"), JSON.stringify(cases));
  writeFileSync(
    join(scratch, "node.cjs"),
    `const lib = require("./lib.cjs");
const fs = require("node:fs");
${runSource}
const out = { raw: lib.rawTransferUsable(), results: JSON.parse(fs.readFileSync(__dirname + "/cases.json", "utf8")).map((c) => run(lib.instrument, fs.readFileSync(c.file, "utf8"), c.file, c.level, c.module)) };
fs.writeFileSync(__dirname + "/node-out.json", JSON.stringify(out));
`,
  );
  const child = Bun.spawnSync(["node", join(scratch, "node.cjs")], { env: { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" }, stderr: "pipe" });
  expect(child.stderr.toString()).toBe("");
  expect(child.exitCode, String(child.stderr)).toBe(0);
  const fromNode = JSON.parse(readFileSync(join(scratch, "node-out.json"), "utf8")) as { raw: boolean; results: unknown[] };
  expect(fromNode.raw).toBe(true);
  const fromBun = cases.map((c) => JSON.parse(JSON.stringify(run(instrument, readFileSync(c.file, "utf8"), c.file, c.level, c.module))));
  expect(fromNode.results.length).toBe(cases.length);
  for (let i = 0; i < cases.length; i++) {
    expect({ case: `${cases[i]!.file} ${cases[i]!.level}`, ...(fromNode.results[i] as object) }).toEqual({ case: `${cases[i]!.file} ${cases[i]!.level}`, ...fromBun[i] });
  }
  // What each source became, so a change in what the parsers accept shows here too.
  const statuses = Object.fromEntries(cases.filter((c) => c.level === "calls").map((c, i) => [c.file.replace(`${scratch}/`, "").replace(`${root}/`, ""), (fromBun[i * 2] as { status: string }).status]));
  expect(statuses["broken.js"]).toBe("failed");
  expect(statuses["compare.js"]).toBe("instrumented");
  expect(Object.values(statuses).filter((s) => s === "instrumented").length).toBe(files.length - 1);
}, 120_000);

/**
 * The buffer walk (transform-raw.ts) against the ESTree path (oxc's deserializer +
 * transform.ts) in one node process: whole results equal on sources written for the
 * places where oxc's Rust AST and ESTree differ (spec/fixtures/raw-walk: methods,
 * accessors, computed/numeric/string keys, defaults in parameters and patterns, rest
 * elements, superclasses, listeners, eval, import(), JSX, directives, decorators,
 * non-ASCII names and lone surrogates) and the npm files above, each checked to have
 * been walked in the buffer. A walker generated from another oxc-parser version is not
 * used (the ESTree path runs, same results).
 */
const walkFixtures = join(root, "spec/fixtures/raw-walk");
const walkFiles = [...["shapes.js", "module.mjs", "view.jsx", "export-default-function.js", "export-default-class.js", "commonjs.cjs", "directive-only.js", "decorators.js", "end-of-file.js", "line-ends.js", "inline-map.js", "passed-names.js"].map((name) => join(walkFixtures, name)), ...npm];

async function walkBundle(name: string, version?: string): Promise<string> {
  writeFileSync(
    join(scratch, `${name}.ts`),
    `export { instrument } from ${JSON.stringify(join(root, "src/instrument/instrument.ts"))};\nexport { setRawWalk, parseProgram } from ${JSON.stringify(join(root, "src/instrument/oxc-raw.ts"))};\n`,
  );
  const plugins = [oxcBindingPlugin()];
  if (version !== undefined) {
    // The same walker, claiming another oxc-parser version.
    plugins.push({
      name: "walk-version",
      setup(build) {
        build.onLoad({ filter: /oxc-walk\.generated\.ts$/ }, (args) => ({ loader: "ts", contents: readFileSync(args.path, "utf8").replace(/export const OXC_WALK_VERSION = "[^"]*"/, `export const OXC_WALK_VERSION = ${JSON.stringify(version)}`) }));
      },
    });
  }
  const built = await Bun.build({ entrypoints: [join(scratch, `${name}.ts`)], outdir: scratch, target: "node", format: "cjs", naming: `${name}.cjs`, plugins });
  expect(built.success).toBe(true);
  return join(scratch, `${name}.cjs`);
}

function compareInNode(lib: string): { usable: boolean; walked: boolean[]; results: { walk: string; estree: string }[] } {
  writeFileSync(join(scratch, "walk-files.json"), JSON.stringify(walkFiles));
  writeFileSync(
    join(scratch, "walk.cjs"),
    `const lib = require(${JSON.stringify(lib)});
const fs = require("node:fs");
const files = JSON.parse(fs.readFileSync(${JSON.stringify(join(scratch, "walk-files.json"))}, "utf8"));
const moduleOf = (f) => (f.endsWith(".mjs") ? true : f.endsWith(".cjs") ? false : undefined);
const run = (code, file, level) => {
  const out = lib.instrument(code, file, { config: { root: "/", include: ["**", "**/node_modules/**"], level, stateful: ["S", "A", "o", "K", "D"] }, module: moduleOf(file) });
  return JSON.stringify({ status: out.status, code: out.code, functions: out.functions, reason: out.reason, map: out.map });
};
const usable = lib.setRawWalk(true);
const walked = [], results = [];
for (const file of files) {
  const code = fs.readFileSync(file, "utf8");
  lib.setRawWalk(true);
  const m = moduleOf(file);
  const probe = lib.parseProgram(code, file, /\\.jsx?$/.test(file) ? "jsx" : "js", m === true ? "module" : m === false ? "commonjs" : "unambiguous");
  walked.push(probe !== undefined && probe.ok === true);
  for (const level of ["calls", "full"]) {
    lib.setRawWalk(true);
    const walk = run(code, file, level);
    lib.setRawWalk(false);
    results.push({ walk, estree: run(code, file, level) });
  }
}
fs.writeFileSync(${JSON.stringify(join(scratch, "walk-out.json"))}, JSON.stringify({ usable, walked, results }));
`,
  );
  const child = Bun.spawnSync(["node", join(scratch, "walk.cjs")], { env: { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" }, stderr: "pipe" });
  expect(child.stderr.toString()).toBe("");
  expect(child.exitCode, String(child.stderr)).toBe(0);
  return JSON.parse(readFileSync(join(scratch, "walk-out.json"), "utf8"));
}

test("the buffer walk instruments exactly as the ESTree path", async () => {
  const out = compareInNode(await walkBundle("walk-lib"));
  expect(out.usable).toBe(true);
  expect(out.walked).toEqual(walkFiles.map(() => true));
  expect(out.results.length).toBe(walkFiles.length * 2);
  for (let i = 0; i < out.results.length; i++) {
    const label = `${walkFiles[i >> 1]} ${i % 2 === 0 ? "calls" : "full"}`;
    expect({ label, out: out.results[i]!.walk }).toEqual({ label, out: out.results[i]!.estree });
  }
  // The fixtures are instrumented (not left as they are), but for the two without a function.
  const statuses = out.results.map((r) => JSON.parse(r.estree).status as string);
  expect(statuses.filter((s) => s !== "instrumented").length).toBe(4);
}, 120_000);

test("a walker generated from another oxc-parser version is not used", async () => {
  const out = compareInNode(await walkBundle("walk-other-version", "0.0.0-other"));
  expect(out.usable).toBe(false);
  expect(out.walked).toEqual(walkFiles.map(() => false));
  for (const r of out.results) expect(r.walk).toBe(r.estree);
}, 120_000);

test("the generated walker is what the installed oxc-parser gives", () => {
  const check = Bun.spawnSync([process.execPath, join(root, "scripts/gen-oxc-walk.ts"), "--check"], { stderr: "pipe" });
  expect(check.stderr.toString()).toBe("");
  expect(check.exitCode, String(check.stderr)).toBe(0);
});
