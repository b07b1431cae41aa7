/** The one executable: copied alone to another directory it extracts what it needs and works. */
import { beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./harness";

const built = join(repoRoot, "dist/scope");
let dir: string;
let env: Record<string, string>;

async function scope(args: string[]) {
  const child = Bun.spawn([join(dir, "scope"), ...args], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, exitCode };
}

beforeAll(() => {
  if (!existsSync(built)) throw new Error("dist/scope is not built: run `bun run build` (scripts/test.sh does)");
  dir = mkdtempSync(join(tmpdir(), "scope-compiled-"));
  copyFileSync(built, join(dir, "scope"));
  // No repo, no zig-out, no SCOPE_* overrides: only what the executable carries.
  env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, XDG_CACHE_HOME: join(dir, "cache"), NO_COLOR: "1" };
});

describe("dist/scope", () => {
  test("doctor passes and the cache directory is private", async () => {
    const result = await scope(["doctor"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("ok    ring:");
    expect(result.stdout).toContain("ok    node:");
    expect(statSync(join(dir, "cache/scope")).mode & 0o777).toBe(0o700);
  });

  test("traces the bundled example and decodes it", async () => {
    const run = await scope(["run", "--out", "t.bin", "--", "node", join(repoRoot, "examples/hello/app.js")]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe("worker: 2² = 4\nworker: 3² = 9\nchild: hello, parent\ndone\n");
    const dump = await scope(["dump", "--json", "t.bin"]);
    expect(dump.exitCode).toBe(0);
    const events = dump.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const count = (kind: string) => events.filter((event) => event.kind === kind).length;
    expect([count("trace_start"), count("message_send"), count("message_receive"), count("process_spawn")]).toEqual([3, 6, 6, 1]);
    for (const event of events.filter((e) => e.kind === "message_receive")) expect(event.linkedTo).toHaveLength(1);
    // The collector's own marker (how the top process ended) is not counted as a traced process.
    expect((await scope(["dump", "--stats", "t.bin"])).stdout).toContain(", 2 processes, 3 threads\n");
  });

  test("--functions: the embedded ESM loader and the agent trace the program's own functions", async () => {
    const app = join(repoRoot, "spec/fixtures/functions-esm/app.mjs");
    const run = await scope(["run", "--functions", "--out", "f.bin", "--", "node", app]);
    expect({ exitCode: run.exitCode, stdout: run.stdout }).toEqual({ exitCode: 0, stdout: "hello, esm\nlater: 42\nworker says 42\n" });
    const dump = await scope(["dump", "--json", "f.bin"]);
    const events = dump.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const names = events.filter((event) => event.kind === "function_table").map((event) => `${event.name}:${event.line}`);
    expect(names.sort()).toEqual(["<anonymous>:14", "greet:1", "later:6", "triple:3"]);
    expect(events.filter((event) => event.kind === "function_call").length).toBe(4);
  });
});
