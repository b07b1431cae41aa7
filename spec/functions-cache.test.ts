/**
 * The transform cache (src/instrument/cache.ts) through `scope run --functions`: entries in
 * the private cache directory, read back on the next start instead of a parse, and a new
 * entry when the source or the settings change.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "../src/version";
import { cleanup, fixtures, runTraced, scratchDir, type Traced } from "./agent-harness";

afterAll(cleanup);

let app: string;
let env: Record<string, string>;
let cacheDir: string;

beforeAll(() => {
  app = join(scratchDir(), "app");
  cpSync(join(fixtures, "functions-esm"), app, { recursive: true });
  env = { XDG_CACHE_HOME: join(scratchDir(), "cache") };
  cacheDir = join(scratchDir(), "cache/scope", `transforms-${VERSION}`);
});

function entries(): Map<string, string> {
  const found = new Map<string, string>();
  for (const shard of readdirSync(cacheDir)) {
    for (const name of readdirSync(join(cacheDir, shard))) found.set(join(cacheDir, shard, name), readFileSync(join(cacheDir, shard, name), "utf8"));
  }
  return found;
}

function table(run: Traced): string[] {
  return run.events.filter((e) => e.kind === "function_table").map((e) => `${(e.fields as { name: string }).name}:${(e.fields as { line: number }).line}`);
}

const run = (args: string[] = ["--functions"]) => runTraced(["node", join(app, "app.mjs")], { scopeArgs: args, env, cwd: app });

test("first start fills the cache, second start reads it, a changed source or setting makes a new entry", async () => {
  const first = await run();
  expect({ status: first.status, stdout: first.stdout, stderr: first.stderr }).toEqual({ status: 0, stdout: "hello, esm\nlater: 42\nworker says 42\n", stderr: "" });
  expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
  const filled = entries();
  // app.mjs, lib.mjs, worker.mjs: each one entry, instrumented.
  expect([...filled.values()].map((text) => text.slice(0, text.indexOf("\n"))).sort()).toEqual(Array(3).fill("scope-transform instrumented"));

  const second = await run();
  expect({ stdout: second.stdout, table: table(second) }).toEqual({ stdout: first.stdout, table: table(first) });
  expect(entries()).toEqual(filled);

  // The entry is what runs: change the cached lib.mjs and the next start shows it.
  const [libEntry, libText] = [...filled].find(([, text]) => text.includes("hello, "))!;
  writeFileSync(libEntry, libText.replace("hello, ", "from the cache, "));
  const third = await run();
  expect(third.stdout).toBe("from the cache, esm\nlater: 42\nworker says 42\n");

  // A changed source is a new key; the stale entry stays unused.
  writeFileSync(join(app, "lib.mjs"), readFileSync(join(app, "lib.mjs"), "utf8").replace("hello, ", "hi, "));
  const fourth = await run();
  expect(fourth.stdout).toBe("hi, esm\nlater: 42\nworker says 42\n");
  expect(entries().size).toBe(4);

  // Other settings, other entries (the calls level has no return events).
  const calls = await run(["--functions", "--level", "calls"]);
  expect(calls.status).toBe(0);
  expect(calls.events.filter((e) => e.kind === "function_return")).toEqual([]);
  expect(entries().size).toBe(7);
});
