/** The one executable: copied alone to another directory it extracts what it needs and works. */
import { beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./harness";
import { scratchDirs } from "./scratch";

const built = join(repoRoot, "dist/scope");
const tmp = scratchDirs("scope-compiled-");
let dir: string;
let env: Record<string, string>;

async function scope(args: string[], extraEnv: Record<string, string> = {}) {
  const child = Bun.spawn([join(dir, "scope"), ...args], { cwd: dir, env: { ...env, ...extraEnv }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, exitCode };
}

async function events(trace: string): Promise<Record<string, unknown>[]> {
  const dump = await scope(["dump", "--json", trace]);
  expect(dump.exitCode, dump.stderr).toBe(0);
  return dump.stdout.trim().split("\n").map((line) => JSON.parse(line));
}

/** "name (file:line:column)" → "file:name" for every function_call, in order per thread. */
function calls(list: Record<string, unknown>[]): string[] {
  return list
    .filter((event) => event.kind === "function_call")
    .map((event) => {
      const match = /^(.*) \((?:.*\/)?([^/]+):\d+:\d+\)$/.exec(String(event.function))!;
      return `t${event.tid} ${match[2]}:${match[1]}`;
    });
}

/** A TypeScript program for Bun (types, a class with parameter properties, a worker). */
const tsProgram: Record<string, string> = {
  "shapes.ts": `export interface Shape { area(): number }
export class Rect implements Shape {
  constructor(private w: number, private h: number) {}
  area(): number { return this.w * this.h; }
}
export function total(shapes: Shape[]): number { return shapes.reduce((sum: number, s: Shape) => sum + s.area(), 0); }
`,
  "worker.ts": `import { Rect } from "./shapes.ts";
declare var self: Worker;
function inWorker(n: number): number { return new Rect(n, n).area(); }
self.onmessage = (event: MessageEvent<number>) => { postMessage(inWorker(event.data)); };
`,
  "app.ts": `import { Rect, total } from "./shapes.ts";
const sum: number = total([new Rect(1, 2), new Rect(3, 4)]);
console.log(\`total \${sum}\`);
const worker = new Worker(new URL("./worker.ts", import.meta.url));
worker.onmessage = (event: MessageEvent<number>) => { console.log(\`worker \${event.data}\`); worker.terminate(); };
worker.postMessage(5);
`,
};

const tsCalls = [
  "t0 shapes.ts:Rect.constructor", "t0 shapes.ts:Rect.constructor", "t0 shapes.ts:total",
  "t0 shapes.ts:<anonymous>", "t0 shapes.ts:Rect.area", "t0 shapes.ts:<anonymous>", "t0 shapes.ts:Rect.area",
  "t0 app.ts:worker.onmessage",
  "t1 worker.ts:self.onmessage", "t1 worker.ts:inWorker", "t1 shapes.ts:Rect.constructor", "t1 shapes.ts:Rect.area",
];

function writeProgram(into: string): void {
  mkdirSync(into, { recursive: true });
  for (const [name, text] of Object.entries(tsProgram)) writeFileSync(join(into, name), text);
}

beforeAll(() => {
  if (!existsSync(built)) throw new Error("dist/scope is not built: run `bun run build` (scripts/test.sh does)");
  dir = tmp();
  copyFileSync(built, join(dir, "scope"));
  // No repo, no zig-out, no SCOPE_* overrides: only what the executable carries.
  env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, XDG_CACHE_HOME: join(dir, "cache"), NO_COLOR: "1" };
});

describe("dist/scope", () => {
  test("doctor passes and the cache directory is private", async () => {
    const result = await scope(["doctor"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain("ok    ring:");
    expect(result.stdout).toContain("ok    node:");
    expect(statSync(join(dir, "cache/scope")).mode & 0o777).toBe(0o700);
  });

  test("an unusable cache directory (where the agents are extracted): one line and exit 1, or --fail-open runs the program untraced", async () => {
    const notADirectory = join(dir, "cache-file");
    writeFileSync(notADirectory, "");
    const program = ["node", "-e", "console.log('ran'); process.exitCode = 3"];
    const refused = await scope(["run", "--out", "refused.bin", "--", ...program], { XDG_CACHE_HOME: notADirectory });
    expect(refused.exitCode).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^scope: error: cannot trace: .*not a directory.* \(--fail-open runs the program untraced instead\)$/)]);
    const open = await scope(["run", "--fail-open", "--out", "open.bin", "--", ...program], { XDG_CACHE_HOME: notADirectory });
    expect(open.exitCode).toBe(3);
    expect(open.stdout).toBe("ran\n");
    expect(open.stderr).toMatch(/^scope: cannot trace \(.*not a directory.*\); --fail-open: the program runs untraced, no trace is written\n$/);
  });

  test("a project's bunfig.toml and .env in the working directory are not scope's: no preload in scope, no variable for the program", async () => {
    const project = join(dir, "bun-project");
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
    writeFileSync(join(project, "preload.ts"), 'console.log("project preload ran");\n');
    writeFileSync(join(project, ".env"), "SCOPE_SPEC_DOTENV=from-dotenv\n");
    const child = Bun.spawn([join(dir, "scope"), "run", "--out", "t.bin", "--", "node", "-e", "console.log(process.env.SCOPE_SPEC_DOTENV ?? 'unset')"], { cwd: project, env, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect(exitCode, stderr).toBe(0);
    expect(stdout).toBe("unset\n");
  });

  test("traces the bundled example and decodes it", async () => {
    const run = await scope(["run", "--out", "t.bin", "--", "node", join(repoRoot, "examples/hello/app.js")]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toBe("worker: 2² = 4\nworker: 3² = 9\nchild: hello, parent\ndone\n");
    const dump = await scope(["dump", "--json", "t.bin"]);
    expect(dump.exitCode, dump.stderr).toBe(0);
    const events = dump.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const count = (kind: string) => events.filter((event) => event.kind === kind).length;
    expect([count("trace_start"), count("message_send"), count("message_receive"), count("process_spawn")]).toEqual([3, 6, 6, 1]);
    for (const event of events.filter((e) => e.kind === "message_receive")) expect(event.linkedTo).toHaveLength(1);
    // The collector's own marker (how the top process ended) is not counted as a traced process.
    expect((await scope(["dump", "--stats", "t.bin"])).stdout).toContain(", 2 processes, 3 threads\n");
    // scope query: bun:sqlite inside the executable; the messages paired as the dump has them.
    const query = await scope(["query", "--json", "t.bin", "SELECT count(*) AS sent, count(receive_event) AS received FROM messages"]);
    expect([query.exitCode, query.stdout], query.stderr).toEqual([0, '{"sent":6,"received":6}\n']);
  });

  test("HTTP and routes from the agent's second chunk (node-extras.cjs, embedded and extracted beside node.cjs)", async () => {
    const run = await scope(["run", "--out", "h.bin", "--", "node", join(repoRoot, "spec/fixtures/web/express.cjs")]);
    expect(run.exitCode, run.stderr).toBe(0);
    const list = await events("h.bin");
    const count = (kind: string) => list.filter((event) => event.kind === kind).length;
    expect(count("http_server_request")).toBeGreaterThan(0);
    expect(count("http_route")).toBeGreaterThan(0);
    expect(count("agent_error")).toBe(0);
  });

  test("export: Perfetto (the embedded .proto schema) and OTLP (the OpenTelemetry serializers) from the one executable", async () => {
    const run = await scope(["run", "--out", "e.bin", "--", "node", join(repoRoot, "examples/hello/app.js")]);
    expect(run.exitCode, run.stderr).toBe(0);
    const perfetto = await scope(["export", "--perfetto", "e.bin", "-o", "e.pftrace"]);
    expect(perfetto.stderr).toMatch(/^scope: e\.pftrace: \d+ tracks, \d+ slices, \d+ instants, 6 flows, 0 counter values\n$/);
    expect(perfetto.exitCode, perfetto.stderr).toBe(0);
    // Trace.packet (field 1, length-delimited) first: a Perfetto trace.
    expect(readFileSync(join(dir, "e.pftrace"))[0]).toBe(0x0a);
    const otlp = await scope(["export", "--otlp", "e.json", "e.bin"]);
    // 14: the worker's and the forked child's spans (spawn to exit) with the messages.
    expect(otlp.stderr).toBe("scope: e.json: 14 spans (OTLP json)\n");
    expect(otlp.exitCode, otlp.stderr).toBe(0);
    const kinds = JSON.parse(readFileSync(join(dir, "e.json"), "utf8")).resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans.map((span: any) => span.kind)));
    expect(kinds.sort()).toEqual([1, 1, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5]);
  });

  test("view: the page and its script are embedded (no repo, no network), the trace served behind the token", async () => {
    const run = await scope(["run", "--out", "v.bin", "--", "node", join(repoRoot, "examples/hello/app.js")]);
    expect(run.exitCode, run.stderr).toBe(0);
    const child = Bun.spawn([join(dir, "scope"), "view", "--no-open", "v.bin"], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
    try {
      const reader = child.stdout.getReader();
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      const url = /http:\/\/127\.0\.0\.1:\d+\/[\w-]+\//.exec(out)?.[0];
      expect(url).toBeDefined();
      expect(await (await fetch(url!)).text()).toContain('src="app.js"');
      expect((await (await fetch(`${url}app.js`)).text()).length).toBeGreaterThan(10_000);
      expect((await (await fetch(`${url}style.css`)).text()).length).toBeGreaterThan(500);
      const meta = (await (await fetch(`${url}api/meta`)).json()) as { tracks: unknown[] };
      expect(meta.tracks.length).toBeGreaterThanOrEqual(3);
    } finally {
      child.kill("SIGINT");
    }
    expect(await child.exited).toBe(0);
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

  test("--functions follows the program's NODE_ENV, not the build's: production's default level is calls (no returns)", async () => {
    const app = join(repoRoot, "spec/fixtures/functions-esm/app.mjs");
    for (const [nodeEnv, returns] of [["production", false], ["development", true]] as const) {
      const run = await scope(["run", "--functions", "--out", `env-${nodeEnv}.bin`, "--", "node", app], { NODE_ENV: nodeEnv });
      expect({ nodeEnv, exitCode: run.exitCode }).toEqual({ nodeEnv, exitCode: 0 });
      const kinds = (await events(`env-${nodeEnv}.bin`)).map((event) => event.kind);
      expect({ nodeEnv, calls: kinds.includes("function_call"), returns: kinds.includes("function_return") }).toEqual({ nodeEnv, calls: true, returns });
    }
  });

  test("--functions on TypeScript under Bun: the embedded oxc-parser binding parses the program's .ts files, workers too", async () => {
    writeProgram(join(dir, "ts"));
    const run = await scope(["run", "--functions", "--out", "ts.bin", "--", process.execPath, join(dir, "ts/app.ts")]);
    expect({ exitCode: run.exitCode, stdout: run.stdout }).toEqual({ exitCode: 0, stdout: "total 14\nworker 25\n" });
    expect(run.stderr).not.toContain("not instrumented");
    const list = await events("ts.bin");
    expect(calls(list).sort()).toEqual([...tsCalls].sort());
    // Extracted next to the other assets.
    expect(readdirSync(join(dir, "cache/scope")).some((name) => existsSync(join(dir, "cache/scope", name, "oxc-parser.node")))).toBe(true);
  });

  test("--functions on a .ts file Node loads as CommonJS: the functions agent opens the binding in node", async () => {
    mkdirSync(join(dir, "node-ts"), { recursive: true });
    // Node 20 runs an unknown extension as JavaScript: a type-free .ts file still goes through oxc-parser.
    writeFileSync(join(dir, "node-ts/lib.ts"), "function square(n) { return n * n; }\nmodule.exports = { square };\n");
    writeFileSync(join(dir, "node-ts/main.cjs"), 'const { square } = require("./lib.ts");\nconsole.log(square(7));\n');
    const run = await scope(["run", "--functions", "--out", "node-ts.bin", "--", "node", join(dir, "node-ts/main.cjs")]);
    expect({ exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr }).toEqual({ exitCode: 0, stdout: "49\n", stderr: expect.not.stringContaining("not instrumented") });
    expect(calls(await events("node-ts.bin"))).toEqual(["t0 lib.ts:square"]);
  });

  test("scope instrument on TypeScript: the CLI loads the extracted binding; the output runs, and traces under --functions", async () => {
    writeProgram(join(dir, "aot-in"));
    const result = await scope(["instrument", join(dir, "aot-in"), "--out", join(dir, "aot-out")]);
    expect({ exitCode: result.exitCode, stderr: result.stderr }).toEqual({ exitCode: 0, stderr: "" });
    expect(result.stdout).toStartWith("scope: 3 files instrumented (");
    for (const name of Object.keys(tsProgram)) expect(readFileSync(join(dir, "aot-out", name), "utf8")).toContain("/*scope:instrumented*/");
    const plain = Bun.spawnSync([process.execPath, join(dir, "aot-out/app.ts")], { env, stdout: "pipe", stderr: "pipe" });
    expect({ exitCode: plain.exitCode, stdout: plain.stdout.toString(), stderr: plain.stderr.toString() }).toEqual({ exitCode: 0, stdout: "total 14\nworker 25\n", stderr: "" });
    const run = await scope(["run", "--functions", "--out", "aot.bin", "--", process.execPath, join(dir, "aot-out/app.ts")]);
    expect({ exitCode: run.exitCode, stdout: run.stdout }).toEqual({ exitCode: 0, stdout: "total 14\nworker 25\n" });
    expect(calls(await events("aot.bin")).sort()).toEqual([...tsCalls].sort());
  });

  // A service account with no writable HOME (HOME=/nonexistent): the line says what the
  // directory is for and what to set; it was "cannot mkdir /nonexistent: permission denied".
  test("a cache directory that cannot be made: one line naming it and XDG_CACHE_HOME", async () => {
    const file = join(dir, "not-a-directory");
    writeFileSync(file, "");
    for (const args of [["doctor"], ["run", "--out", "c.bin", "--", "node", "-e", "0"]]) {
      const result = await scope(args, { XDG_CACHE_HOME: file });
      expect(result.exitCode).toBe(1);
      expect(result.stderr + result.stdout).toContain(`cannot make scope's cache directory ${join(file, "scope")}: not a directory (ENOTDIR); scope unpacks its native library and agent there; set XDG_CACHE_HOME to a directory this user can write`);
    }
  });

  test("without a loadable binding a TypeScript file runs untouched, with one warning line", async () => {
    // Its own cache: extract, then take the binding away (as on a machine where it cannot load).
    const cache = join(dir, "cache-no-oxc");
    expect((await scope(["doctor"], { XDG_CACHE_HOME: cache })).exitCode).toBe(0);
    for (const name of readdirSync(join(cache, "scope"))) rmSync(join(cache, "scope", name, "oxc-parser.node"), { force: true });
    mkdirSync(join(dir, "solo"), { recursive: true });
    writeFileSync(join(dir, "solo/solo.ts"), "function twice(n: number): number { return 2 * n; }\nconsole.log(twice(21));\n");
    const run = await scope(["run", "--functions", "--out", "solo.bin", "--", process.execPath, join(dir, "solo/solo.ts")], { XDG_CACHE_HOME: cache });
    expect({ exitCode: run.exitCode, stdout: run.stdout }).toEqual({ exitCode: 0, stdout: "42\n" });
    const warnings = run.stderr.split("\n").filter((line) => line.includes("not instrumented"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("solo.ts: not instrumented (TypeScript needs oxc-parser, which could not be loaded (");
    expect(calls(await events("solo.bin"))).toEqual([]);
    const aot = await scope(["instrument", join(dir, "solo/solo.ts"), "--out", join(dir, "solo-out")], { XDG_CACHE_HOME: cache });
    expect(aot.exitCode, aot.stderr).toBe(0);
    expect(aot.stderr).toContain("solo.ts: not instrumented (TypeScript needs oxc-parser");
    expect(readFileSync(join(dir, "solo-out/solo.ts"), "utf8")).toBe(readFileSync(join(dir, "solo/solo.ts"), "utf8"));
    // Once the binding is back, the same file is instrumented: a missing parser is never cached.
    for (const name of readdirSync(join(cache, "scope"))) if (!name.startsWith("transforms-")) rmSync(join(cache, "scope", name), { recursive: true, force: true });
    const again = await scope(["run", "--functions", "--out", "solo2.bin", "--", process.execPath, join(dir, "solo/solo.ts")], { XDG_CACHE_HOME: cache });
    expect({ exitCode: again.exitCode, stdout: again.stdout, warned: again.stderr.includes("not instrumented") }).toEqual({ exitCode: 0, stdout: "42\n", warned: false });
    expect(calls(await events("solo2.bin"))).toEqual(["t0 solo.ts:twice"]);
  });
});
