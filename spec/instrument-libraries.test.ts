/**
 * Differential tests on real, unmodified libraries from npm: each fixture runs untouched
 * and with the library's own code instrumented at load time; outputs must be identical.
 * The TypeScript compiler runs at the "calls" level (it makes ~10^8 calls on this
 * project: full previews would take minutes); marked and yaml at "full". The compiler runs
 * twice (untraced, traced): ~58 s on a quiet CI machine, 101 s at load 25, so it has 240 s.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { instrument } from "../src/instrument/instrument";
import { parse } from "../src/instrument/parse";
import { cleanup, instrumentFixtures, runNode } from "./instrument-harness";

afterAll(cleanup);

const root = join(import.meta.dir, "..");
const libs = join(instrumentFixtures, "libs");
const corpus = ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md"].map((name) => join(root, name));

const cases = [
  { name: "typescript 5.9.3 compiles a project", file: "tsc-fixture.cjs", include: "node_modules/typescript-js/**", level: "calls" as const, args: [], minCalls: 1_000_000, timeoutMs: 240_000 },
  { name: "marked renders markdown", file: "marked-fixture.mjs", include: "node_modules/marked/**", level: "full" as const, args: corpus, minCalls: 1000 },
  { name: "yaml parses and stringifies a corpus", file: "yaml-fixture.mjs", include: "node_modules/yaml/**", level: "full" as const, args: [], minCalls: 1000 },
];

describe("real libraries: identical output with and without instrumentation", () => {
  for (const spec of cases) {
    test(spec.name, async () => {
      const plain = await runNode(spec.file, undefined, { cwd: libs, args: spec.args });
      const traced = await runNode(spec.file, { root, include: [spec.include], level: spec.level }, { cwd: libs, args: spec.args, countOnly: true });
      expect(plain.status, plain.stderr).toBe(0);
      expect(plain.stdout.length).toBeGreaterThan(500);
      expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
      expect(traced.errors).toBe(0);
      expect(traced.counts.table).toBeGreaterThan(100);
      expect(traced.counts.call).toBeGreaterThan(spec.minCalls);
      if (spec.level === "full") {
        // Every call ended exactly once (none of these leaves a generator suspended).
        const ends = (traced.counts.return ?? 0) + (traced.counts.throw ?? 0) + (traced.counts.settle ?? 0);
        expect(ends).toBe(traced.counts.call!);
      }
    }, spec.timeoutMs ?? 120_000);
  }
});

function* javascriptFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* javascriptFiles(path);
    else if (/\.[cm]?js$/.test(name)) yield path;
  }
}

test("every file of five packages instruments to code that parses in the same goal, at both levels", () => {
  const packages = ["typescript-js/lib/typescript.js", "marked", "yaml", "meriyah", "magic-string"].map((name) => join(root, "node_modules", name));
  let files = 0;
  for (const start of packages) {
    const list = statSync(start).isDirectory() ? [...javascriptFiles(start)] : [start];
    for (const file of list) {
      const code = readFileSync(file, "utf8");
      const original = parse(code, file);
      if (!original.ok) continue;
      for (const level of ["full", "calls"] as const) {
        const result = instrument(code, file, { config: { root, include: ["node_modules/**"], level } });
        expect(result.status === "failed" ? `${file}: ${result.reason}` : "ok").toBe("ok");
        if (result.status !== "instrumented") continue;
        const again = parse(result.code, file);
        expect(again.ok ? again.module : `${file}: ${again.reason}`).toBe(original.module);
      }
      files++;
    }
  }
  expect(files).toBeGreaterThan(100);
}, 120_000);
