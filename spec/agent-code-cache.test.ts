/**
 * dist/agent/node.cjs compiles the agent bundle through a V8 code cache next to it
 * (src/agent/node/code-cache.ts): written once by a main thread, read by every thread after,
 * and never a reason for the program to behave differently (a bad or unwritable cache
 * only means compiling from source). Without SCOPE_RING the agent itself stays unattached
 * (one stderr line), which is all these tests need: the loader runs the same.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleAgent } from "../src/core/assets";
import { cleanup, runTraced } from "./agent-harness";

const dir = mkdtempSync(join(tmpdir(), "scope-code-cache-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  cleanup();
});

const program = join(dir, "program.cjs");
writeFileSync(
  program,
  `const { Worker, isMainThread, parentPort } = require("node:worker_threads");
if (isMainThread) {
  const worker = new Worker(__filename);
  worker.on("message", (m) => console.log("worker said", m));
  worker.on("exit", (code) => { console.log("worker exit", code); process.exitCode = 3; });
} else parentPort.postMessage(typeof require("node:vm").Script);
`,
);

async function run(agent: string): Promise<{ stdout: string; code: number }> {
  const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: `--require ${agent}` };
  delete env.SCOPE_RING;
  const child = Bun.spawn(["node", program], { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return { stdout, code };
}

const cacheFiles = (at: string) => readdirSync(at).filter((name) => name.endsWith(".v8cache"));
const expected = { stdout: "worker said function\nworker exit 0\n", code: 3 };

test("the first main thread writes the cache; later runs use it and leave it as it is", async () => {
  const out = join(dir, "a");
  const agent = await bundleAgent("nodeAgent", out);
  expect(cacheFiles(out)).toEqual([]);
  expect(await run(agent)).toEqual(expected);
  const [cache] = cacheFiles(out);
  expect(cache).toMatch(/^node\.cjs\..+\.v8cache$/);
  const written = readFileSync(join(out, cache!));
  const { mtimeMs } = statSync(join(out, cache!));
  expect(written.length).toBeGreaterThan(10_000);
  expect(await run(agent)).toEqual(expected);
  // Accepted by V8: not rewritten (a rejected cache is replaced by the main thread).
  expect(statSync(join(out, cache!)).mtimeMs).toBe(mtimeMs);
  expect(readdirSync(out).filter((name) => name.endsWith(".tmp"))).toEqual([]);
}, 120_000);

test("a cache that is not V8's: the program runs the same and the cache is replaced", async () => {
  const out = join(dir, "b");
  const agent = await bundleAgent("nodeAgent", out);
  expect(await run(agent)).toEqual(expected);
  const [cache] = cacheFiles(out);
  const good = readFileSync(join(out, cache!));
  writeFileSync(join(out, cache!), Buffer.alloc(good.length, 7));
  expect(await run(agent)).toEqual(expected);
  expect(readFileSync(join(out, cache!)).equals(Buffer.alloc(good.length, 7))).toBe(false);
}, 120_000);

test("a cache that cannot be read or written (a directory in its place): the program runs the same, nothing left behind", async () => {
  const out = join(dir, "c");
  const agent = await bundleAgent("nodeAgent", out);
  const v8 = Bun.spawnSync(["node", "-p", "process.versions.v8 + '-' + process.arch"]).stdout.toString().trim();
  mkdirSync(join(out, `node.cjs.${v8}.v8cache`));
  expect(await run(agent)).toEqual(expected);
  expect(readdirSync(out).sort()).toEqual(["node-bundle.cjs", "node-extras.cjs", "node-walk.cjs", "node.cjs", `node.cjs.${v8}.v8cache`]);
  expect(statSync(join(out, `node.cjs.${v8}.v8cache`)).isDirectory()).toBe(true);
}, 120_000);

test("node.cjs is only the loader: the bundle is read from node-bundle.cjs beside it, and without that file the program runs the same, untraced", async () => {
  const out = join(dir, "d");
  const agent = await bundleAgent("nodeAgent", out);
  // Node's CommonJS loader reads and compiles node.cjs in every thread: the bundle must not be in it.
  expect(statSync(agent).size).toBeLessThan(8_000);
  expect(statSync(join(out, "node-bundle.cjs")).size).toBeGreaterThan(50_000);
  expect(readFileSync(join(out, "node-bundle.cjs"), "latin1")).toMatch(/^\(function \(exports, require, module, __filename, __dirname, __scopeLoaded\) \{/);
  expect(await run(agent)).toEqual(expected);
  expect(cacheFiles(out).length).toBe(1);
  rmSync(join(out, "node-bundle.cjs"));
  const env: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: `--require ${agent}` };
  delete env.SCOPE_RING;
  const child = Bun.spawn(["node", program], { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ stdout, code }).toEqual(expected);
  expect(stderr).toBe("");
}, 120_000);

test("under scope run the first worker to end rewrites the cache once, with what it compiled too; every event is still recorded", async () => {
  // scope run bundles its own agent: the program lists the cache files next to it after each worker.
  const listing = join(dir, "listing.cjs");
  writeFileSync(
    listing,
    `const { Worker, isMainThread, parentPort } = require("node:worker_threads");
const fs = require("node:fs"), path = require("node:path");
if (isMainThread) {
  const agent = /--require "?([^ "]+node\\.cjs)/.exec(process.env.NODE_OPTIONS)[1];
  const at = path.dirname(agent);
  const sizes = [];
  const show = () => sizes.push(fs.readdirSync(at).filter((name) => name.startsWith("node.cjs.")).sort().map((name) => name.replace(/^node\\.cjs\\..*\\.v8cache/, "v8cache") + " " + fs.statSync(path.join(at, name)).size));
  let started = 0;
  const next = () => {
    show();
    if (started++ < 3) {
      const worker = new Worker(__filename);
      worker.once("message", () => {});
      worker.postMessage({ n: started });
      worker.once("exit", next);
    } else console.log(JSON.stringify(sizes));
  };
  next();
} else parentPort.once("message", (m) => parentPort.postMessage(m));
`,
  );
  const traced = await runTraced(["node", listing]);
  expect(traced.status, traced.stderr).toBe(0);
  const sizes = JSON.parse(traced.stdout) as string[][];
  const size = (entry: string) => Number(entry.split(" ")[1]);
  // Before any worker: the main thread's cache alone.
  expect(sizes[0]!.length).toBe(1);
  expect(sizes[0]![0]).toMatch(/^v8cache \d+$/);
  // After the first: rewritten larger (the worker's start, message and exit paths), marked done.
  expect(sizes[1]!.map((entry) => entry.split(" ")[0])).toEqual(["v8cache", "v8cache.workers"]);
  expect(size(sizes[1]![0]!)).toBeGreaterThan(size(sizes[0]![0]!));
  // The later workers leave it as it is.
  expect(sizes[2]).toEqual(sizes[1]);
  expect(sizes[3]).toEqual(sizes[1]);
  const kinds = (kind: string) => traced.events.filter((event) => event.kind === kind).length;
  expect([kinds("thread_spawn"), kinds("thread_exit"), kinds("thread_exited"), kinds("message_send"), kinds("message_receive"), kinds("trace_stop")]).toEqual([3, 3, 3, 6, 6, 4]);
  expect(traced.end.dropped).toBe(0);
}, 120_000);

test("under scope run the bundle and its cache come from scope.node, read once per process: a worker started after the files changed on disk is traced the same", async () => {
  // The main thread spoils both files before its first worker starts: a worker that read them
  // again would run untraced (no bundle) or compile from a rejected cache.
  const spoiler = join(dir, "spoiler.cjs");
  writeFileSync(
    spoiler,
    `const { Worker, isMainThread, parentPort } = require("node:worker_threads");
const fs = require("node:fs"), path = require("node:path");
if (isMainThread) {
  const agent = /--require "?([^ "]+node\\.cjs)/.exec(process.env.NODE_OPTIONS)[1];
  const at = path.dirname(agent);
  fs.writeFileSync(path.join(at, "node-bundle.cjs"), "throw new Error('read again')");
  for (const name of fs.readdirSync(at)) if (name.endsWith(".v8cache")) fs.writeFileSync(path.join(at, name), Buffer.alloc(64, 7));
  let started = 0;
  const next = () => {
    if (started++ === 2) return;
    const worker = new Worker(__filename);
    worker.once("message", (m) => console.log("echo", m.n));
    worker.postMessage({ n: started });
    worker.once("exit", next);
  };
  next();
} else parentPort.once("message", (m) => parentPort.postMessage(m));
`,
  );
  const traced = await runTraced(["node", spoiler]);
  expect(traced.status, traced.stderr).toBe(0);
  expect(traced.stdout).toBe("echo 1\necho 2\n");
  const kinds = (kind: string) => traced.events.filter((event) => event.kind === kind).length;
  expect([kinds("trace_start"), kinds("thread_spawn"), kinds("thread_exit"), kinds("message_send"), kinds("message_receive"), kinds("trace_stop")]).toEqual([3, 2, 2, 4, 4, 3]);
  expect(traced.events.filter((event) => event.kind === "trace_stop").map((event) => event.fields.agentErrors)).toEqual([0, 0, 0]);
}, 120_000);

test("scope.node's sharedFile: one copy per process, as an ArrayBuffer or a latin1 string; shareFile replaces it", () => {
  const file = join(dir, "shared.bin");
  writeFileSync(file, Buffer.from([0x61, 0x62, 0xe9, 0x00, 0x7a]));
  const addon = join(import.meta.dir, "..", "zig-out/lib/scope.node");
  const script = `
const holder = { exports: {} };
process.dlopen(holder, ${JSON.stringify(addon)});
const a = holder.exports, fs = require("node:fs"), file = ${JSON.stringify(file)};
const out = [];
const first = a.sharedFile(file);
out.push(first instanceof ArrayBuffer, [...new Uint8Array(first)].join(","));
out.push(JSON.stringify(a.sharedFile(file, true)) === JSON.stringify("ab\\u00e9\\u0000z"));
fs.writeFileSync(file, "changed");
out.push([...new Uint8Array(a.sharedFile(file))].join(","));
out.push(a.shareFile(file, Buffer.from("new")), Buffer.from(a.sharedFile(file)).toString());
out.push(a.sharedFile(file + ".missing") === undefined, a.sharedFile("") === undefined, a.sharedFile(file + ".missing", true) === undefined);
fs.writeFileSync(file + ".later", "x");
out.push(Buffer.from(a.sharedFile(file + ".later")).toString());
console.log(JSON.stringify(out));
`;
  const result = Bun.spawnSync(["node", "-e", script]);
  expect(result.stderr.toString()).toBe("");
  expect(JSON.parse(result.stdout.toString())).toEqual([true, "97,98,233,0,122", true, "97,98,233,0,122", true, "new", true, true, true, "x"]);
});
