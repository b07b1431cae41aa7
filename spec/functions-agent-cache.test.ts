/**
 * The functions agent (functions.cjs) compiled through a V8 code cache next to it
 * (src/agent/node/functions-agent.ts): written at a main thread's exit when there is none,
 * written once more after the first process that transformed a file, then only read; a bad
 * cache or a rebuilt bundle only means compiling from source. Real node processes load the
 * bundled agent through the bundled loader and instrument a file.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleAgent, oxcBindingSource } from "../src/core/assets";

const dir = mkdtempSync(join(tmpdir(), "scope-functions-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let agent: string;
let loader: string;
const driver = join(dir, "driver.cjs");

beforeAll(async () => {
  agent = await bundleAgent("functionsAgent", dir);
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "../src/agent/node/functions-agent.ts")], target: "node", format: "cjs", outdir: join(dir, "loader") });
  if (!built.success) throw new Error(built.logs.map(String).join("; "));
  loader = built.outputs[0]!.path;
  writeFileSync(
    driver,
    `const [loader, agent, what] = process.argv.slice(2);
const functions = require(loader).loadFunctionsAgent(agent);
if (what === "transform") {
  const r = functions.instrument("function add(a, b) { return a + b }\\n", "/app/add.js", { config: { root: "/", include: ["**"], level: "calls" } });
  console.log(r.status, functions.transformedCount());
} else console.log(typeof functions.instrument, functions.transformedCount());
`,
  );
});

function caches(): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith("functions.cjs.") && !name.endsWith(".tmp"))
    .sort();
}

async function run(what: "load" | "transform"): Promise<string> {
  const env = { ...process.env, SCOPE_OXC_BINDING: oxcBindingSource() ?? "" };
  const child = Bun.spawn(["node", driver, loader, agent, what], { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ stderr, code }).toEqual({ stderr: "", code: 0 });
  return stdout;
}

test("written by the first process, rewritten once after a transform, then only read", async () => {
  expect(await run("load")).toBe("function 0\n");
  const [cache, ...rest] = caches();
  expect(rest).toEqual([]);
  // node's V8 version and the architecture, then the bundle's size and mtime.
  expect(cache).toMatch(new RegExp(`^functions\\.cjs\\.[\\w.-]+-${process.arch}\\.${statSync(agent).size}-\\d+\\.v8cache$`));
  const made = statSync(join(dir, cache!)).mtimeMs;
  // Accepted, but made before any transform: written again with the walk and handlers in it.
  utimesSync(join(dir, cache!), new Date(made - 10_000), new Date(made - 10_000));
  expect(await run("transform")).toBe("instrumented 1\n");
  expect(caches()).toEqual([cache!, `${cache}.transformed`]);
  const rewritten = statSync(join(dir, cache!)).mtimeMs;
  expect(rewritten).toBeGreaterThan(made - 10_000);
  // Accepted and made after a transform: left alone, whatever this process runs.
  const old = new Date(Math.floor(rewritten / 1000) * 1000 - 10_000);
  utimesSync(join(dir, cache!), old, old);
  expect(await run("transform")).toBe("instrumented 1\n");
  expect(await run("load")).toBe("function 0\n");
  expect(statSync(join(dir, cache!)).mtimeMs).toBe(old.getTime());
  expect(caches()).toEqual([cache!, `${cache}.transformed`]);
});

test("a cache V8 rejects, or an older build's, only means compiling from source", async () => {
  const [cache] = caches();
  writeFileSync(join(dir, cache!), "not a code cache");
  expect(await run("transform")).toBe("instrumented 1\n");
  // Rejected: made again (a real cache is far larger than the garbage).
  expect(statSync(join(dir, cache!)).size).toBeGreaterThan(10_000);
  // The bundle rebuilt (another mtime): a cache of its own; the old one and its marker go.
  const later = new Date(Date.now() + 60_000);
  utimesSync(agent, later, later);
  expect(await run("transform")).toBe("instrumented 1\n");
  const now = caches();
  expect(now).toHaveLength(2);
  expect(now[0]).not.toBe(cache);
  expect(now[1]).toBe(`${now[0]}.transformed`);
});
