/**
 * The transform cache (src/instrument/cache.ts) through `scope run --functions`: entries in
 * the private cache directory, read back on the next start instead of a parse, and a new
 * entry when the source, the settings or the source's external map change; bounded by
 * SCOPE_TRANSFORM_CACHE_MAX, least recently used entries evicted at `scope run` start.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bundleAgent, transformBuildId } from "../src/core/assets";
import { TransformCache } from "../src/instrument/cache";
import type { InstrumentOptions } from "../src/instrument/instrument";
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
  expect([...filled.values()].map((text) => text.slice(0, text.indexOf("\n")).replace(/ [0-9a-f]{24}$/, " <id>")).sort()).toEqual(Array(3).fill("scope-transform instrumented <id>"));

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
  expect(calls.status, calls.stderr).toBe(0);
  expect(calls.events.filter((e) => e.kind === "function_return")).toEqual([]);
  expect(entries().size).toBe(7);
});

/** Every entry (path → size, mtime) under a cache root's transforms-* directories. */
function allEntries(root: string): Map<string, { size: number; mtimeMs: number }> {
  const found = new Map<string, { size: number; mtimeMs: number }>();
  if (!existsSync(root)) return found;
  for (const version of readdirSync(root).filter((name) => name.startsWith("transforms-"))) {
    for (const shard of readdirSync(join(root, version))) {
      for (const name of readdirSync(join(root, version, shard))) {
        const stat = statSync(join(root, version, shard, name));
        found.set(join(root, version, shard, name), { size: stat.size, mtimeMs: stat.mtimeMs });
      }
    }
  }
  return found;
}

/** A well-formed entry of `bytes` bytes under a made-up key, last used at `when`. */
function plantEntry(dir: string, seed: string, bytes: number, when: Date): string {
  const key = createHash("sha256").update(seed).digest("hex");
  mkdirSync(join(dir, key.slice(0, 2)), { recursive: true, mode: 0o700 });
  const path = join(dir, key.slice(0, 2), key);
  const header = "scope-transform unchanged\n";
  writeFileSync(path, header + "x".repeat(bytes - header.length));
  utimesSync(path, when, when);
  return path;
}

test("bounded: a hit refreshes an entry's recency; over SCOPE_TRANSFORM_CACHE_MAX the least recently used go first, other versions' included", async () => {
  const home = join(scratchDir(), "cache-lru");
  const root = join(home, "scope");
  const dir = join(root, `transforms-${VERSION}`);
  // A fresh copy: the test above edits its app.
  const lruApp = join(scratchDir(), "app-lru");
  cpSync(join(fixtures, "functions-esm"), lruApp, { recursive: true });
  const lru = (args: string[] = ["--functions"], extra: Record<string, string> = {}) =>
    runTraced(["node", join(lruApp, "app.mjs")], { scopeArgs: args, env: { XDG_CACHE_HOME: home, ...extra }, cwd: lruApp });
  const expected = "hello, esm\nlater: 42\nworker says 42\n";

  const first = await lru();
  expect({ status: first.status, stdout: first.stdout, stderr: first.stderr }).toEqual({ status: 0, stdout: expected, stderr: "" });
  const used = [...allEntries(root).keys()];
  expect(used).toHaveLength(3);

  // The program's entries were last used two days ago; 30 entries of 8 KiB one day ago
  // (oldest first); another version's entry three days ago; a writer's leftover two hours ago.
  const day = 24 * 3600 * 1000;
  const now = Date.now();
  for (const path of used) utimesSync(path, new Date(now - 2 * day), new Date(now - 2 * day));
  const fillers = Array.from({ length: 30 }, (_, i) => plantEntry(dir, `filler ${i}`, 8192, new Date(now - day + i * 1000)));
  const otherVersion = join(root, "transforms-0.0.0-old");
  const old = plantEntry(otherVersion, "old", 8192, new Date(now - 3 * day));
  const leftover = `${fillers[0]}.123.abc.tmp`;
  writeFileSync(leftover, "half");
  utimesSync(leftover, new Date(now - 7200_000), new Date(now - 7200_000));

  // Under the default bound nothing is evicted; the hits make the program's entries recent.
  const second = await lru();
  expect({ status: second.status, stdout: second.stdout, stderr: second.stderr }).toEqual({ status: 0, stdout: expected, stderr: "" });
  const afterHits = allEntries(root);
  for (const path of used) expect(afterHits.get(path)!.mtimeMs).toBeGreaterThan(now - 60_000);
  expect(afterHits.size).toBe(3 + 30 + 1);
  expect(existsSync(leftover)).toBe(false);

  // A 100 KiB bound: pruned at start to under 3/4 of it, oldest first: the other version
  // (its emptied directory too), then the oldest fillers; the recently used entries stay.
  const bounded = await lru(["--functions"], { SCOPE_TRANSFORM_CACHE_MAX: "100KiB" });
  expect({ status: bounded.status, stdout: bounded.stdout, stderr: bounded.stderr }).toEqual({ status: 0, stdout: expected, stderr: "" });
  expect(table(bounded)).toEqual(table(first));
  const kept = allEntries(root);
  const total = [...kept.values()].reduce((sum, entry) => sum + entry.size, 0);
  expect(total).toBeLessThanOrEqual(75 * 1024);
  expect(existsSync(old)).toBe(false);
  expect(existsSync(otherVersion)).toBe(false);
  for (const path of used) expect(kept.has(path)).toBe(true);
  const keptFillers = fillers.filter((path) => kept.has(path));
  expect(keptFillers.length).toBeGreaterThan(0);
  expect(keptFillers).toEqual(fillers.slice(fillers.length - keptFillers.length));

  // 0: no cache; the entries are removed and none written.
  const none = await lru(["--functions"], { SCOPE_TRANSFORM_CACHE_MAX: "0" });
  expect({ status: none.status, stdout: none.stdout, stderr: none.stderr }).toEqual({ status: 0, stdout: expected, stderr: "" });
  expect(allEntries(root).size).toBe(0);

  // Not a size: one line, the default bound, the run goes on.
  const bad = await lru(["--functions"], { SCOPE_TRANSFORM_CACHE_MAX: "lots" });
  expect({ status: bad.status, stdout: bad.stdout, stderr: bad.stderr }).toEqual({
    status: 0,
    stdout: expected,
    stderr: 'scope: SCOPE_TRANSFORM_CACHE_MAX: expected a size such as 256MiB (0: no cache), got "lots"; using 256MiB\n',
  });
  expect(allEntries(root).size).toBe(3);
});

test("an external source map is part of the key: a rebuilt map next to an unchanged source is not served stale", async () => {
  const dir = join(scratchDir(), "mapped");
  mkdirSync(dir);
  writeFileSync(join(dir, "lib.cjs"), 'function fail() {\n  throw new Error("mapped");\n}\nmodule.exports = { fail };\n//# sourceMappingURL=lib.cjs.map\n');
  writeFileSync(join(dir, "main.cjs"), 'const { fail } = require("./lib.cjs");\ntry {\n  fail();\n} catch (error) {\n  console.log(error.stack.split("\\n")[1].trim());\n}\n');
  const writeMap = (source: string) => writeFileSync(join(dir, "lib.cjs.map"), JSON.stringify({ version: 3, sources: [source], names: [], mappings: "AAAA;AACA;AACA;AACA" }));
  // The program turns Node's source maps on itself (scope leaves them as the program has them).
  const mapped = () => runTraced(["node", "--enable-source-maps", join(dir, "main.cjs")], { scopeArgs: ["--functions"], env: { XDG_CACHE_HOME: join(scratchDir(), "cache-map") }, cwd: dir });
  // Where the function table places `fail`: the original file its map leads to (kept in the cache entry).
  const failFile = (run: Traced) => run.events.filter((e) => e.kind === "function_table" && (e.fields as { name: string }).name === "fail").map((e) => (e.fields as { file: string }).file);

  writeMap("first.ts");
  const first = await mapped();
  // The frame is the original position, through lib.cjs.map, as untraced with source maps on.
  expect({ status: first.status, stdout: first.stdout }).toEqual({ status: 0, stdout: `at fail (${join(dir, "first.ts")}:2:1)\n` });
  expect(failFile(first)).toEqual([join(dir, "first.ts")]);
  const again = await mapped();
  expect({ stdout: again.stdout, table: failFile(again) }).toEqual({ stdout: first.stdout, table: failFile(first) });

  writeMap("second.ts");
  const rebuilt = await mapped();
  expect({ stdout: rebuilt.stdout, table: failFile(rebuilt) }).toEqual({ stdout: `at fail (${join(dir, "second.ts")}:2:1)\n`, table: [join(dir, "second.ts")] });
});

test("CommonJS entries are written off the main thread and whole: also when the program calls process.exit() before its event loop turns", async () => {
  for (const exit of [false, true]) {
    const dir = join(scratchDir(), `cjs-${exit ? "exit" : "end"}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "lib.cjs"), "exports.twice = function twice(x) {\n  return x * 2;\n};\n");
    writeFileSync(join(dir, "main.cjs"), `function main() {\n  const { twice } = require("./lib.cjs");\n  console.log("twice", twice(21));\n}\nmain();\n${exit ? "process.exit(0);\n" : ""}`);
    const cacheEnv = { XDG_CACHE_HOME: join(dir, "cache") };
    const cjsCache = join(dir, "cache/scope", `transforms-${VERSION}`);
    const start = () => runTraced(["node", join(dir, "main.cjs")], { scopeArgs: ["--functions"], env: cacheEnv, cwd: dir });
    const files = () => readdirSync(cjsCache).flatMap((shard) => readdirSync(join(cjsCache, shard)).map((name) => join(cjsCache, shard, name)));
    const first = await start();
    expect({ exit, status: first.status, stdout: first.stdout, stderr: first.stderr }).toEqual({ exit, status: 0, stdout: "twice 42\n", stderr: "" });
    // main.cjs and lib.cjs, each one whole entry; no temporary left.
    const written = files();
    expect({ exit, names: written.map((path) => path.replace(/^.*\//, "").replace(/^[0-9a-f]{64}/, "<key>")) }).toEqual({ exit, names: ["<key>", "<key>"] });
    for (const path of written) expect(readFileSync(path, "utf8")).toMatch(/^scope-transform instrumented [0-9a-f]{24}\n[^]*\/\*scope:instrumented\*\//);
    const second = await start();
    expect({ exit, stdout: second.stdout, table: table(second) }).toEqual({ exit, stdout: first.stdout, table: table(first) });
    expect(table(first)).toContain("twice:1");
    expect(files().sort()).toEqual(written.sort());
  }
});

test("keyed by the instrumenter's build: an entry another build wrote is not reused, the same build's is", async () => {
  const dir = join(scratchDir(), "builds");
  const code = "function add(a, b) {\n  return a + b;\n}\n";
  const options = { config: { root: "/", include: ["**"], level: "calls" } } as unknown as InstrumentOptions;
  const made = (build: string) => {
    const cache = new TransformCache(dir, {}, false, build);
    const result = cache.instrument(code, "/app/add.js", options);
    return { status: result.status, hits: cache.hits, misses: cache.misses };
  };
  expect(made("build-a")).toEqual({ status: "instrumented", hits: 0, misses: 1 });
  expect(made("build-a")).toEqual({ status: "instrumented", hits: 1, misses: 0 });
  // Another build (a new scope, or a development build with a changed transform): its own entry.
  expect(made("build-b")).toEqual({ status: "instrumented", hits: 0, misses: 1 });
  expect(made("build-b")).toEqual({ status: "instrumented", hits: 1, misses: 0 });

  // The agents that transform carry the id, computed once when bundled: a constant at run time.
  const id = await transformBuildId();
  expect(id).toMatch(/^[0-9a-f]{16}$/);
  const out = join(scratchDir(), "bundles");
  for (const name of ["functionsAgent", "esmLoader"] as const) {
    const text = readFileSync(await bundleAgent(name, out), "utf8");
    expect({ name, id: text.includes(`TRANSFORM_BUILD = ${JSON.stringify(id)}`) }).toEqual({ name, id: true });
  }
});
