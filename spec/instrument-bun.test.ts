/**
 * Bun and ahead of time: the Bun plugin at run time (TypeScript through oxc-parser),
 * the same plugin in Bun.build, and `instrumentPath` (scope instrument) whose output
 * runs under Node with the runtime, and without it (the no-op hook).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { instrumentPath } from "../src/instrument/aot";
import { instrumentPlugin } from "../src/instrument/bun-plugin";
import { MARKER } from "../src/instrument/print";
import { cleanup, instrumentFixtures, lines, runNode, scratchDir } from "./instrument-harness";

afterAll(cleanup);

const bunDir = join(instrumentFixtures, "bun");
const cases = join(instrumentFixtures, "cases");

async function runBun(file: string, config?: object): Promise<{ status: number; stdout: string; stderr: string; events: string[] }> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && name !== "BUN_OPTIONS" && !name.startsWith("SCOPE_")) env[name] = value;
  const argv = [process.execPath];
  const eventsPath = join(scratchDir(), `bun-events-${Math.random().toString(36).slice(2)}.json`);
  if (config) {
    argv.push("--preload", join(bunDir, "record-preload-bun.ts"));
    env.SCOPE_TEST_CONFIG = JSON.stringify(config);
    env.SCOPE_TEST_EVENTS = eventsPath;
  }
  argv.push(file);
  const child = Bun.spawn(argv, { cwd: bunDir, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const status = await child.exited;
  const events: string[] = [];
  if (config) {
    const raw = JSON.parse(readFileSync(eventsPath, "utf8")) as { events: number[][]; strings: [number, string][] };
    const strings = new Map(raw.strings);
    const names = new Map<number, string>();
    const kinds: Record<number, string> = { 33: "call", 34: "return", 35: "throw", 36: "settle", 37: "yield", 38: "resume" };
    for (const [kind, , a, b, c] of raw.events as number[][]) {
      if (kind === 32) names.set(a!, strings.get(b!)!);
      else events.push(`${kinds[kind!]} ${names.get(a!)}${c ? ` ${strings.get(c)}` : ""}`);
    }
  }
  return { status, stdout, stderr, events };
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
