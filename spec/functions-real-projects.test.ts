/**
 * What running real tools from npm under `scope run --functions` turned up (BENCHMARKS.md
 * "Real projects": prettier, eslint, tsc, terser, esbuild-wasm, mocha, piscina, fastify,
 * express, child_process), each reduced to a small fixture of the same shape.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, fixtures, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { installedNodes } from "./harness";
import { Chalk } from "chalk";
import { PatternKind } from "../src/instrument/selection";
import { selectionLines } from "../src/run/selection-report";

afterAll(cleanup);

const env = { XDG_CACHE_HOME: join(scratchDir(), "cache") };
const runtimes: [string, string][] = [...installedNodes, ["bun", process.execPath]];

describe("modules that declare their own Symbol (lodash.merge, which ESLint 9 loads) or globalThis (core-js 3.38+, an ES module's const)", () => {
  const app = join(fixtures, "functions-shadow/app.mjs");
  for (const [name, runtime] of runtimes) {
    for (const level of ["calls", "full"]) {
      test(`${name}, --level ${level}: runs as untraced, its functions recorded`, async () => {
        const plain = await runUntraced([runtime, app], { env });
        const traced = await runTraced([runtime, app], { env, scopeArgs: ["--include", "functions-shadow/**", "--level", level] });
        expect(plain.status, plain.stderr).toBe(0);
        expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: "" });
        const called = new Set(ofKind(traced.events, "function_call").map((e) => String((e.fields as { function: string }).function).split(" ")[0]));
        expect([...called].sort()).toEqual(["<anonymous>", "baseGetTag", "check", "defineGlobal", "kindOf", "pairs", "tags"]);
      }, 30_000);
    }
  }
});

describe("util.promisify(execFile) and (exec), as a program running children in parallel uses them", () => {
  const app = join(fixtures, "promisify-exec-fixture.cjs");
  for (const [name, runtime] of runtimes) {
    test(`${name}: the promises resolve as untraced, and the children are recorded as execFile and exec`, async () => {
      const plain = await runUntraced([runtime, app], { env });
      const traced = await runTraced([runtime, app], { env });
      expect(plain.stdout).toBe('child: number\n{"stdout":"out","stderr":"err"}\n{"stdout":"shell\\n","stderr":""}\nrejected: 3 "partial"\n');
      expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
      const spawns = ofKind(traced.events, "process_spawn");
      expect(new Set(spawns.map((e) => e.pid)).size).toBe(1);
      expect(spawns.map((e) => e.fields.method)).toEqual(["execFile", "exec", "execFile"]);
    }, 30_000);
  }
});

describe("--include '**' on a tool from npm (prettier: all its files in node_modules)", () => {
  const plain = new Chalk({ level: 0 });
  const entry = (text: string, closest: string[]) => ({ pattern: { kind: PatternKind.include, text }, looked: 6, threads: 1, closest });
  // A working directory without the globs' directories: no compiled-TypeScript hint (spec/selection-compiled.test.ts), whatever the repo's own src/ holds.
  const nowhere = join(import.meta.dir, "fixtures", "no-such-directory");
  test("the summary says why the closest paths, which the glob matches as text, were left out", () => {
    expect(selectionLines([entry("**", ["node_modules/prettier/doc.mjs", "node_modules/prettier/index.mjs"])], plain, nowhere)).toEqual([
      "  --include '**' matched no loaded file (6 files looked at in 1 thread); closest loaded paths:",
      "    node_modules/prettier/doc.mjs",
      "    node_modules/prettier/index.mjs",
      "    (files in node_modules are traced only when the glob names node_modules: --include 'node_modules/**', or --package NAME)",
    ]);
  });
  test("not for a glob that names node_modules, nor when no closest path is in node_modules", () => {
    expect(selectionLines([entry("node_modules/markd/**", ["node_modules/marked/lib/marked.cjs"]), entry("src/**", ["lib/a.js"])], plain, nowhere)).toEqual([
      "  --include 'node_modules/markd/**' matched no loaded file (6 files looked at in 1 thread); closest loaded paths:",
      "    node_modules/marked/lib/marked.cjs",
      "  --include 'src/**' matched no loaded file (6 files looked at in 1 thread); closest loaded paths:",
      "    lib/a.js",
    ]);
  });
});
