/**
 * vitest (≤ 3: vite-node) runs a project's files through node:vm, past both load hooks:
 * under `scope run --functions --include 'src/**'` a real vitest project's source functions
 * are traced at their TypeScript places (src/instrument/vm-hooks.ts), vitest's output (its
 * stack positions included) is the untraced run's, and node:vm keeps its behaviour.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { installTools, placeOf, writeProject } from "./toolchain-harness";

const mathTs = `export interface Pair { a: number; b: number }

export function add(pair: Pair): number {
  return pair.a + pair.b;
}

export const twice = (n: number): number => add({ a: n, b: n });
`;

// fail's throw stands after the prologue scope inserts on its line: its column is a shifted one.
const shapesTs = `import { twice } from "./math";

export class Square {
  side: number;
  constructor(side: number) { this.side = side; }
  perimeter(): number {
    return twice(twice(this.side));
  }
}

export function fail(what: string): never { const message = \`bad \${what}\`; throw new Error(message); }

export const failLater = (what: string): never => fail(what);
`;

const testTs = `import { describe, expect, test } from "vitest";
import { Square, failLater } from "../src/shapes";

describe("shapes", () => {
  test("perimeter", () => {
    expect(new Square(3).perimeter()).toBe(12);
  });
  test("a stack through src", () => {
    let stack = "";
    try { failLater("x"); } catch (e) { stack = (e as Error).stack!; }
    const lines = stack.split("\\n").filter((l) => l.includes("/src/")).map((l) => l.trim().replace(process.cwd(), ""));
    console.log("STACK", lines.join(" | "));
    expect(lines[0]).toContain("src/shapes.ts:11:");
  });
  test("a failing assertion's report", () => {
    expect(new Square(1).perimeter()).toBe(5);
  });
});
`;

let dir = "";
const env = { CI: "1", NO_COLOR: "1", FORCE_COLOR: "0" };
const argv = () => ["node", join(dir, "node_modules", "vitest", "vitest.mjs"), "run"];

/** vitest's output without its times. */
const stable = (text: string) =>
  text
    .replace(/^\s*(Start at|Duration)\b.*$/gm, "")
    .replace(/\s\d+(\.\d+)?m?s\b/g, " <t>")
    .replace(/\(\d+(\.\d+)?m?s\)/g, "(<t>)");

beforeAll(async () => {
  const nodeModules = await installTools("vitest");
  dir = writeProject(join(scratchDir(), "vitest"), nodeModules, { "src/math.ts": mathTs, "src/shapes.ts": shapesTs, "test/shapes.test.ts": testTs });
}, 600_000);

afterAll(cleanup);

describe("vitest 3 (vite-node) under scope run --functions --include 'src/**'", () => {
  test("vitest's output is the untraced run's; the src functions' calls at their TypeScript places", async () => {
    const plain = await runUntraced(argv(), { cwd: dir, env });
    const run = await runTraced(argv(), { cwd: dir, env, scopeArgs: ["--functions", "--include", "src/**"] });
    // The oracle: one test fails (on purpose), vitest maps the thrown error to src/shapes.ts.
    expect(plain.status).toBe(1);
    expect(plain.stdout).toContain("STACK at fail (/src/shapes.ts:11:");
    expect(plain.stdout).toContain("at failLater (/src/shapes.ts:13:");
    expect({ status: run.status, stdout: stable(run.stdout), stderr: stable(run.stderr) }).toEqual({ status: plain.status, stdout: stable(plain.stdout), stderr: stable(plain.stderr) });
    expectSrcTraced(run);
  }, 120_000);
});

/** The src functions' places (TypeScript) and calls in a traced run of the project. */
function expectSrcTraced(run: Awaited<ReturnType<typeof runTraced>>): void {
  expect(ofKind(run.events, "agent_error")).toEqual([]);
  expect(run.summary).not.toContain("matched no loaded file");
  const places: Record<string, string> = {};
  const tops: string[] = [];
  // No function of src is anonymous: vite's export getters at a module's head are not traced.
  const anonymous: string[] = [];
  for (const event of ofKind(run.events, "function_table")) {
    const { name, file, line, column } = event.fields as { name: string; file: string; line: number; column: number };
    // Every place is in its file; vite-node's own wrapper (its head is before the file's code) is its top level.
    expect([line >= 1, column >= 1, column < 10_000]).toEqual([true, true, true]);
    if (name === "<module>") tops.push(`${file.slice(dir.length + 1)}:${line}:${column}`);
    if (file.startsWith(`${dir}/src/`) && !name.startsWith("<")) places[name] = `${file.slice(dir.length + 1)}:${line}:${column}`;
    if (file.startsWith(`${dir}/src/`) && name === "<anonymous>") anonymous.push(`${file.slice(dir.length + 1)}:${line}:${column}`);
  }
  const at = (file: string, text: string, needle: string, after = "") => `src/${file}:${placeOf(text, needle, after).join(":")}`;
  expect(places).toEqual({
    add: at("math.ts", mathTs, "function add"),
    twice: at("math.ts", mathTs, "(n", "export const twice = "),
    "Square.constructor": at("shapes.ts", shapesTs, "constructor("),
    "Square.perimeter": at("shapes.ts", shapesTs, "perimeter("),
    fail: at("shapes.ts", shapesTs, "function fail"),
    failLater: at("shapes.ts", shapesTs, "(what", "export const failLater = "),
  });
  const calls = ofKind(run.events, "function_call").map((event) => String((event.fields as { function: string }).function).replace(`${dir}/`, ""));
  const count = (name: string) => calls.filter((call) => call.startsWith(`${name} (`)).length;
  // Two Squares' perimeters: four twice and four add; fail once through failLater.
  expect([count("Square.perimeter"), count("twice"), count("add"), count("failLater"), count("fail")]).toEqual([2, 4, 4, 1, 1]);
  expect(calls).toContain(`add (${at("math.ts", mathTs, "function add")})`);
  expect(ofKind(run.events, "function_throw").length).toBeGreaterThan(0);
  expect(tops.sort()).toEqual(["src/math.ts:1:1", "src/shapes.ts:1:1"]);
  expect(anonymous).toEqual([]);
}

describe("vitest 3 with --pool vmThreads (each file run in a context of its own)", () => {
  test("vitest's output is the untraced run's; the src functions' calls at their TypeScript places", async () => {
    const args = [...argv(), "--pool", "vmThreads"];
    const plain = await runUntraced(args, { cwd: dir, env });
    const run = await runTraced(args, { cwd: dir, env, scopeArgs: ["--functions", "--include", "src/**"] });
    expect(plain.stdout).toContain("STACK at fail (/src/shapes.ts:11:");
    expect({ status: run.status, stdout: stable(run.stdout), stderr: stable(run.stderr) }).toEqual({ status: plain.status, stdout: stable(plain.stdout), stderr: stable(plain.stderr) });
    expectSrcTraced(run);
  }, 120_000);
});

// node:vm itself: what a program sees is what it sees untraced (values, `this`, errors and
// their positions, scripts that declare globals), but for a cachedData it gave for the original.
const vmProgram = `const vm = require("node:vm");
const file = (name) => __dirname + "/gen/" + name;
const frames = (error) => String(error.stack).split("\\n").filter((line) => line.includes("/gen/")).map((line) => line.trim().replace(__dirname + "/", "")).join(" | ");
const show = (label, run) => { try { console.log(label, run()); } catch (error) { console.log(label, "threw", error.name, error.message, "at", frames(error)); } };

// vite-node's shape: a directive, an async arrow on the first line, columns counted from its body.
const head = "'use strict';async (x)=>{{";
const body = "function inner(a) { const e = new Error('boom ' + a); throw e; }\\nreturn inner(x) + 1;\\n}}";
const run = vm.runInThisContext(head + body, { filename: file("vite.js"), lineOffset: 0, columnOffset: -head.length });
run(1).catch((error) => console.log("vite-node shape:", error.message, "at", frames(error)));

show("this and completion:", () => vm.runInThisContext("var self = function () { return this; }; this === globalThis && typeof self", { filename: file("this.js") }));
show("directive and var only:", () => vm.runInThisContext("'use strict'; var two = function () { return 2; };", { filename: file("directive.js") }));
show("lexical globals:", () => { vm.runInThisContext("let shared = () => 5;", { filename: file("let.js") }); return vm.runInThisContext("shared()", { filename: file("use.js") }); });
show("syntax error:", () => vm.runInThisContext("function (", { filename: file("syntax.js") }));
// (Called from here: Node prints the source line and place of an error thrown through a script's top level, the instrumented code's rethrow, as for a loaded file.)
show("one line, offsets:", () => vm.runInThisContext("var q = function () { throw new RangeError('q'); }; q", { filename: file("line.js"), lineOffset: 3, columnOffset: 7 })());
show("lines, offsets:", () => new vm.Script("\\nvar w = function () {\\n  return [1].map(function () { throw new Error('w'); });\\n}\\nw", { filename: file("script.js"), lineOffset: 10 }).runInThisContext()());
show("compileFunction:", () => vm.compileFunction("return add(a, 1);\\nfunction add(x, y) { if (y > 5) throw new Error('add'); return x + y; }", ["a"], { filename: file("body.js") })(41));
show("compileFunction throws:", () => vm.compileFunction("return add(a, 9);\\nfunction add(x, y) { if (y > 5) throw new Error('add'); return x + y; }", ["a"], { filename: file("body.js") })(41));
show("another context:", () => new vm.Script("var h = function () { return typeof Array; }; h()", { filename: file("context.js") }).runInNewContext({}));
// Other contexts (jest's way): what the code sees there is what it sees untraced.
const ctx = vm.createContext({ shown: 1 });
show("runInContext:", () => vm.runInContext("var k = function () { return [this === globalThis, typeof shown, Object.keys(globalThis).join()]; }; k()", ctx, { filename: file("ctx.js") }));
show("runInNewContext:", () => vm.runInNewContext("var n = function () { return typeof require + ' ' + Object.keys(globalThis).join(); }; n()", { given: 2 }, file("new.js")));
show("parsingContext:", () => vm.compileFunction("return (function k2() { return typeof shown; })()", [], { filename: file("parsing.js"), parsingContext: ctx })());
show("context's own toString:", () => vm.runInContext("var ts = function (a) { return a + 1; }; [ts.toString(), Function.prototype.toString instanceof Function, String(Function.prototype.toString)].join(' / ')", ctx, { filename: file("text.js") }));
show("context's own formatter:", () => vm.runInContext("Error.prepareStackTrace = function (e, sites) { return sites.filter(function (s) { return /gen/.test(s.getFileName()); }).map(function (s) { return s.getFileName().split('/').pop() + ':' + s.getLineNumber() + ':' + s.getColumnNumber(); }).join(' '); };\\nvar thrower = function () { return new Error('x').stack; }; thrower()", ctx, { filename: file("stack.js") }));
show("context's error:", () => vm.runInContext("var boom = function () { throw new TypeError('in context'); }; boom", vm.createContext({}), { filename: file("boom.js") })());
const reused = new vm.Script("var r = function () { return typeof shown; }; r()", { filename: file("reused.js") });
show("one Script, three contexts:", () => [reused.runInContext(ctx), reused.runInNewContext({}), reused.runInThisContext()].join());
vm.runInContext("var later = async function () { await null; return 'settled'; }; later()", ctx, { filename: file("async.js") }).then((value) => console.log("async in context:", value));
show("instanceof:", () => new vm.Script("1", { filename: file("one.js") }) instanceof vm.Script);
show("compileFunction's cachedData:", () => { const made = vm.compileFunction("return function c() { return 4; }()", [], { filename: file("fn.js"), produceCachedData: true }).cachedData; const fn = vm.compileFunction("return function c() { return 4; }()", [], { filename: file("fn.js"), cachedData: made }); console.error("function cachedDataRejected", fn.cachedDataRejected); return fn(); });
const source = "var cached = function () { return 'cached'; }; cached()";
const made = new vm.Script(source, { filename: file("cached.js") }).createCachedData();
const again = new vm.Script(source, { filename: file("cached.js"), cachedData: made });
show("cachedData:", () => again.runInThisContext());
console.error("cachedDataRejected", again.cachedDataRejected);
`;

describe("node:vm under scope run --functions --include 'gen/**'", () => {
  test("the program sees what it does untraced; the functions of matched vm code are traced", async () => {
    const root = join(scratchDir(), "vm");
    writeProject(root, join(scratchDir(), "no-modules"), { "main.js": vmProgram });
    const plain = await runUntraced(["node", "main.js"], { cwd: root });
    const run = await runTraced(["node", "main.js"], { cwd: root, scopeArgs: ["--functions", "--include", "gen/**"] });
    expect(plain.status).toBe(0);
    expect(plain.stdout).toContain("vite-node shape: boom 1 at at inner (gen/vite.js:1:");
    expect(plain.stdout).toContain("syntax error: threw SyntaxError");
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: plain.status, stdout: plain.stdout });
    // A Script is compiled as given, with its cachedData (its instrumented twin without); a
    // compiled function's is dropped, and it says so.
    expect(plain.stderr).toBe("function cachedDataRejected false\ncachedDataRejected false\n");
    expect(run.stderr).toBe("function cachedDataRejected true\ncachedDataRejected false\n");
    expect(ofKind(run.events, "agent_error")).toEqual([]);
    const called = new Set(ofKind(run.events, "function_call").map((event) => String((event.fields as { function: string }).function).split(" ")[0]));
    for (const name of ["inner", "q", "w", "add", "cached", "c"]) expect(called).toContain(name);
    // Other contexts' code, traced there.
    for (const name of ["h", "k", "n", "k2", "thrower", "boom", "r", "later"]) expect(called).toContain(name);
    const rCalls = ofKind(run.events, "function_call").filter((event) => String((event.fields as { function: string }).function).startsWith("r "));
    expect(rCalls.length).toBe(3);
    const laterCall = ofKind(run.events, "function_call").find((event) => String((event.fields as { function: string }).function).startsWith("later "))!;
    const settled = ofKind(run.events, "function_settle").find((event) => (event.fields as { call: number }).call === (laterCall.fields as { call: number }).call);
    expect(settled?.fields).toMatchObject({ rejected: false, value: '"settled"' });
    // A script declaring a lexical global is left as it is (a block would scope it).
    expect(called).not.toContain("shared");
    const tables = ofKind(run.events, "function_table").map((event) => event.fields as { name: string; file: string; line: number; column: number });
    expect(tables.find((table) => table.name === "inner")).toMatchObject({ file: join(root, "gen/vite.js"), line: 1, column: 1 });
    // Places as V8 counts them (lineOffset 10; the first line's columns from columnOffset 7), as the stacks show them.
    expect(tables.find((table) => table.name === "w")).toMatchObject({ file: join(root, "gen/script.js"), line: 12, column: 9 });
    expect(tables.find((table) => table.name === "q")).toMatchObject({ file: join(root, "gen/line.js"), line: 4, column: 16 });
  }, 60_000);

  test("a selected file node:vm runs but scope cannot trace: the summary says why", async () => {
    const root = join(scratchDir(), "vm-why");
    const program = `const vm = require("node:vm");
console.log(vm.runInNewContext("var f = function () { return 1; }; f()", {}, { filename: __dirname + "/gen/context.js", contextName: "own" }));
console.log(vm.runInThisContext("let g = () => 2; g()", { filename: __dirname + "/gen/lexical.js" }));
new vm.SourceTextModule("export const m = () => 3;", { identifier: __dirname + "/gen/module.mjs" });
`;
    // V8 coverage (jest --coverageProvider=v8) is taken through node:inspector: from then on vm code is left as it is.
    const inspected = `require("node:inspector");
console.log(require("node:vm").runInThisContext("var i = function () { return 4; }; i()", { filename: __dirname + "/gen/inspected.js" }));
`;
    writeProject(root, join(scratchDir(), "no-modules"), { "main.js": program, "inspected.js": inspected });
    const run = await runTraced(["node", "--experimental-vm-modules", "main.js"], { cwd: root, scopeArgs: ["--functions", "--include", "gen/**"] });
    expect(run.stdout).toBe("1\n2\n");
    expect(run.summary).toContain("--include 'gen/**' matched no loaded file");
    expect(run.summary).toContain("gen/context.js (compiled through node:vm into another context: not traced)");
    expect(run.summary).toContain("gen/lexical.js (compiled through node:vm as a script with global declarations (function, let, const, class): not traced)");
    expect(run.summary).toContain("gen/module.mjs (compiled through node:vm as an ES module (vm.SourceTextModule): not traced)");
    const second = await runTraced(["node", "inspected.js"], { cwd: root, scopeArgs: ["--functions", "--include", "gen/**"] });
    expect(second.stdout).toBe("4\n");
    expect(second.summary).toContain("gen/inspected.js (compiled through node:vm while node:inspector is loaded (V8 coverage would count the instrumented code): not traced)");
  }, 60_000);

  test("without --functions node:vm is not wrapped", async () => {
    const root = join(scratchDir(), "vm-off");
    writeProject(root, join(scratchDir(), "no-modules"), { "main.js": 'console.log(String(globalThis[Symbol.for("scope.instrument.vm")]), require("node:vm").runInThisContext.name);\n' });
    const [off, on] = await Promise.all([runTraced(["node", "main.js"], { cwd: root }), runTraced(["node", "main.js"], { cwd: root, scopeArgs: ["--functions"] })]);
    expect(off.stdout).toBe("undefined runInThisContext\n");
    expect(on.stdout).toBe("true runInThisContext\n");
  }, 60_000);
});
