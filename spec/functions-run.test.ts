/**
 * `scope run --functions` end to end: the real agent, ring and trace file. The program's
 * own functions appear as function_table/call/return/throw/settle events, in order with
 * the runtime events of the same thread, and the program's output is unchanged.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, fixtures, ofKind, runTraced, runUntraced, scratchDir, type Traced } from "./agent-harness";
import { runCli } from "./harness";

// A transform cache of this file's own, not the user's.
const env = { XDG_CACHE_HOME: join(scratchDir(), "cache") };

afterAll(cleanup);

const cjsApp = join(fixtures, "functions-cjs/app.cjs");
const esmApp = join(fixtures, "functions-esm/app.mjs");
/** functions-esm's main thread, the same under Node and Bun. */
const esmMainTimeline = [
  "trace_start",
  "table greet functions-esm/lib.mjs:1:8",
  "call greet",
  "return greet",
  "table later functions-esm/app.mjs:6:1",
  "table <anonymous> functions-esm/app.mjs:14:22",
  "listener <anonymous>",
  "call later",
  "settle later",
  "thread_spawn",
  "message_receive",
  "call <anonymous>",
  "return <anonymous>",
  "thread_exited",
  "process_exit",
  "trace_stop",
];

/** One line per event of one thread: its kind and, for function events, the function. */
function timeline(events: TraceEvent[], pid: number, tid: number): string[] {
  return events
    .filter((e) => e.pid === pid && e.tid === tid && e.kind !== "function_selection")
    .map((e) => {
      const f = e.fields as Record<string, unknown>;
      if (e.kind === "function_table") return `table ${f.name} ${String(f.file).slice(fixtures.length + 1)}:${f.line}:${f.column}`;
      if (typeof f.function === "string") return `${e.kind.slice("function_".length)} ${String(f.function).split(" ")[0]}`;
      return e.kind;
    });
}

function mainPid(run: Traced): number {
  return ofKind(run.events, "trace_start").find((e) => (e.fields as { mainThread: boolean }).mainThread)!.pid;
}

function expectClean(run: Traced): void {
  expect({ dropped: run.end.dropped, agentErrors: ofKind(run.events, "agent_error").length }).toEqual({ dropped: 0, agentErrors: 0 });
  for (const stop of ofKind(run.events, "trace_stop")) expect(stop.fields).toEqual({ agentErrors: 0, unrecorded: 0 });
}

describe("node", () => {
  test("CommonJS with a worker: tables, calls, returns and a throw, in order with the runtime events", async () => {
    const [run, plain] = await Promise.all([runTraced(["node", cjsApp], { scopeArgs: ["--functions"], env }), runUntraced(["node", cjsApp])]);
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: "" });
    expect(plain.stdout).toBe("main: square(3) = 9\nmain: caught RangeError: too big\nmain: worker says 42\n");
    expectClean(run);
    const pid = mainPid(run);
    expect(timeline(run.events, pid, 0)).toEqual([
      "trace_start",
      "table square functions-cjs/app.cjs:6:1",
      "table fails functions-cjs/app.cjs:10:1",
      "table main functions-cjs/app.cjs:14:1",
      "table <anonymous> functions-cjs/app.cjs:22:24",
      "listener <anonymous>",
      "call main",
      "call square",
      "return square",
      "call fails",
      "throw fails",
      "thread_spawn",
      "return main",
      "message_receive",
      "call <anonymous>",
      "return <anonymous>",
      "thread_exited",
      "process_exit",
      "trace_stop",
    ]);
    const workerTid = (ofKind(run.events, "thread_spawn")[0]!.fields as { threadId: number }).threadId;
    expect(timeline(run.events, pid, workerTid)).toEqual(["trace_start", "table double functions-cjs/worker.cjs:3:1", "call double", "return double", "message_send", "thread_exit", "trace_stop"]);
    // The message's send (through the ordered sink's scratch commit) with its size and
    // preview, paired with the receive, which shows the same.
    const [send] = ofKind(run.events, "message_send");
    const [receive] = ofKind(run.events, "message_receive");
    expect({ send: send!.fields, linked: send!.linkedTo, handled: receive!.fields.handledBy !== undefined }).toEqual({
      send: { ordinal: 0, channel: "worker", direction: 1, channelSubId: workerTid, channelOwnerPid: pid, sizeBytes: 2, preview: "42" },
      linked: [receive!.index],
      handled: true,
    });
    expect({ sizeBytes: receive!.fields.sizeBytes, preview: receive!.fields.preview }).toEqual({ sizeBytes: 2, preview: "42" });
    const [square] = ofKind(run.events, "function_call").filter((e) => String((e.fields as { function: string }).function).startsWith("square"));
    expect(square!.fields).toEqual({ function: `square (${cjsApp}:6:1)`, call: 2, args: "[3]" });
    const [thrown] = ofKind(run.events, "function_throw");
    expect(thrown!.fields).toEqual({ function: `fails (${cjsApp}:10:1)`, call: 3, errorType: "RangeError", errorMessage: "too big" });
  });

  test("ES modules with an ESM worker: imported, async and worker functions", async () => {
    const [run, plain] = await Promise.all([runTraced(["node", esmApp], { scopeArgs: ["--functions"], env }), runUntraced(["node", esmApp])]);
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: "" });
    expect(plain.stdout).toBe("hello, esm\nlater: 42\nworker says 42\n");
    expectClean(run);
    const pid = mainPid(run);
    expect(timeline(run.events, pid, 0)).toEqual(esmMainTimeline);
    const workerTid = (ofKind(run.events, "thread_spawn")[0]!.fields as { threadId: number }).threadId;
    expect(timeline(run.events, pid, workerTid)).toEqual(["trace_start", "table triple functions-esm/worker.mjs:3:16", "call triple", "return triple", "message_send", "thread_exit", "trace_stop"]);
    expect(ofKind(run.events, "function_settle")[0]!.fields).toEqual({ function: `later (${esmApp}:6:1)`, call: 2, rejected: false, value: "42", errorMessage: null });
  });

  test("--exclude and --level calls: the excluded file is untouched, only entries are recorded", async () => {
    const run = await runTraced(["node", esmApp], { scopeArgs: ["--exclude", "functions-esm/lib.mjs", "--level", "calls"], env });
    expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "hello, esm\nlater: 42\nworker says 42\n" });
    expectClean(run);
    expect(timeline(run.events, mainPid(run), 0).filter((line) => !/^(trace_|thread_|message_|process_)/.test(line))).toEqual([
      "table later functions-esm/app.mjs:6:1",
      "table <anonymous> functions-esm/app.mjs:14:22",
      "listener <anonymous>",
      "call later",
      "call <anonymous>",
    ]);
  });

  test("require(esm): ES modules a CommonJS program require()s are instrumented once, in the module goal", async () => {
    // Node 20.19+ loads them without a flag: .mjs, .js under "type": "module", and a .js in a
    // package without a type whose ESM syntax Node detects; an ES module's CommonJS import too.
    const app = join(fixtures, "functions-require-esm/app.cjs");
    const [run, plain] = await Promise.all([runTraced(["node", app], { scopeArgs: ["--functions"], env }), runUntraced(["node", app])]);
    expect(plain).toEqual({ status: 0, stdout: "[HELLO]\ntotal: 6\ndetected: 42\n", stderr: "" });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual(plain);
    expectClean(run);
    expect(timeline(run.events, mainPid(run), 0).filter((line) => !/^(trace_|process_)/.test(line))).toEqual([
      "table main functions-require-esm/app.cjs:8:1",
      "call main",
      "table shout functions-require-esm/lib.mjs:3:8",
      "call shout",
      "table pad functions-require-esm/dep.cjs:1:15",
      "call pad",
      "return pad",
      "return shout",
      "table total functions-require-esm/module/tool.js:1:8",
      "table <anonymous> functions-require-esm/module/tool.js:2:24",
      "call total",
      ...Array(3).fill(["call <anonymous>", "return <anonymous>"]).flat(),
      "return total",
      "table twice functions-require-esm/typeless/detect.js:1:8",
      "call twice",
      "return twice",
      "return main",
    ]);
  });

  test("an entry point in ESM syntax without a package type: detected, instrumented once, no warning of ours", async () => {
    const main = join(fixtures, "functions-require-esm/typeless/main.js");
    const [run, plain] = await Promise.all([runTraced(["node", main], { scopeArgs: ["--functions"], env }), runUntraced(["node", main])]);
    // Node's own detection warning names its pid.
    const noPid = (text: string) => text.replace(/\(node:\d+\)/g, "(node)");
    expect(plain.stdout).toBe("typeless main: 8\n");
    expect({ status: run.status, stdout: run.stdout, stderr: noPid(run.stderr) }).toEqual({ status: 0, stdout: plain.stdout, stderr: noPid(plain.stderr) });
    expectClean(run);
    expect(timeline(run.events, mainPid(run), 0).filter((line) => !/^(trace_|process_)/.test(line))).toEqual([
      "table show functions-require-esm/typeless/main.js:5:1",
      "call show",
      "table twice functions-require-esm/typeless/detect.js:1:8",
      "call twice",
      "return twice",
      "return show",
    ]);
  });

  test("--functions=@<file>: the same settings from a JSON file", async () => {
    const settings = join(scratchDir(), "settings.json");
    writeFileSync(settings, JSON.stringify({ exclude: ["functions-esm/lib.mjs"], level: "calls" }, null, 2));
    const run = await runTraced(["node", esmApp], { scopeArgs: [`--functions=@${settings}`], env });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: "hello, esm\nlater: 42\nworker says 42\n", stderr: "" });
    expectClean(run);
    expect(timeline(run.events, mainPid(run), 0).filter((line) => !/^(trace_|thread_|message_|process_)/.test(line))).toEqual([
      "table later functions-esm/app.mjs:6:1",
      "table <anonymous> functions-esm/app.mjs:14:22",
      "listener <anonymous>",
      "call later",
      "call <anonymous>",
    ]);
  });

  test("without --functions nothing is instrumented", async () => {
    const run = await runTraced(["node", cjsApp]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.events.filter((e) => e.kind.startsWith("function_"))).toEqual([]);
  });
});

test("bun: the Bun plugin instruments the program's modules", async () => {
  const run = await runTraced([process.execPath, esmApp], { scopeArgs: ["--functions={\"include\":[\"functions-esm/**\"]}"], env });
  expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: "hello, esm\nlater: 42\nworker says 42\n", stderr: "" });
  expectClean(run);
  expect(timeline(run.events, mainPid(run), 0)).toEqual(esmMainTimeline);
});

describe("usage errors are one line", () => {
  test.each([
    ["--functions=nonsense", "--functions: expected JSON settings"],
    ['--functions={"levels":"full"}', '--functions: unknown setting "levels"'],
    ['--functions={"level":"loud"}', '--functions: "level" must be one of off, calls, full'],
    ["--level=loud", "--level"],
    // An empty pattern was taken, and the summary then said it matched nothing.
    ["--include=", "--include: an empty pattern matches nothing; give a glob, e.g. --include 'src/**'"],
    ["--function=", "--function: an empty pattern matches nothing"],
    ['--functions={"exclude":[""]}', '--functions: "exclude": an empty pattern matches nothing'],
  ])("%s", async (flag, message) => {
    const result = await runCli(["run", flag, "--out", "/tmp/never.bin", "--", "node", cjsApp]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(message);
    expect(result.stdout).not.toContain("main:");
  });
});

describe("--functions=@<file>: a missing or invalid file is one line, exit 1, the program not started", () => {
  const dir = join(scratchDir(), "settings-files");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "broken.json"), '{"include": [');
  writeFileSync(join(dir, "unknown.json"), '{"levels": "full"}');
  writeFileSync(join(dir, "wrong.json"), '{"include": "src/**"}');
  test.each([
    ["a missing file", "@missing.json", `scope: --functions: cannot read settings file ${join(dir, "missing.json")} (no such file)`],
    ["a directory", "@.", `scope: --functions: cannot read settings file ${dir} (is a directory)`],
    ["no file named", "@", "scope: --functions: expected a settings file after @, e.g. --functions=@scope.json"],
    ["not JSON", "@broken.json", `scope: --functions: ${join(dir, "broken.json")}: expected JSON settings`],
    ["an unknown setting", "@unknown.json", `scope: --functions: ${join(dir, "unknown.json")}: unknown setting "levels"`],
    ["a setting of the wrong type", `@${join(dir, "wrong.json")}`, `scope: --functions: ${join(dir, "wrong.json")}: "include" must be an array of strings`],
  ])("%s", async (_name, value, message) => {
    const result = await runCli(["run", `--functions=${value}`, "--out", join(dir, "never.bin"), "--", "node", cjsApp], { cwd: dir });
    expect({ exitCode: result.exitCode, stdout: result.stdout }).toEqual({ exitCode: 1, stdout: "" });
    expect(result.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(result.stderr.startsWith(message)).toBe(true);
  });
});

describe("stack traces", () => {
  const app = join(fixtures, "functions-stack/stack.cjs");

  test("default: source maps on, every frame at its original line and column", async () => {
    const [run, plain] = await Promise.all([runTraced(["node", app], { scopeArgs: ["--functions", "--level", "full"], env }), runUntraced(["node", app])]);
    const positions = (text: string) => text.match(/stack\.cjs:\d+:\d+/g);
    expect(positions(plain.stdout)).toEqual(["stack.cjs:5:25", "stack.cjs:4:15", "stack.cjs:10:10", "stack.cjs:13:3"]);
    expect(positions(run.stdout)).toEqual(positions(plain.stdout));
  });

  test('sourceMaps: false: error.stack exactly as untraced (V8\'s own format) where no insertion shifts a column', async () => {
    const [run, plain] = await Promise.all([
      runTraced(["node", app], { scopeArgs: ['--functions={"sourceMaps":false}', "--level", "calls"], env }),
      runUntraced(["node", app]),
    ]);
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual(plain);
    expect(ofKind(run.events, "function_call").map((e) => String(e.fields.function).split(" ")[0])).toEqual(["outer", "inner", "<anonymous>", "<anonymous>", "<anonymous>"]);
  });
});
