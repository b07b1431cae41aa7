/**
 * Start-up of instrumented CommonJS under Node (issue 12): V8's code cache next to a
 * transform cache entry (cache.ts, node-hooks.ts codeCacheCompiler) and sparse source
 * maps (sparse-map.ts). A module started from the code cache behaves as untraced and as
 * on its first start: same output, same events, every stack frame at its original line
 * and column; a changed source gets a new entry and code cache, and a code cache made for
 * another entry or rejected by V8 is replaced, never run.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "../src/version";
import { cleanup, runTraced, runUntraced, scratchDir, type Traced } from "./agent-harness";

afterAll(cleanup);

let dir: string;
let cacheHome: string;
let cacheDir: string;

/**
 * lib.cjs: over the code cache's 16 KiB threshold (filler functions), throws from a
 * one-line function (a line the transform shifts), from a multi-line one (a line it does
 * not) and inside an arrow on a shifted line; reports what its module wrapper got.
 */
const lib = [
  '"use strict";',
  "function oneLine(x) { if (x > 1) throw new Error(\"one line \" + x); return x; }",
  "function multiLine(x) {",
  "  const y = x * 2;",
  '  if (y > 2) throw new Error("multi line " + y);',
  "  return y;",
  "}",
  'const arrow = (list) => list.map((item) => { if (item > 2) throw new Error("arrow " + item); return item; });',
  "exports.oneLine = oneLine;",
  "exports.multiLine = multiLine;",
  "exports.arrow = arrow;",
  "exports.facts = {",
  "  thisIsExports: this === module.exports,",
  "  filename: __filename,",
  "  dirname: __dirname,",
  '  resolved: require.resolve("./esm.mjs"),',
  '  paths: Array.isArray(require.resolve.paths("x")),',
  "  cached: require.cache[__filename] === module,",
  '  extensions: require.extensions === require("node:module")._extensions,',
  "  main: require.main === process.mainModule,",
  "  parent: module.parent && module.parent.filename,",
  "  loaded: module.loaded,",
  "  fn: typeof require,",
  "};",
  'exports.topStack = new Error("top").stack.split("\\n")[1];',
  ...Array.from({ length: 400 }, (_, i) => `exports.f${i} = function f${i}(a) { return a + ${i}; };`),
  "",
].join("\n");

/**
 * dyn.cjs: as large, with an import(): Node 20 loses a script's import() callback when it
 * is compiled from V8's cached data, so it gets no code cache and imports as untraced.
 */
const dyn = ['exports.load = () => import("./esm.mjs");', ...Array.from({ length: 400 }, (_, i) => `exports.g${i} = function g${i}(a) { return a - ${i}; };`), ""].join("\n");

const main = [
  'const lib = require("./lib.cjs");',
  "const frames = (f) => { try { f(); } catch (error) { return error.stack.split(\"\\n\").slice(0, 3).map((line) => line.trim()).join(\" | \"); } };",
  "console.log(JSON.stringify(lib.facts));",
  "console.log(lib.topStack.trim());",
  "console.log(frames(() => lib.oneLine(2)));",
  "console.log(frames(() => lib.multiLine(2)));",
  "console.log(frames(() => lib.arrow([1, 2, 3])));",
  "let sum = 0; for (let i = 0; i < 400; i++) sum += lib[`f${i}`](1);",
  "console.log(sum);",
  'require("./dyn.cjs").load().then((esm) => console.log(esm.value));',
  "",
].join("\n");

beforeAll(() => {
  dir = join(scratchDir(), "startup");
  mkdirSync(dir);
  writeFileSync(join(dir, "lib.cjs"), lib);
  writeFileSync(join(dir, "main.cjs"), main);
  writeFileSync(join(dir, "dyn.cjs"), dyn);
  writeFileSync(join(dir, "esm.mjs"), "export const value = 'imported';\n");
  cacheHome = join(scratchDir(), "startup-cache");
  cacheDir = join(cacheHome, "scope", `transforms-${VERSION}`);
});

/** The cache's files by kind: entries and code caches (path → bytes). */
function files(): { entries: Map<string, string>; codeCaches: Map<string, Buffer> } {
  const entries = new Map<string, string>();
  const codeCaches = new Map<string, Buffer>();
  for (const shard of readdirSync(cacheDir)) {
    for (const name of readdirSync(join(cacheDir, shard))) {
      const path = join(cacheDir, shard, name);
      if (name.endsWith(".v8")) codeCaches.set(path, readFileSync(path));
      else entries.set(path, readFileSync(path, "utf8"));
    }
  }
  return { entries, codeCaches };
}

const traced = () => runTraced(["node", join(dir, "main.cjs")], { scopeArgs: ["--functions", "--level", "full"], env: { XDG_CACHE_HOME: cacheHome }, cwd: dir });

function events(run: Traced): string[] {
  return run.events
    .filter((e) => e.kind.startsWith("function_"))
    .map((e) => {
      const fields = e.fields as Record<string, unknown>;
      return `${e.kind} ${String(fields.name ?? fields.function ?? "")} ${String(fields.line ?? "")}`;
    });
}

test("code cache: the second start compiles from V8's cached data; output, stacks and events as untraced and as the first start", async () => {
  const plain = await runUntraced(["node", join(dir, "main.cjs")], { cwd: dir });
  expect(plain.status, plain.stderr).toBe(0);
  const lines = plain.stdout.split("\n");
  expect(JSON.parse(lines[0]!)).toEqual({
    thisIsExports: true,
    filename: join(dir, "lib.cjs"),
    dirname: dir,
    resolved: join(dir, "esm.mjs"),
    paths: true,
    cached: true,
    extensions: true,
    main: true,
    parent: join(dir, "main.cjs"),
    loaded: false,
    fn: "function",
  });
  expect(lines.slice(1)).toEqual([
    `at Object.<anonymous> (${join(dir, "lib.cjs")}:25:20)`,
    `Error: one line 2 | at Object.oneLine (${join(dir, "lib.cjs")}:2:40) | at ${join(dir, "main.cjs")}:5:30`,
    `Error: multi line 4 | at Object.multiLine (${join(dir, "lib.cjs")}:5:20) | at ${join(dir, "main.cjs")}:6:30`,
    `Error: arrow 3 | at ${join(dir, "lib.cjs")}:8:66 | at Array.map (<anonymous>)`,
    String(400 + (399 * 400) / 2),
    "imported",
    "",
  ]);

  // Node formats a frame on a line the map covers itself (`at <anonymous> (file:l:c)` for
  // V8's `at file:l:c`): the positions are compared, and the whole text between starts.
  const positions = (text: string) => text.match(/[\w.]+\.cjs:\d+:\d+/g);
  const first = await traced();
  expect({ status: first.status, stderr: first.stderr, positions: positions(first.stdout) }).toEqual({ status: 0, stderr: "", positions: positions(plain.stdout) });
  expect(first.stdout.split("\n").filter((line) => !line.includes(".cjs:"))).toEqual(plain.stdout.split("\n").filter((line) => !line.includes(".cjs:")));
  const made = files();
  const libEntry = [...made.entries].find(([, text]) => text.includes("one line"))!;
  expect(libEntry[1].slice(0, libEntry[1].indexOf("\n"))).toMatch(/^scope-transform instrumented [0-9a-f]{24}$/);
  const id = libEntry[1].split("\n")[0]!.split(" ")[2]!;
  const codeCache = made.codeCaches.get(`${libEntry[0]}.v8`);
  expect(codeCache?.subarray(0, 34).toString("latin1")).toBe(`scope-v8 ${id}\n`);
  expect(made.codeCaches.size).toBe(1); // main.cjs is under the 16 KiB threshold
  const dynEntry = [...made.entries].find(([, text]) => text.includes('import("./esm.mjs")'))!;
  expect(dynEntry[1].slice(0, dynEntry[1].indexOf("\n"))).toMatch(/^scope-transform instrumented import esm [0-9a-f]{24}$/);

  const second = await traced();
  expect({ status: second.status, stdout: second.stdout, stderr: second.stderr }).toEqual({ status: first.status, stdout: first.stdout, stderr: first.stderr });
  expect(events(second)).toEqual(events(first));
  expect(events(first).filter((line) => line.startsWith("function_call")).length).toBeGreaterThan(400);
  // V8 took the cached data: it was not made again.
  const after = files();
  expect(after.codeCaches.get(`${libEntry[0]}.v8`)).toEqual(codeCache!);
  expect(after.entries).toEqual(made.entries);
});

test("a changed source is a new entry and code cache; a code cache made for another entry or rejected by V8 is replaced, never run", async () => {
  await traced();
  const before = files();
  const [libPath] = [...before.entries].find(([, text]) => text.includes("one line"))!;
  const slot = `${libPath}.v8`;

  // Same length, different text: V8 alone (which checks lengths) would take the old data.
  writeFileSync(join(dir, "lib.cjs"), lib.replace('"one line "', '"ONE LINE "'));
  const changed = await traced();
  expect(changed.status, changed.stderr).toBe(0);
  expect(changed.stdout).toContain("Error: ONE LINE 2 |");
  const now = files();
  expect(now.entries.size).toBe(before.entries.size + 1);
  expect(now.codeCaches.size).toBe(2);
  const [newPath] = [...now.entries].find(([, text]) => text.includes("ONE LINE"))!;
  const newSlot = `${newPath}.v8`;
  expect(now.codeCaches.has(newSlot)).toBe(true);

  // The old entry's code cache in the new entry's place (as after an entry is rewritten):
  // its id does not match, so it is ignored and replaced.
  writeFileSync(newSlot, readFileSync(slot));
  const foreign = await traced();
  expect({ status: foreign.status, stdout: foreign.stdout }).toEqual({ status: 0, stdout: changed.stdout });
  const replaced = readFileSync(newSlot);
  expect(replaced.subarray(0, 9).toString("latin1")).toBe("scope-v8 ");
  expect(replaced.equals(readFileSync(slot))).toBe(false);
  expect(replaced.subarray(0, 34).toString("latin1")).toBe(`scope-v8 ${now.entries.get(newPath)!.split("\n")[0]!.split(" ")[2]}\n`);

  // The right id on data V8 rejects (corrupt): compiled from the text, and made again.
  const header = replaced.subarray(0, 34);
  const corrupt = Buffer.concat([header, Buffer.alloc(replaced.length - 34, 7)]);
  writeFileSync(newSlot, corrupt);
  const rejected = await traced();
  expect({ status: rejected.status, stdout: rejected.stdout }).toEqual({ status: 0, stdout: changed.stdout });
  expect(readFileSync(newSlot).equals(corrupt)).toBe(false);
  expect(statSync(newSlot).size).toBeGreaterThan(1000);
});

test("sparse map: under Node's own lookup every token of the original is at its original line and column", async () => {
  const MagicString = (await import("magic-string")).default;
  const { sparseMap } = await import("../src/instrument/sparse-map");
  const source = [
    "function a(x) { return x + 1; }",
    "function b(x) {",
    "  const y = x.map((v) => v * 2);",
    "  return y;",
    "}",
    "const c = (p, q) => p(q) + q(p);",
    "",
    "  if (a(1)) b([1]); else c(a, b);",
    "//# sourceMappingURL=old.js.map",
    "",
  ].join("\n");
  const edits = new MagicString(source);
  // Insertions of known lengths: mid-line, before a line's end, at a line's start, two on a line.
  const inserts: [number, string][] = [
    [source.indexOf("return x"), "INS1;"],
    [source.indexOf("{\n  const") + 1, "INS2;"],
    [source.indexOf("v * 2"), "(INS3,"],
    [source.indexOf("p(q)"), "(INS4,"],
    [source.indexOf("q(p)"), "INS5+"],
    [source.indexOf("  if"), "INS6;"],
  ];
  for (const [at, text] of inserts) edits.appendRight(at, text);
  const comment = source.indexOf("//# sourceMappingURL");
  edits.remove(comment, source.length);
  const map = sparseMap(edits, source, "/src/a.js");
  expect(map).toBeTruthy();
  // The oracle: an original offset's generated column is its column plus the insertions before it on its line.
  const lineStart = (offset: number) => source.lastIndexOf("\n", offset - 1) + 1;
  const tokens: { line: number; column: number; generated: number }[] = [];
  for (let i = 0; i < comment; i++) {
    const char = source[i]!;
    const word = /[\w$]/.test(char);
    if (/\s/.test(char) || (word && i > 0 && /[\w$]/.test(source[i - 1]!))) continue;
    const start = lineStart(i);
    const shift = inserts.filter(([at]) => at <= i && at >= start).reduce((sum, [, text]) => sum + text.length, 0);
    tokens.push({ line: source.slice(0, i).split("\n").length - 1, column: i - start, generated: i - start + shift });
  }
  const check = `
    const { SourceMap } = require("node:module");
    const [map, tokens] = JSON.parse(process.argv[1]);
    const sm = new SourceMap(map);
    const wrong = [];
    for (const t of tokens) {
      const e = sm.findEntry(t.line, t.generated);
      const at = e.originalSource === undefined ? [t.line, t.generated] : [e.originalLine, e.originalColumn];
      if (at[0] !== t.line || at[1] !== t.column) wrong.push({ ...t, at });
    }
    console.log(JSON.stringify({ tokens: tokens.length, wrong }));
  `;
  const child = Bun.spawnSync(["node", "-e", check, JSON.stringify([map, tokens])]);
  expect(child.stderr.toString()).toBe("");
  expect(JSON.parse(child.stdout.toString())).toEqual({ tokens: tokens.length, wrong: [] });
  // A line whose insertion moved nothing (line 2: before its end) carries no mapping: after
  // a mapped line a one-field segment ("A": V8's own position), then nothing (line 5).
  expect(map!.mappings.split(";").slice(1, 5)).toEqual(["A", map!.mappings.split(";")[2]!, "A", ""]);
});

test("a program that replaces Module.wrap gets Node's compile with its wrapper, cached or not", async () => {
  // A large module (code cache size) that sees what the program's wrapper declares.
  const filler = Array.from({ length: 400 }, (_, i) => `exports.h${i} = function h${i}(a) { return a * ${i}; };`);
  writeFileSync(join(dir, "wrapped.cjs"), ["exports.seen = typeof injected;", ...filler, ""].join("\n"));
  const patch = join(dir, "patched.cjs");
  writeFileSync(
    patch,
    'const Module = require("node:module");\nconst wrap = Module.wrap;\nModule.wrap = (script) => wrap("var injected = 42;" + script);\nconsole.log(require("./wrapped.cjs").seen);\n',
  );
  const plain = await runUntraced(["node", patch], { cwd: dir });
  expect(plain).toEqual({ status: 0, stdout: "number\n", stderr: "" });
  const run = () => runTraced(["node", patch], { scopeArgs: ["--functions"], env: { XDG_CACHE_HOME: join(scratchDir(), "startup-wrap") }, cwd: dir });
  for (const traced of [await run(), await run()]) expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual(plain);
});
