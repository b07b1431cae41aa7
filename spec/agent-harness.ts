/**
 * Runs fixtures with the agent preloaded exactly as `scope run` launches them
 * (prepareLaunch), and reads back what the agent recorded. Two sinks: the real ring
 * (through `scope run`, once the native parts exist) and the JSON-lines stand-in for
 * the addon, which needs nothing native.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareLaunch } from "../src/agent/inject";
import { bundleAgent } from "../src/core/assets";
import { interpret, type RawEvent, type TraceEvent } from "../src/core/model";

export const fixtures = join(import.meta.dir, "fixtures");
const jsonlAddon = join(fixtures, "jsonl-addon-fixture.cjs");

let bundled: Promise<{ nodeAgent: string; bunAgent: string; dir: string }> | undefined;

/** Bundles both agents once per test file into a temporary directory. */
export function agents(): Promise<{ nodeAgent: string; bunAgent: string; dir: string }> {
  bundled ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "scope-agent-test-"));
    return { dir, nodeAgent: await bundleAgent("nodeAgent", dir), bunAgent: await bundleAgent("bunAgent", dir) };
  })();
  return bundled;
}

export async function cleanupAgents(): Promise<void> {
  const done = bundled;
  bundled = undefined;
  if (done) rmSync((await done).dir, { recursive: true, force: true });
}

export interface Outcome {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], env: Record<string, string | undefined>, cwd = fixtures): Promise<Outcome> {
  const child = Bun.spawn(argv, { cwd, env: env as Record<string, string>, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  return { exitCode: child.signalCode ? null : child.exitCode, signal: child.signalCode === null ? null : String(child.signalCode), stdout, stderr };
}

/** The fixture run without scope, for comparison. */
export function runUntraced(argv: string[], env: Record<string, string> = {}): Promise<Outcome> {
  const base = { ...process.env, ...env };
  delete base.NODE_OPTIONS;
  delete base.BUN_OPTIONS;
  return run(argv, base);
}

export interface Traced extends Outcome {
  events: TraceEvent[];
}

/** Runs argv with the agent writing JSON lines through the addon stand-in. */
export async function runTracedJsonl(argv: string[], opts: { env?: Record<string, string>; events?: string[] } = {}): Promise<Traced> {
  const { nodeAgent, bunAgent, dir } = await agents();
  const ringPath = join(mkdtempSync(join(dir, "run-")), "records.jsonl");
  const base = { ...process.env, ...opts.env };
  delete base.NODE_OPTIONS;
  delete base.BUN_OPTIONS;
  const launch = prepareLaunch({
    argv,
    env: base,
    ringPath,
    assets: { nodeAgent, bunAgent, addon: jsonlAddon, libscope: "" },
    events: opts.events,
  });
  const outcome = await run(launch.argv, launch.env);
  let text = "";
  try {
    text = readFileSync(ringPath, "utf8");
  } catch {
    // Nothing recorded.
  }
  return { ...outcome, events: decodeJsonl(text) };
}

function decodeJsonl(text: string): TraceEvent[] {
  const raws: RawEvent[] = [];
  const strings = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line) continue;
    const record = JSON.parse(line);
    if (record.str !== undefined) {
      strings.set(`${record.pid}/${record.tid}/${record.str}`, record.s);
      continue;
    }
    const u64 = (x: number) => BigInt.asUintN(64, BigInt(Math.trunc(x)));
    raws.push({
      timestampNs: BigInt(record.t),
      kind: record.kind,
      flags: record.flags,
      pid: record.pid,
      tid: record.tid,
      a: u64(record.a),
      b: u64(record.b),
      c: u64(record.c),
      d: u64(record.d),
      e: u64(record.e),
    });
  }
  return interpret(raws, (pid, tid, id) => strings.get(`${pid}/${tid}/${id}`));
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
