/**
 * A synchronous spawn (execFileSync, spawnSync, execSync; Bun.spawnSync) is recorded when
 * the call returns, after the child's own records: its process_spawn carries the time the
 * call began (Recorder.eventAt), so the parent's spawn comes before the child's trace_start,
 * in Node and in Bun; its child_exit stays at the call's return.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { installedNodes } from "./harness";

afterAll(cleanup);

/** A program that starts a traced node child with each synchronous method, in turn. */
function program(dir: string): string {
  const child = join(dir, "sync-child.cjs");
  writeFileSync(child, `process.stdout.write("child " + process.argv[2] + "\\n");\n`);
  const path = join(dir, "sync-parent.cjs");
  writeFileSync(
    path,
    `const cp = require("node:child_process");
const node = process.argv[2], child = ${JSON.stringify(child)};
function run() {
let out = cp.execFileSync(node, [child, "a"], { encoding: "utf8" });
out += cp.spawnSync(node, [child, "b"], { encoding: "utf8" }).stdout;
out += cp.execSync(JSON.stringify(node) + " " + JSON.stringify(child) + " c", { encoding: "utf8" });
if (typeof Bun !== "undefined") out += Bun.spawnSync([node, child, "d"]).stdout.toString();
process.stdout.write(out);
}
run();
`,
  );
  return path;
}

/** Each process_spawn of the top process against its node's own trace_start and its child_exit. */
function spawnTimes(events: TraceEvent[]): { method: unknown; spawnBeforeStart: boolean; endAfterStart: boolean }[] {
  const top = ofKind(events, "trace_start")[0]!.pid;
  return ofKind(events, "process_spawn", { pid: top }).map((spawn) => {
    const pid = spawn.fields.childPid as number;
    // execSync's child is the shell, which may start node as a child of its own.
    const start = ofKind(events, "trace_start").find((e) => e.pid === pid || e.fields.parentPid === pid);
    const end = ofKind(events, "child_exit", { pid: top }).find((e) => e.fields.childPid === pid);
    if (!start || !end) throw new Error(`child ${pid} (${String(spawn.fields.method)}): no trace_start or child_exit`);
    return { method: spawn.fields.method, spawnBeforeStart: spawn.timestampNs <= start.timestampNs, endAfterStart: end.timestampNs >= start.timestampNs };
  });
}

describe("synchronous spawns at the time their call began", () => {
  test.each(installedNodes)("%s: execFileSync, spawnSync, execSync before their child's start", async (_name, node) => {
    const path = program(scratchDir());
    const argv = [node, path, node];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toBe("child a\nchild b\nchild c\n");
    expect(ofKind(run.events, "agent_error")).toEqual([]);
    expect(spawnTimes(run.events)).toEqual(
      ["execFileSync", "spawnSync", "execSync"].map((method) => ({ method, spawnBeforeStart: true, endAfterStart: true })),
    );
  });

  test.each([
    ["node", "node"],
    ["bun", "node"],
  ])("--functions (the agent's events after the buffered function events): %s", async (runtime, node) => {
    const path = program(scratchDir());
    const run = await runTraced([runtime, path, node], { scopeArgs: ["--functions"] });
    expect(run.status).toBe(0);
    expect(ofKind(run.events, "agent_error")).toEqual([]);
    expect(ofKind(run.events, "function_call").length).toBeGreaterThan(0);
    const times = spawnTimes(run.events);
    expect(times.length).toBe(runtime === "bun" ? 4 : 3);
    expect(times.every((t) => t.spawnBeforeStart && t.endAfterStart)).toBe(true);
  });

  test("Bun: execFileSync, spawnSync, execSync, Bun.spawnSync before their child's start", async () => {
    const path = program(scratchDir());
    const argv = ["bun", path, "node"];
    const run = await runTraced(argv);
    const plain = await runUntraced(argv);
    expect({ stdout: run.stdout, status: run.status }).toEqual({ stdout: plain.stdout, status: plain.status });
    expect(run.stdout).toBe("child a\nchild b\nchild c\nchild d\n");
    expect(ofKind(run.events, "agent_error")).toEqual([]);
    expect(spawnTimes(run.events)).toEqual(
      ["execFileSync", "spawnSync", "execSync", "spawnSync"].map((method) => ({ method, spawnBeforeStart: true, endAfterStart: true })),
    );
  });
});
