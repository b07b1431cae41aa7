/** Shared helpers for the test suite: paths and running real processes. */
import { join } from "node:path";
import { interpret, type TraceEvent } from "../src/core/model";
import { loadTrace } from "../src/dump/load";

export const repoRoot = join(import.meta.dir, "..");
export const cliEntry = join(repoRoot, "src/cli/main.ts");

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from source with Bun; returns exit code and both streams. */
export async function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const child = Bun.spawn([process.execPath, cliEntry, ...args], {
    cwd: opts.cwd ?? repoRoot,
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { exitCode, stdout, stderr };
}

/** Decodes and interprets a whole trace file (throws if it is damaged). */
export function readEvents(path: string): TraceEvent[] {
  const trace = loadTrace(path);
  if (trace.error) throw new Error(`${path}: ${trace.error.reason} at byte ${trace.error.offset}`);
  return interpret(trace.records, trace.strings);
}
