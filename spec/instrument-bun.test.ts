/**
 * Bun and ahead of time: the Bun plugin at run time (TypeScript through oxc-parser),
 * the same plugin in Bun.build, and `instrumentPath` (scope instrument) whose output
 * runs under Node with the runtime, and without it (the no-op hook).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup as cleanupRuns, runTraced, runUntraced } from "./agent-harness";
import { runCli } from "./harness";
import { instrumentPath } from "../src/instrument/aot";
import { commonJsUnderBun, factsOf } from "../src/instrument/bun-module-kind";
import { instrumentPlugin } from "../src/instrument/bun-plugin";
import { parse } from "../src/instrument/parse";
import { MARKER } from "../src/instrument/print";
import { cleanup, instrumentFixtures, lines, runBunRecorded, runNode, scratchDir } from "./instrument-harness";

afterAll(cleanup);
afterAll(cleanupRuns);

const bunDir = join(instrumentFixtures, "bun");
const cases = join(instrumentFixtures, "cases");

async function runBun(file: string, config?: object): Promise<{ status: number; stdout: string; stderr: string; events: string[] }> {
  const run = await runBunRecorded(file, config);
  const names = new Map<number, string>();
  const kinds: Record<number, string> = { 33: "call", 34: "return", 35: "throw", 36: "settle", 37: "yield", 38: "resume" };
  const events: string[] = [];
  for (const [kind, , a, b, c] of run.events) {
    if (kind === 32) names.set(a!, run.strings.get(b!)!);
    else events.push(`${kinds[kind!]} ${names.get(a!)}${c ? ` ${run.strings.get(c)}` : ""}`);
  }
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, events };
}

describe("Bun", () => {
  test("the runtime plugin instruments TypeScript as Bun loads it; output unchanged", async () => {
    const plain = await runBun("shapes-fixture.ts");
    const traced = await runBun("shapes-fixture.ts", { root: bunDir, level: "full" });
    expect(plain).toMatchObject({ status: 0, stderr: "" });
    expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
    expect(traced.events.filter((line) => line.split(" ")[1] !== "<anonymous>")).toEqual([
      "call Rect.constructor [1,2]", "return Rect.constructor undefined",
      "call Rect.constructor [3,4]", "return Rect.constructor undefined",
      "call largest [[{\"w\":1,\"h\":2},{\"w\":3,\"h\":4}]]",
      "call Rect.area []", "return Rect.area 12", "call Rect.area []", "return Rect.area 2",
      "return largest {\"w\":3,\"h\":4}",
      "call Rect.area []", "return Rect.area 12",
      "call sizes [[{\"w\":1,\"h\":2},{\"w\":3,\"h\":4}]]",
      "call Rect.area []", "return Rect.area 2", "yield sizes 1", "resume sizes undefined",
      "call Rect.area []", "return Rect.area 12", "yield sizes 2", "resume sizes undefined", "return sizes undefined",
      "call total [[{\"w\":1,\"h\":2},{\"w\":3,\"h\":4}]]",
      "call Rect.area []", "return Rect.area 2", "call Rect.area []", "return Rect.area 12", "settle total 14",
    ]);
  });

  test("Bun.build with the plugin produces an instrumented bundle that runs the same under Node", async () => {
    const outdir = join(scratchDir(), "bundle");
    const build = (plugins: import("bun").BunPlugin[], dir: string) =>
      Bun.build({ entrypoints: [join(cases, "classes-fixture.cjs")], outdir: join(outdir, dir), target: "node", format: "cjs", plugins });
    const [untouched, result] = await Promise.all([build([], "plain"), build([instrumentPlugin({ root: cases, level: "full" })], "traced")]);
    expect(result.success && untouched.success).toBe(true);
    const bundle = result.outputs[0]!.path;
    expect(readFileSync(bundle, "utf8")).toContain("__scope$i()");
    const [plain, bundled, traced] = await Promise.all([runNode(untouched.outputs[0]!.path), runNode(bundle), runNode(bundle, { root: "/nowhere", level: "full" })]);
    expect(plain.stdout).toContain("TypeError Class constructor");
    expect(bundled.stdout).toBe(plain.stdout);
    expect(traced.stdout).toBe(plain.stdout);
    expect(lines(traced.events).slice(0, 2)).toEqual(["call Derived.constructor [1]", "call Base.constructor [2]"]);
  });
});

describe("ahead of time (scope instrument)", () => {
  test("a directory: instrumented files with maps, other files copied; runs with and without the runtime", async () => {
    const out = join(scratchDir(), "aot");
    const summary = instrumentPath(cases, out, { level: "full" });
    expect(summary.failed.map((f) => f.file.split("/").pop())).toEqual(["unparsable-fixture.mjs"]);
    expect(summary.instrumented).toBeGreaterThanOrEqual(14);
    expect(summary.copied).toBe(1); // data-fixture.json
    expect(existsSync(join(out, "data-fixture.json"))).toBe(true);
    const written = readFileSync(join(out, "generators-fixture.cjs"), "utf8");
    expect(written.split(MARKER).length).toBe(2);
    expect(written).toContain("//# sourceMappingURL=data:application/json");
    for (const file of ["generators-fixture.cjs", "esm-main-fixture.mjs", "async-fixture.cjs", "unparsable-fixture.mjs"]) {
      const [plain, noRuntime, traced] = await Promise.all([
        runNode(file),
        runNode(file, undefined, { cwd: out }),
        // The load hooks see the marker and leave the files alone; the runtime records.
        runNode(file, { root: out, level: "full" }, { cwd: out }),
      ]);
      expect(noRuntime.stdout).toBe(plain.stdout);
      expect(traced.stdout).toBe(plain.stdout);
      if (file !== "unparsable-fixture.mjs") expect(traced.events.length).toBeGreaterThan(0);
    }
    // Instrumenting the output again changes nothing.
    const again = instrumentPath(out, join(scratchDir(), "aot2"), { level: "full" });
    expect(again.instrumented).toBe(0);
  });
});

/**
 * CommonJS under the runtime plugin, end to end (`scope run --functions -- bun <file>`, the
 * trace read back with `scope dump --json`): a Bun plugin cannot hand Bun CommonJS text
 * (bun-plugin.ts), so CommonJS files are run by the plugin itself. Output, stderr and exit
 * code must be those of the untraced run, and the functions' calls must be in the trace.
 */
describe("Bun: CommonJS under the runtime plugin", () => {
  const cjsDir = join(bunDir, "cjs");
  // A transform cache of this file's own, not the user's.
  const env = { XDG_CACHE_HOME: join(scratchDir(), "cjs-cache") };

  async function traceBun(file: string, scopeArgs = ["--functions"]) {
    const [plain, traced] = await Promise.all([runUntraced(["bun", file], { cwd: cjsDir }), runTraced(["bun", file], { scopeArgs, env, cwd: cjsDir })]);
    const dump = await runCli(["dump", "--json", traced.out]);
    expect(dump.exitCode, dump.stderr).toBe(0);
    const events = dump.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as { kind: string; function?: string });
    const calls = events.filter((e) => e.kind === "function_call").map((e) => e.function!.replace(`${cjsDir}/`, ""));
    return { plain, traced, calls, agentErrors: events.filter((e) => e.kind === "agent_error").length };
  }

  const matrix: { file: string; stdout: string[]; calls: string[]; scopeArgs?: string[] }[] = [
    {
      file: "events-app.cjs",
      stdout: ["hello events", "bumped by 2", "once: function listeners: 1"],
      calls: ["greet (events-app.cjs:4:1)", "Counter.bump (events-app.cjs:9:7)", "onBumped (events-app.cjs:16:22)"],
    },
    {
      file: "fs-app.cjs",
      stdout: ["data lines: 5", "dirname is the file's: true fs-app.cjs"],
      calls: ["lineCount (fs-app.cjs:5:1)"],
    },
    {
      file: "relative-app.cjs",
      stdout: [
        "add 5",
        "square 16",
        'describe "math with add,square,PI,describe"',
        "same module true",
        "cache key true",
        'triangle "3 sides"',
        'kind "shape"',
        "data [1,2,3]",
        'cycle ["a-early","a-late","{\\"early\\":\\"a-early\\"}"]',
        'thrown [true,"thrown while loading"]',
        'thrown [true,"thrown while loading"]',
        'value "just a string"',
      ],
      calls: [
        "add (lib/math.cjs:2:15)",
        "exports.square (lib/math.cjs:5:18)",
        "describe (lib/math.cjs:7:20)",
        "Shape.triangle (lib/shape.cjs:6:18)",
        "Shape.constructor (lib/shape.cjs:3:14)",
        "Shape.describe (lib/shape.cjs:9:11)",
        "fromB (lib/cycle-a.cjs:5:17)",
        "report (relative-app.cjs:7:1)",
        "<anonymous> (relative-app.cjs:15:53)",
      ],
    },
    {
      // Not instrumented (--exclude), still run by the plugin: the same output, no calls of it.
      file: "relative-app.cjs",
      scopeArgs: ["--exclude", "lib/**"],
      stdout: ["add 5"],
      calls: ["report (relative-app.cjs:7:1)", "<anonymous> (relative-app.cjs:15:53)"],
    },
    {
      file: "module-app.cjs",
      stdout: [
        "this is exports: true sloppy: true global: number",
        "main: true id: . parent: true loaded: true",
        "require: function true",
        "module.require: true arguments: 5",
        "child: just a string true",
        "dynamic import: esm-dep",
      ],
      calls: ["sloppy (module-app.cjs:2:1)", "<anonymous> (module-app.cjs:12:34)", "tag (lib/esm-dep.mjs:1:8)"],
    },
    {
      file: "esm-app.mjs",
      stdout: [
        "add 3",
        "square 25",
        "default is module.exports true",
        'namespace keys ["PI","add","default","describe","square"]',
        "namespace default true",
        'shape "4 sides"',
        'shape keys ["default","kind","length","name","prototype","triangle"]',
        'es default (node interop) ["default","named"]',
        'es named "named of es-flag"',
        'es namespace ["__esModule","default","named"]',
        'es default (babel interop) "default of es-flag"',
        'es named "named of es-flag"',
        'es namespace ["default","named"]',
        'value "just a string"',
        'dynamic ["a-early","a-late","{\\"early\\":\\"a-early\\"}"]',
        "required after import true",
      ],
      calls: [
        "add (lib/math.cjs:2:15)",
        "exports.square (lib/math.cjs:5:18)",
        "Shape.constructor (lib/shape.cjs:3:14)",
        "Shape.describe (lib/shape.cjs:9:11)",
        "main (typeless/es-flag.cjs:3:19)",
        "fromB (lib/cycle-a.cjs:5:17)",
        "show (esm-app.mjs:12:1)",
      ],
    },
    {
      file: "typeless/app.js",
      stdout: ["run: helped 6 this is exports: true"],
      calls: ["run (typeless/app.js:5:1)", "twice (typeless/twice.js:2:17)", "helper (typeless/helper.js:2:18)"],
    },
    { file: "typeless/strict.js", stdout: ["mode: strict"], calls: ["mode (typeless/strict.js:2:1)"] },
    {
      // Imports decide by package.json alone (a .cjs without CommonJS features is an ES module, an .mjs calling require is CommonJS).
      file: "typeless/quirks.mjs",
      stdout: ["requires.mjs: sloppy 4", "plain.cjs: strict", "plain-required.cjs: sloppy"],
      calls: ["mode (typeless/plain.cjs:3:1)", "mode (typeless/requires.mjs:4:1)", "mode (typeless/plain-required.cjs:2:1)", "twice (typeless/twice.js:2:17)"],
    },
    { file: "commonjs/app.js", stdout: ["mode: sloppy"], calls: ["mode (commonjs/app.js:2:1)"] },
    { file: "ts-app.cts", stdout: ["ts:ts-app.cts 42"], calls: ["label (ts-app.cts:9:1)", "add (lib/math.cjs:2:15)"] },
  ];

  for (const { file, stdout, calls, scopeArgs } of matrix) {
    test(`${file}${scopeArgs ? ` ${scopeArgs.join(" ")}` : ""}: as untraced, its calls traced`, async () => {
      const run = await traceBun(file, scopeArgs ? ["--functions", ...scopeArgs] : undefined);
      expect(run.plain).toMatchObject({ status: 0, stderr: "" });
      expect(run.plain.stdout.split("\n")).toEqual(expect.arrayContaining(stdout));
      expect({ status: run.traced.status, stdout: run.traced.stdout, stderr: run.traced.stderr }).toEqual(run.plain);
      expect(run.agentErrors).toBe(0);
      expect([...new Set(run.calls)].sort()).toEqual([...calls].sort());
    });
  }

  test("a second start (transforms and module facts from the cache) runs the same", async () => {
    const first = await traceBun("relative-app.cjs");
    const second = await traceBun("relative-app.cjs");
    expect({ status: second.traced.status, stdout: second.traced.stdout, stderr: second.traced.stderr }).toEqual(first.plain);
    expect(second.calls).toEqual(first.calls);
  });

  // core-js's dom-token-list-prototype exports undefined outside a browser: the namespace Bun's
  // require gave for it was taken for DOMTokenList's prototype, and core-js threw at load.
  test("a file whose module.exports is undefined (or null, 0, ''): require gives that value, as untraced", async () => {
    const dir = join(scratchDir(), "cjs-undefined");
    mkdirSync(dir, { recursive: true });
    const values = ["undefined", "null", "0", '""', "false"];
    values.forEach((value, index) => writeFileSync(join(dir, `v${index}.cjs`), `function made() { return ${value}; }\nmodule.exports = made();\n`));
    writeFileSync(join(dir, "app.cjs"), `for (let i = 0; i < ${values.length}; i++) { const v = require("./v" + i + ".cjs"); console.log(i, typeof v, JSON.stringify(v), v ? "truthy" : "falsy"); }\n`);
    const [plain, traced] = await Promise.all([runUntraced(["bun", "app.cjs"], { cwd: dir }), runTraced(["bun", "app.cjs"], { scopeArgs: ["--functions"], env, cwd: dir })]);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toContain("0 undefined undefined falsy");
    expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
  });

  test("an error thrown while a CommonJS module loads: the same exit code and message", async () => {
    const dir = join(scratchDir(), "cjs-throws");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "thrower.cjs"), 'function boom() {\n  throw new Error("boom at load");\n}\nboom();\n');
    writeFileSync(join(dir, "app.cjs"), 'console.log("before");\nrequire("./thrower.cjs");\nconsole.log("not reached");\n');
    const [plain, traced] = await Promise.all([runUntraced(["bun", "app.cjs"], { cwd: dir }), runTraced(["bun", "app.cjs"], { scopeArgs: ["--functions"], env, cwd: dir })]);
    expect(plain.status).toBe(1);
    expect({ status: traced.status, stdout: traced.stdout }).toEqual({ status: plain.status, stdout: "before\n" });
    // The stack has the loader's frames too (see bun-plugin.ts): the message and the program's frames are the same.
    for (const text of ["error: boom at load", "at boom (", "thrower.cjs:2:", "app.cjs:2:"]) {
      expect(plain.stderr).toContain(text);
      expect(traced.stderr).toContain(text);
    }
  });

  test("a program's own require.extensions hook sees the files the plugin runs, as untraced: one that calls on, one that compiles the file itself (run once)", async () => {
    const dir = join(scratchDir(), "cjs-extensions");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "hook.cjs"),
      [
        'const previous = require.extensions[".js"];',
        "const calls = [];",
        'require.extensions[".js"] = function (module, filename) {',
        '  if (filename.endsWith("self.js")) {',
        '    calls.push("self");',
        "    module._compile(\"globalThis.ranSelf = (globalThis.ranSelf || 0) + 1; module.exports = { by: 'hook' };\", filename);",
        "    return;",
        "  }",
        '  if (filename.endsWith("through.js")) calls.push("through");',
        "  return previous.apply(this, arguments);",
        "};",
        'const self = require("./self.js");',
        'const through = require("./through.js");',
        "console.log(JSON.stringify({ self, through: through(), calls, ranSelf: globalThis.ranSelf }));",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "self.js"), 'globalThis.ranSelf = (globalThis.ranSelf || 0) + 1; module.exports = { by: "file" };\n');
    writeFileSync(join(dir, "through.js"), 'module.exports = function through() { return "through ran"; };\n');
    const [plain, traced] = await Promise.all([runUntraced(["bun", "hook.cjs"], { cwd: dir }), runTraced(["bun", "hook.cjs"], { scopeArgs: ["--functions"], env, cwd: dir })]);
    expect(plain).toMatchObject({ status: 0, stdout: '{"self":{"by":"hook"},"through":"through ran","calls":["self","through"],"ranSelf":1}\n' });
    expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: plain.stderr });
    // through.js ran as the plugin's (instrumented: its function traced); self.js as the hook made it.
    const files = traced.events.filter((e) => e.kind === "function_table").map((e) => String(e.fields.file).split("/").pop());
    expect(files).toContain("through.js");
    expect(files).not.toContain("self.js");
  });

  // Bun runs every CommonJS file through a JavaScript path whose frames show in `error.stack`
  // (`<anonymous> (native:1:11)`, `unknown`, `anonymous (unknown)`) once any JavaScript
  // function is assigned to `_extensions[".js"]`; the plugin assigned its innermost wrapper at
  // start. Now `.js` is an accessor until the program hooks it (bun-extensions.ts, helper
  // bunlazyext): files Bun loads itself (a package --functions does not select) print their
  // stacks as untraced, before a program's own hook, and again once the program reverts it.
  test("under --functions, Bun keeps its own .js step until the program hooks it: a package's stacks at load as untraced; the program's hook still called", async () => {
    const dir = join(scratchDir(), "cjs-lazy-extensions");
    mkdirSync(join(dir, "node_modules/pkg"), { recursive: true });
    writeFileSync(join(dir, "node_modules/pkg/package.json"), '{"name":"pkg","main":"index.js"}');
    writeFileSync(join(dir, "node_modules/pkg/index.js"), 'try { require("./bad.js"); } catch (e) { console.log(e.stack); }\nmodule.exports = require("./cap.js");\n');
    writeFileSync(join(dir, "node_modules/pkg/bad.js"), 'throw new Error("boom at load");\n');
    writeFileSync(join(dir, "node_modules/pkg/cap.js"), 'module.exports = new Error("cap").stack;\n');
    writeFileSync(
      join(dir, "main.mjs"),
      [
        'import { createRequire } from "node:module";',
        "const require = createRequire(import.meta.url);",
        'console.log(require("pkg"));',
        // The hook lives in a package --functions does not select (its frame the same traced).
        'const hooker = require("hooker");',
        "hooker.install();",
        "for (const name of ['pkg/index.js', 'pkg/bad.js', 'pkg/cap.js']) delete require.cache[require.resolve(name)];",
        'require("pkg");',
        'require("./own.js");',
        "console.log(JSON.stringify(hooker.calls));",
        "hooker.revert();",
        "for (const name of ['pkg/index.js', 'pkg/bad.js', 'pkg/cap.js']) delete require.cache[require.resolve(name)];",
        'console.log(require("pkg"));',
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "own.js"), "module.exports = function own() { return 1; };\n");
    mkdirSync(join(dir, "node_modules/hooker"), { recursive: true });
    writeFileSync(
      join(dir, "node_modules/hooker/index.js"),
      [
        "const calls = [];",
        'const previous = require.extensions[".js"];',
        "exports.calls = calls;",
        "exports.install = function () {",
        '  require.extensions[".js"] = function hook(module, filename) {',
        '    calls.push(filename.split("/").pop());',
        "    return previous.apply(this, arguments);",
        "  };",
        "};",
        'exports.revert = function () { require.extensions[".js"] = previous; };',
        "",
      ].join("\n"),
    );
    const plain = await runUntraced(["bun", "main.mjs"], { cwd: dir });
    expect(plain.status).toBe(0);
    expect(plain.stdout).toContain("pkg/cap.js:1:");
    expect(plain.stdout).toContain('["index.js","bad.js","cap.js","own.js"]');
    for (const scopeArgs of [["--functions"], ["--functions", "--include", "lib/**"]]) {
      const traced = await runTraced(["bun", "main.mjs"], { scopeArgs, env, cwd: dir });
      // The stacks while hooked have the program's hook and Bun's JavaScript path in both runs, the same lines.
      expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: plain.stderr });
    }
    // Untraced, Bun's JavaScript path shows only while the program's hook is in place.
    const [before, after] = plain.stdout.split('["index.js","bad.js","cap.js","own.js"]');
    expect(before).toContain("native:1:11");
    expect(before!.slice(0, before!.indexOf("Error: boom at load", 1))).not.toContain("native:1:11");
    expect(after).not.toContain("native:1:11");
  });

  test("bun test: a failure's column is the instrumented code's (Bun applies no plugin's map), and the summary says so; node's run does not", async () => {
    const dir = join(scratchDir(), "bun-test-columns");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "add.ts"), "export function add(a: number, b: number) { return a + b; }\n");
    writeFileSync(join(dir, "add.test.ts"), 'import { expect, test } from "bun:test";\nimport { add } from "./add";\ntest("fails", () => { expect(add(2, 2)).toBe(5); });\n');
    writeFileSync(join(dir, "node-app.cjs"), "function f() { return 1; }\nconsole.log(f());\n");
    const [plain, traced, node] = await Promise.all([
      runUntraced(["bun", "test"], { cwd: dir }),
      runTraced(["bun", "test"], { scopeArgs: ["--functions", "--level", "full"], env, cwd: dir }),
      runTraced(["node", "node-app.cjs"], { scopeArgs: ["--functions"], env, cwd: dir }),
    ]);
    expect(plain.status).toBe(1);
    expect(traced.status).toBe(1);
    const at = (stderr: string) => /add\.test\.ts:3:(\d+)/.exec(stderr)?.[1];
    expect(at(plain.stderr)).toBe("41");
    // What Bun lacks: the column differs (lines are the program's), and the run's summary tells.
    expect(at(traced.stderr)).not.toBe(at(plain.stderr));
    expect(traced.summary).toContain("--functions in Bun: Bun's own error text");
    expect(node.summary).not.toContain("--functions in Bun");
  });
});

/**
 * The plugin's decision "CommonJS or ES module" must be Bun's: a file Bun runs as CommonJS
 * and the plugin hands back as text does not run at all. Each snippet, in each kind of
 * place (.cjs, .mjs and .js, without a package type, with "type": "module", with "type":
 * "commonjs"), is loaded by Bun itself with `require()` and with `import()` (the type
 * comes from the extension for the one, from package.json alone for the other), and
 * reports how it ran (CommonJS has the wrapper's `arguments`); commonJsUnderBun must agree.
 */
describe("Bun: CommonJS or ES module, as Bun decides", () => {
  const snippets: Record<string, string> = {
    empty: "",
    moduleExports: "module.exports = { a: 1 };",
    exportsDot: "exports.a = 1;",
    requireCall: 'const fs = require("fs");',
    dirname: "var d = __dirname;",
    filename: "var f = __filename;",
    useStrict: '"use strict";',
    topThis: "const t = this;",
    arrowThis: "const f = () => this;",
    withStatement: "with ({}) {}",
    innerTypeofModule: "function g() { return typeof module; }",
    shadowedParam: "function g(exports) { return exports; } g(1);",
    declaredExports: "var exports = 1; exports;",
    caughtModule: "try { throw 1; } catch (module) { module; }",
    propertyNames: "const o = { module: 1, exports: 2 }; o.module; o.exports;",
    classThis: "class C { x = this; static { this.y = 1; } m() { return this; } }",
    importStatement: 'import fs from "fs";',
    importAndRequire: 'import fs from "fs"; const p = require("path");',
    exportStatement: "export const a = 1;",
    exportAndModule: "export const a = 1; const m = typeof module;",
    topLevelAwait: "await 1;",
    importMeta: "const u = import.meta.url;",
    dynamicImport: 'const p = import("fs");',
  };
  const packages: { dir: string; json: string; type: "commonjs" | "module" | undefined }[] = [
    { dir: "typeless", json: "{}", type: undefined },
    { dir: "type-module", json: '{ "type": "module" }', type: "module" },
    { dir: "type-commonjs", json: '{ "type": "commonjs" }', type: "commonjs" },
  ];
  const extensions: { ext: string; type?: "commonjs" | "module" }[] = [{ ext: ".cjs", type: "commonjs" }, { ext: ".mjs", type: "module" }, { ext: ".js" }];

  test("the plugin's decision is Bun's for every snippet, place and way of loading", async () => {
    const root = join(scratchDir(), "goals");
    const files: { path: string; code: string; byExtension: "commonjs" | "module" | undefined; byPackage: "commonjs" | "module" | undefined }[] = [];
    for (const pkg of packages) {
      for (const { ext, type } of extensions) {
        for (const way of ["import", "require"]) {
          // One directory per way of loading: a file is run once, by the first load.
          const dir = join(root, way, pkg.dir);
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, "package.json"), pkg.json);
          for (const [name, snippet] of Object.entries(snippets)) {
            const path = join(dir, `${name}${ext}`);
            // After the snippet (a directive must come first): CommonJS has the wrapper's `arguments`.
            const code = `${snippet}\nglobalThis.kinds[${JSON.stringify(path)}] = typeof arguments === "object" ? "commonjs" : "esm";\n`;
            writeFileSync(path, code);
            if (way === "import") files.push({ path, code, byExtension: type ?? pkg.type, byPackage: pkg.type });
          }
        }
      }
    }
    const importing = join(root, "import.mjs");
    const requiring = join(root, "require.cjs");
    const list = (way: string) => JSON.stringify(files.map((f) => f.path.replace(`${root}/import/`, `${root}/${way}/`)));
    writeFileSync(importing, `globalThis.kinds = {};\nfor (const file of ${list("import")}) {\n  try { await import(file); } catch {}\n}\nconsole.log(JSON.stringify(globalThis.kinds));\n`);
    writeFileSync(requiring, `globalThis.kinds = {};\nfor (const file of ${list("require")}) {\n  try { require(file); } catch {}\n}\nconsole.log(JSON.stringify(globalThis.kinds));\n`);
    const [imported, required] = await Promise.all([runUntraced(["bun", importing], { cwd: root }), runUntraced(["bun", requiring], { cwd: root })]);
    expect({ imported: imported.status, required: required.status }).toEqual({ imported: 0, required: 0 });
    const kinds = { import: JSON.parse(imported.stdout) as Record<string, string>, require: JSON.parse(required.stdout) as Record<string, string> };
    const mismatches: string[] = [];
    let compared = 0;
    for (const file of files) {
      const parsed = parse(file.code, file.path);
      for (const way of ["import", "require"] as const) {
        // Absent: Bun refused the file (a CommonJS-only feature next to `import`, require() of top-level await).
        const kind = kinds[way][file.path.replace(`${root}/import/`, `${root}/${way}/`)];
        if (kind === undefined) continue;
        const name = `${way} ${file.path.slice(root.length + "/import/".length)}`;
        if (!parsed.ok) {
          mismatches.push(`${name}: does not parse (${parsed.reason}), Bun: ${kind}`);
          continue;
        }
        compared++;
        const ours = commonJsUnderBun(factsOf(parsed.program), way === "require" ? file.byExtension : file.byPackage) ? "commonjs" : "esm";
        if (ours !== kind) mismatches.push(`${name}: plugin ${ours}, Bun ${kind}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(300);
    // Both answers occur: the test looks at both.
    expect(new Set([...Object.values(kinds.import), ...Object.values(kinds.require)])).toEqual(new Set(["commonjs", "esm"]));
  });
});
