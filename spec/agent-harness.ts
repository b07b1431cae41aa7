/**
 * Runs fixtures the way a user does: under `scope run` (spec/harness.ts runCli) with
 * the real scope.node / libscope.so and the shared ring, then reads back the real trace
 * file. Also runs the same command untraced, to compare what the program did.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { interpret } from "../src/core/model";
import { loadTrace } from "../src/dump/load";
import { runCli } from "./harness";

export const fixtures = join(import.meta.dir, "fixtures");

/**
 * The start of a generated worker program that looks into the agent's directory: the
 * worker_threads names, fs and path, and `at`, the directory of the node.cjs that
 * NODE_OPTIONS preloads.
 */
export const WORKER_PROGRAM_START = `const { Worker, isMainThread, parentPort } = require("node:worker_threads");
const fs = require("node:fs"), path = require("node:path");
const at = path.dirname(/--require "?([^ "]+node\\.cjs)/.exec(process.env.NODE_OPTIONS)[1]);`;

let scratch: string | undefined;

/** A directory for this test file's traces, removed by cleanup(). */
export function scratchDir(): string {
  scratch ??= mkdtempSync(join(tmpdir(), "scope-e2e-"));
  return scratch;
}

export function cleanup(): void {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

export interface Outcome {
  /** As a shell reports it: the exit code, or 128 + signal number. */
  status: number;
  stdout: string;
  stderr: string;
}

/** Environment without any preload of an outer scope or of the test runner. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && name !== "NODE_OPTIONS" && name !== "BUN_OPTIONS" && !name.startsWith("SCOPE_")) env[name] = value;
  }
  return { ...env, ...extra };
}

/** The fixture run without scope, for comparison. */
export async function runUntraced(argv: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<Outcome> {
  const child = Bun.spawn(argv, { cwd: opts.cwd ?? fixtures, env: cleanEnv(opts.env), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  const signal = child.signalCode ? (constants.signals as Record<string, number>)[child.signalCode]! : 0;
  return { status: signal ? 128 + signal : child.exitCode!, stdout, stderr };
}

export interface Traced extends Outcome {
  out: string;
  /** scope's own summary (the last lines of stderr), split from the program's stderr. */
  summary: string;
  events: TraceEvent[];
  end: { written: number; dropped: number; overwritten: number; recorded?: number };
}

let runs = 0;

/** `scope run [scopeArgs] --out <tmp> -- argv`, and the decoded trace. */
export async function runTraced(
  argv: string[],
  opts: { scopeArgs?: string[]; env?: Record<string, string>; cwd?: string } = {},
): Promise<Traced> {
  const out = join(scratchDir(), `trace-${process.pid}-${runs++}.bin`);
  const result = await runCli(["run", ...(opts.scopeArgs ?? []), "--out", out, "--", ...argv], { cwd: opts.cwd ?? fixtures, env: cleanEnv(opts.env) });
  const at = result.stderr.lastIndexOf("scope: ");
  const cut = at > 0 && result.stderr[at - 1] !== "\n" ? -1 : at;
  const trace = loadTrace(out);
  if (trace.error) throw new Error(`${out}: ${trace.error.reason} at byte ${trace.error.offset}; stderr: ${result.stderr}`);
  if (!trace.end) throw new Error(`${out}: no end chunk; stderr: ${result.stderr}`);
  const end = Object.fromEntries(Object.entries(trace.end).map(([key, value]) => [key, Number(value)])) as Traced["end"];
  return {
    status: result.exitCode,
    stdout: result.stdout,
    stderr: cut >= 0 ? result.stderr.slice(0, cut) : result.stderr,
    summary: cut >= 0 ? result.stderr.slice(cut) : "",
    out,
    events: interpret(trace.records, trace.strings),
    end,
  };
}

/** Events of one kind, optionally of one process/thread. */
export function ofKind(events: TraceEvent[], kind: string, where: Partial<{ pid: number; tid: number }> = {}): TraceEvent[] {
  return events.filter((e) => e.kind === kind && (where.pid === undefined || e.pid === where.pid) && (where.tid === undefined || e.tid === where.tid));
}

/** Every send linked to exactly one receive and every receive to one send. */
export function pairing(events: TraceEvent[]): { sends: number; receives: number; unpairedSends: TraceEvent[]; unpairedReceives: TraceEvent[]; multiply: TraceEvent[] } {
  const sends = ofKind(events, "message_send");
  const receives = ofKind(events, "message_receive");
  return {
    sends: sends.length,
    receives: receives.length,
    unpairedSends: sends.filter((e) => e.linkedTo.length === 0),
    unpairedReceives: receives.filter((e) => e.linkedTo.length === 0),
    multiply: [...sends, ...receives].filter((e) => e.linkedTo.length > 1 && e.fields.channel !== "broadcast"),
  };
}
