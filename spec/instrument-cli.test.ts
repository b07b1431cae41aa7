/**
 * `scope instrument <dir|file> --out <dir>`: the ahead-of-time transform through the CLI,
 * then the output run by node (unchanged behaviour) and under `scope run --functions`
 * (events with the original files and lines, nothing instrumented twice).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MARKER } from "../src/instrument/print";
import { cleanup, fixtures, runTraced, runUntraced } from "./agent-harness";
import { runCli } from "./harness";

let dir: string;
let input: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "scope-instrument-cli-"));
  input = join(dir, "app");
  cpSync(join(fixtures, "functions-cjs"), input, { recursive: true });
  writeFileSync(join(input, "bad.js"), "function (\n");
  writeFileSync(join(input, "notes.txt"), "not code\n");
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  cleanup();
});

describe("a directory", () => {
  let out: string;
  let result: Awaited<ReturnType<typeof runCli>>;
  beforeAll(async () => {
    out = join(dir, "out");
    result = await runCli(["instrument", input, "--out", out]);
  });

  test("one summary line, one warning line for the unparsable file, which is copied as is", () => {
    expect(result).toEqual({
      exitCode: 0,
      stdout: `scope: 2 files instrumented (5 functions), 0 unchanged, 1 copied, 1 not parsed (copied as is) → ${out}\n`,
      stderr: expect.stringMatching(new RegExp(`^scope: ${join(input, "bad.js")}: not instrumented \\(.+\\); copied as is\\n$`)),
    });
    expect(readFileSync(join(out, "bad.js"), "utf8")).toBe("function (\n");
    expect(readFileSync(join(out, "notes.txt"), "utf8")).toBe("not code\n");
    const app = readFileSync(join(out, "app.cjs"), "utf8");
    expect(app).toContain(MARKER);
    expect(app).toContain("sourceMappingURL=data:application/json");
  });

  test("the output runs as the input did, untraced", async () => {
    const [original, instrumented] = await Promise.all([runUntraced(["node", join(input, "app.cjs")]), runUntraced(["node", join(out, "app.cjs")])]);
    expect(instrumented).toEqual(original);
    expect(original.stdout).toBe("main: square(3) = 9\nmain: caught RangeError: too big\nmain: worker says 42\n");
  });

  test("under scope run --functions: original files and lines, not instrumented twice", async () => {
    const run = await runTraced(["node", join(out, "app.cjs")], { scopeArgs: ["--functions"], env: { XDG_CACHE_HOME: join(dir, "cache") } });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: "main: square(3) = 9\nmain: caught RangeError: too big\nmain: worker says 42\n", stderr: "" });
    const table = run.events.filter((e) => e.kind === "function_table").map((e) => {
      const f = e.fields as { name: string; file: string; line: number };
      return `${f.name} ${f.file.slice(dir.length + 1)}:${f.line}`;
    });
    expect(table).toEqual(["square app/app.cjs:6", "fails app/app.cjs:10", "main app/app.cjs:14", "<anonymous> app/app.cjs:22", "double app/worker.cjs:3"]);
    expect(run.events.filter((e) => e.kind === "function_call")).toHaveLength(5);
  });

  test("under scope run without --functions the hooks are no-ops", async () => {
    const run = await runTraced(["node", join(out, "app.cjs")]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.events.filter((e) => e.kind.startsWith("function_"))).toEqual([]);
  });
});

test("one file, --level calls: entry statements only", async () => {
  const out = join(dir, "single");
  const result = await runCli(["instrument", join(input, "worker.cjs"), "--out", out, "--level", "calls"]);
  expect(result).toEqual({ exitCode: 0, stdout: `scope: 1 files instrumented (1 functions), 0 unchanged, 0 copied → ${out}\n`, stderr: "" });
  const code = readFileSync(join(out, "worker.cjs"), "utf8");
  expect(code).toContain(MARKER);
  expect(code.split("\n").slice(0, 7).join("\n")).toContain(".c(");
});

describe("bad input: exit 1 and one line", () => {
  test.each([
    ["a missing path", () => ["instrument", join(dir, "missing"), "--out", join(dir, "o1")], "no such file or directory"],
    ["--out inside the input", () => ["instrument", input, "--out", join(input, "out")], "is inside"],
    ["--out is the input", () => ["instrument", input, "--out", input], "is inside"],
    ["--out is a file", () => ["instrument", input, "--out", join(input, "notes.txt")], "exists and is not a directory"],
    ["bad settings", () => ["instrument", input, "--out", join(dir, "o2"), "--functions", "{"], "--functions: expected JSON settings"],
  ])("%s", async (_name, args, message) => {
    const result = await runCli(args());
    expect(result.exitCode).toBe(1);
    const text = (result.stdout + result.stderr).trim();
    expect(text.split("\n")).toHaveLength(1);
    expect(text).toContain(message);
  });
});
