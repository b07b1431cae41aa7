/**
 * Stack positions from column shifts instead of a source map (issue 12, start-up): under
 * Node ≥ 20.19 (MatchConfig.shiftsForStacks, set by node-hooks.ts) a file without a map of
 * its own carries no map of scope's, only its column shifts (print.ts), and callsites.ts
 * gives every formatter, Node's own included, the positions the code has untraced. The
 * shifts must lead every position a stack can show to the same place as the sparse map
 * they replace, and the code must be the same but for the map.
 */
import { afterAll, expect, test } from "bun:test";
import { execSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oxcBindingSource } from "../src/core/assets";
import { oxcBindingPlugin } from "../src/core/oxc-plugin";
import { cleanup, runTraced, runUntraced, scratchDir } from "./agent-harness";

afterAll(cleanup);

const root = join(import.meta.dir, "..");
const rawWalk = join(root, "spec", "fixtures", "raw-walk");
/** Plain JavaScript fixtures and real npm files (yaml's, marked's ES module without reading its map). */
const files = [
  ...readdirSync(rawWalk)
    .filter((name) => /\.(c?js|mjs)$/.test(name))
    .map((name) => join(rawWalk, name)),
  join(root, "node_modules", "yaml", "dist", "parse", "lexer.js"),
  join(root, "node_modules", "yaml", "dist", "compose", "composer.js"),
  join(root, "node_modules", "marked", "lib", "marked.esm.js"),
];

/**
 * In node (oxc's buffer walk, as a traced program runs it): each file at both levels with
 * and without shiftsForStacks; per file the code compared, and for every token start of
 * the original (where V8 reports positions) its place in the instrumented code, looked up
 * through the eager map (Node's own SourceMap) and through the shifts (callsites.ts).
 */
const checker = String.raw`
const lib = require("./instrument.cjs");
const callsites = require("./callsites.cjs");
const { SourceMap } = require("node:module");
const files = JSON.parse(process.argv[2]);
const out = [];
for (const file of files) for (const level of ["calls", "full"]) {
  const code = require("node:fs").readFileSync(file, "utf8");
  const module = /\.mjs$/.test(file) || /\bexport\s*[{*]|\bexport (?:default|const|function|class) /.test(code) ? true : false;
  const config = { root: "/", include: ["**", "**/node_modules/**"], level };
  // An external map next to the file is read (and chained, eagerly), as the hooks do.
  const readFile = (url) => { try { return require("node:fs").readFileSync(require("node:path").resolve(require("node:path").dirname(file), url), "utf8"); } catch { return undefined; } };
  const eager = lib.instrument(code, file, { config, module, readFile });
  const lazy = lib.instrument(code, file, { config: { ...config, shiftsForStacks: true }, module, readFile });
  const r = { file, level, status: lazy.status, reason: lazy.reason, tokens: 0, moved: 0, wrong: [], sameCode: false, lazyHasMap: false, otherLineEnds: false, ownMap: false };
  out.push(r);
  if (lazy.status !== "instrumented" || eager.status !== "instrumented") continue;
  // A map of the file's own: it stays, as the file's last line (the lazy code's only map).
  const own = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(code);
  const inline = own && /^data:application\/json(?:;charset=[\w-]+)?;base64,(\S+)$/.exec(own[1]);
  const ownText = own ? (inline ? Buffer.from(inline[1], "base64").toString() : readFile(own[1])) : undefined;
  const place = (source) => (source.startsWith("file:") ? require("node:url").fileURLToPath(source) : require("node:path").resolve(require("node:path").dirname(file), source));
  r.ownMap = own !== null;
  r.lazyHasMap = own ? lazy.code.endsWith(own[0].trimEnd() + "\n") && lazy.code.indexOf("sourceMappingURL=") === lazy.code.lastIndexOf("sourceMappingURL=") : lazy.code.includes("sourceMappingURL=");
  // V8 ends lines at a lone CR, U+2028 and U+2029 too, and so do the shifts and the maps (line-ends.ts).
  r.otherLineEnds = /\r(?!\n)|\u2028|\u2029/.test(code);
  const ownSm = ownText !== undefined ? new SourceMap(JSON.parse(ownText)) : undefined;
  const mapAt = eager.code.lastIndexOf("//# sourceMappingURL=");
  const eagerCode = mapAt >= 0 ? eager.code.slice(0, mapAt) : eager.code;
  // The registration is in what print.ts appends (the program's own text may hold "~ too).
  const tailAt = lazy.code.lastIndexOf("/*scope:instrumented*/");
  const found = /"~([0-9,]*)"/.exec(lazy.code.slice(tailAt));
  const told = found ? "~" + found[1] : "";
  const lazyCode = own ? lazy.code.slice(0, lazy.code.length - own[0].trimEnd().length - 1) : lazy.code;
  r.sameCode = eagerCode === (found ? lazyCode.slice(0, tailAt) + lazyCode.slice(tailAt).replace('"~' + found[1] + '"', '"' + found[1] + '"') : lazyCode);
  const sm = mapAt >= 0 ? new SourceMap(JSON.parse(Buffer.from(eager.code.slice(eager.code.indexOf("base64,", mapAt) + 7).trim(), "base64").toString())) : undefined;
  const name = file + "#" + level;
  callsites.registerShifts(name, told);
  // Per line (0-based): [original column, inserted length]* (print.ts columnShifts).
  const inserted = new Map();
  const numbers = found ? found[1].split(",").map(Number) : [];
  for (let i = 0; i + 1 < numbers.length; i += 2 + 2 * numbers[i + 1]) inserted.set(numbers[i] - 1, numbers.slice(i + 2, i + 2 + 2 * numbers[i + 1]));
  // No line is added inside the program. Lines as V8 counts them.
  const before = code.split(/\r\n|[\n\r\u2028\u2029]/);
  const after = lazy.code.split(/\r\n|[\n\r\u2028\u2029]/);
  for (let line = 0; line < before.length; line++) {
    const text = before[line];
    if (text.includes("sourceMappingURL=")) continue;
    const list = inserted.get(line) || [];
    for (let c = 0; c < text.length; c++) {
      const ch = text[c];
      if (/\s/.test(ch) || (/[\w$]/.test(ch) && c > 0 && /[\w$]/.test(text[c - 1]))) continue;
      let at = c;
      for (let i = 0; i < list.length; i += 2) if (list[i] <= c) at += list[i + 1];
      const token = /[\w$]/.test(ch) ? /^[\w$]+/.exec(text.slice(c))[0] : ch;
      r.tokens++;
      if (at !== c) r.moved++;
      // The oracle: the token is there in the instrumented line.
      if (!after[line].startsWith(token, at)) { if (r.wrong.length < 5) r.wrong.push({ line: line + 1, column: c + 1, at: at + 1, token, lost: true }); continue; }
      const viaShifts = callsites.untracedPosition(name, line + 1, at + 1) ?? [line + 1, at + 1];
      // Eager: scope's map (chained onto the file's own) at the instrumented place; lazy: the
      // untraced place, and the file's own map there (what Node does with the untraced site).
      const e = sm ? sm.findEntry(line, at) : {};
      const viaMap = e && e.originalSource !== undefined ? [place(e.originalSource), e.originalLine + 1, e.originalColumn + 1] : [file, line + 1, at + 1];
      const o = ownSm ? ownSm.findEntry(viaShifts[0] - 1, viaShifts[1] - 1) : {};
      const viaOwn = o && o.originalSource !== undefined ? [place(o.originalSource), o.originalLine + 1, o.originalColumn + 1] : [file, viaShifts[0], viaShifts[1]];
      if (viaShifts[0] !== line + 1 || viaShifts[1] !== c + 1 || viaMap.join() !== viaOwn.join()) {
        if (r.wrong.length < 5) r.wrong.push({ line: line + 1, column: c + 1, at: at + 1, viaShifts, viaMap, viaOwn });
      }
    }
  }
}
console.log(JSON.stringify(out));
`;

test("shifts lead every token of the original to the place the eager map gives it (a file with its own map: that map at the untraced place); the code is the same but for the map", async () => {
  const dir = mkdtempSync(join(tmpdir(), "scope-shifts-"));
  try {
    const bundle = async (entry: string, naming: string) => {
      const built = await Bun.build({ entrypoints: [entry], outdir: dir, target: "node", format: "cjs", naming, plugins: [oxcBindingPlugin()] });
      if (!built.success) throw new Error(built.logs.map(String).join("\n"));
    };
    await bundle(join(root, "src", "instrument", "index.ts"), "instrument.cjs");
    await bundle(join(root, "src", "instrument", "callsites.ts"), "callsites.cjs");
    writeFileSync(join(dir, "check.cjs"), checker);
    const child = Bun.spawnSync(["node", join(dir, "check.cjs"), JSON.stringify(files)], { env: { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" }, stderr: "pipe" });
    expect(child.stderr.toString()).toBe("");
    const results = JSON.parse(child.stdout.toString()) as { file: string; level: string; status: string; tokens: number; moved: number; wrong: unknown[]; sameCode: boolean; lazyHasMap: boolean; otherLineEnds: boolean; ownMap: boolean }[];
    const instrumented = results.filter((r) => r.status === "instrumented");
    expect(instrumented.length).toBeGreaterThan(files.length);
    for (const r of instrumented) expect({ file: r.file, level: r.level, wrong: r.wrong, sameCode: r.sameCode, lazyHasMap: r.lazyHasMap }).toEqual({ file: r.file, level: r.level, wrong: [], sameCode: true, lazyHasMap: r.ownMap });
    // line-ends.js (a lone CR and U+2028) at both levels: shifts and no map, every token checked, some moved.
    expect(instrumented.filter((r) => r.otherLineEnds && r.tokens > 0 && r.moved > 0).length).toBe(2);
    expect(instrumented.filter((r) => r.ownMap).length).toBe(4); // inline-map.js, marked.esm.js (its map next to it) at both levels
    // Real files: thousands of tokens, many of them moved by an insertion on their line.
    const tokens = instrumented.reduce((n, r) => n + r.tokens, 0);
    const moved = instrumented.reduce((n, r) => n + r.moved, 0);
    expect(tokens).toBeGreaterThan(10_000);
    expect(moved).toBeGreaterThan(500);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test("node: error.stack, its frames' format and CallSite positions exactly as untraced, without a map in the file (CommonJS and ESM, both levels)", async () => {
  const dir = join(scratchDir(), "shifts-stacks");
  mkdirSync(dir, { recursive: true });
  const lib = [
    "function f(x) { if (x > 1) throw new Error('boom ' + x); return x; }",
    "const g = (y) => f(y + 1);",
    "exports.g = g;",
    "exports.sites = () => { const saved = Error.prepareStackTrace; Error.prepareStackTrace = (e, s) => s; const s = new Error().stack; Error.prepareStackTrace = saved; return s.slice(0, 2).map((c) => [c.getLineNumber(), c.getColumnNumber(), String(c)]); };",
    "",
  ].join("\n");
  writeFileSync(join(dir, "lib.cjs"), lib);
  writeFileSync(join(dir, "esm.mjs"), "export function h(x) { if (x) throw new Error('esm ' + x); }\nexport const k = (v) => [1].map(() => h(v));\n");
  writeFileSync(
    join(dir, "main.cjs"),
    [
      "const { g, sites } = require('./lib.cjs');",
      "const show = (fn) => { try { fn(); } catch (e) { console.log(e.stack.split('\\n').slice(0, 4).join('\\n')); } };",
      "show(() => g(1));",
      "[1].forEach(() => show(() => g(2)));",
      "console.log(JSON.stringify([1].map(() => sites())[0]));",
      "import('./esm.mjs').then(({ k }) => show(() => k(3)));",
      "",
    ].join("\n"),
  );
  const plain = await runUntraced(["node", "main.cjs"], { cwd: dir });
  expect(plain.status, plain.stderr).toBe(0);
  expect(plain.stdout).toContain("at f (");
  for (const level of ["calls", "full"]) {
    const traced = await runTraced(["node", "main.cjs"], { cwd: dir, scopeArgs: ["--functions", "--level", level], env: { XDG_CACHE_HOME: join(dir, `cache-${level}`) } });
    expect({ level, status: traced.status, stdout: traced.stdout }).toEqual({ level, status: 0, stdout: plain.stdout });
    // Cached: the same.
    const again = await runTraced(["node", "main.cjs"], { cwd: dir, scopeArgs: ["--functions", "--level", level], env: { XDG_CACHE_HOME: join(dir, `cache-${level}`) } });
    expect({ level, stdout: again.stdout }).toEqual({ level, stdout: plain.stdout });
    // No entry of the cache carries a map.
    const entries = execSync(`grep -rl sourceMappingURL ${join(dir, `cache-${level}`, "scope")} || true`).toString();
    expect(entries).toBe("");
  }
}, 120_000);

