/**
 * One `scope attach <pid>`: check the process (target.ts), create the ring and the
 * collector, open the process's inspector (inspector.ts), load the attach agent into it
 * (src/attach/agent.ts) with the ring's path, close the inspector again, then pass commands
 * to the agent (control file, read by the agent every 100 ms) until Ctrl-C, --duration,
 * `scope detach <pid>` or the process's end; the agent then takes every hook back and the
 * trace is closed.
 */
import chalk, { Chalk } from "chalk";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import type { Writable } from "node:stream";
import { assets } from "../core/assets";
import { AttachEnd, EventKind, StopReason } from "../core/layout";
import { Output } from "../core/output";
import { traceOutProblem } from "../core/trace-out";
import { Collector } from "../run/collector";
import { removeStaleRings } from "../run/stale";
import { formatSummary } from "../run/summary";
import type { AttachOptions as AgentOptions, Command } from "./agent";
import type { FunctionSelection, FunctionsResult } from "./agent-functions";
import { serveControl, type ControlReply, type ControlRequest } from "./control";
import { CdpClient, closeInspector, openInspector, type OpenInspector } from "./inspector";
import { REQUIRE_EXPRESSION } from "./require-expression";
import { inspectTarget, Refusal, type Target } from "./target";
import { attachRunningWorkers } from "./workers-running";
import { counted } from "../core/counted";

export interface AttachSessionOptions {
  pid: number;
  out: string;
  ringBytes: number;
  /** Functions to trace from the start (absolute path globs compiled to RegExp sources, name globs). */
  functions?: FunctionSelection;
  durationMs?: number;
  stderr: Writable;
  colorEnabled: boolean;
  /** Called once attached (tests, the bench): the inspector window and the agent's answer. */
  onAttached?: (info: { windowMs: number | undefined; agent: Record<string, unknown> }) => void;
}

const ACK_TIMEOUT_MS = 30_000;
const PROCESS_POLL_MS = 100;

const endNames: Record<number, string> = {
  [AttachEnd.interrupted]: "interrupted (Ctrl-C)",
  [AttachEnd.duration]: "--duration elapsed",
  [AttachEnd.detachCommand]: "scope detach",
  [AttachEnd.processExited]: "the process ended",
  [AttachEnd.collectorGone]: "scope was gone",
};

export async function attachSession(options: AttachSessionOptions): Promise<number> {
  const stderr = new Output(options.stderr);
  const color = options.colorEnabled ? chalk : new Chalk({ level: 0 });
  const out = resolve(options.out);
  const outProblem = traceOutProblem(out);
  if (outProblem) throw new Refusal(`--out: ${outProblem}`);
  const target = inspectTarget(options.pid);
  const files = await assets();
  removeStaleRings();
  const ringPath = `/dev/shm/scope-${process.pid}-${randomBytes(6).toString("hex")}`;
  const control = `${ringPath}.control`;
  const ack = `${ringPath}.ack`;
  // Batches: function tracing may be added while attached (zig/batches.zig).
  const collector = Collector.start({ ringPath, ringBytes: options.ringBytes, mode: "discard", out, host: hostname(), argv: ["scope", "attach", String(target.pid), ...target.argv], color, batches: true });
  const cleanup = () => {
    rmSync(control, { force: true });
    rmSync(ack, { force: true });
  };
  writeFileSync(control, JSON.stringify({ seq: 0 }), { mode: 0o600 });

  const channel = new AgentChannel(control, ack, target.pid);
  // Ctrl-C while the inspector is open, the agent loads or functions are added: held until the
  // attach is whole (inspector closed, the agent answering), then a detach as usual.
  const held = holdSignals();
  let inspector: OpenInspector | undefined;
  let client: CdpClient | undefined;
  let windowMs: number | undefined;
  let agent: Record<string, unknown>;
  try {
    inspector = await openInspector(target);
    client = await CdpClient.connect(inspector.webSocketUrl);
    const agentOptions: AgentOptions = {
      ring: ringPath,
      addon: files.addon,
      agent: files.attachAgent,
      control,
      ack,
      collectorPid: process.pid,
      inspectorPort: inspector.port,
      openedInspector: inspector.opened,
    };
    const loadIn = (entry: "attach" | "attachWorker", options: AgentOptions) =>
      `new Promise((resolve, reject) => setImmediate(() => { try { ${REQUIRE_EXPRESSION}(${JSON.stringify(files.attachAgent)}).${entry}(${JSON.stringify(options)}).then(resolve, reject); } catch (error) { reject(error); } }))`;
    // The running workers' agents first, over this connection (workers-running.ts); the main thread's is told what they are.
    // Without the command line API where the process can require without it (workers-running.ts).
    const builtinRequire = (await client.evaluate(`typeof process.getBuiltinModule === "function"`)) === true;
    agentOptions.running = await attachRunningWorkers(client, loadIn("attachWorker", agentOptions), !builtinRequire);
    const load = loadIn("attach", agentOptions);
    agent = ((await client.evaluate(load)) ?? {}) as Record<string, unknown>;
    const loaded = agent.attached === true;
    windowMs = await closeInspector(client, inspector, target.pid, loaded ? () => channel.command({ op: "closeInspector" }) : undefined);
  } catch (error) {
    held.release();
    if (client && inspector) await closeInspector(client, inspector, target.pid).catch(() => undefined);
    collector.finish({ exitCode: null, signal: null });
    collector.discard();
    cleanup();
    if (error instanceof Refusal) throw error;
    if (!alive(target.pid)) throw new Refusal(`pid ${target.pid} ended while scope was attaching to it`);
    throw new Refusal(`cannot load the agent into pid ${target.pid}: ${(error as Error).message}`);
  }
  if (typeof agent.refused === "string") {
    held.release();
    collector.finish({ exitCode: null, signal: null });
    collector.discard();
    cleanup();
    throw new Refusal(`pid ${target.pid}: ${agent.refused}`);
  }
  const window = windowMs === undefined ? `its inspector (open before scope) left open on 127.0.0.1:${inspector.port}` : `inspector open ${Math.round(windowMs)} ms, closed`;
  stderr.writeNow(`scope: attached to pid ${target.pid} (${target.argv.join(" ")}); ${window}; ${workersText(agent.workers)}; recording to ${out}\n`);
  // Node 20: workers started from now on run untraced inside (agent-workers.ts: it can abort or stall Node 20).
  if ((agent.workers as { newWorkers?: boolean } | undefined)?.newWorkers === false) {
    stderr.writeNow(`scope: workers started while attached are not traced inside on Node.js ${String(agent.node ?? "").replace(/^v/, "")} (their start, end and messages are); Node.js 22 and newer trace them\n`);
  }
  // Functions after the inspector is closed: the edits need no port open.
  if (options.functions && !held.signalled) agent.functions = await channel.command({ op: "functions", selection: options.functions });
  if (agent.functions) stderr.writeNow(`${functionsLine(agent.functions as FunctionsResult, target.cwd)}\n`);
  options.onAttached?.({ windowMs, agent });

  const session = channel;
  // `scope stop` finds this collector's ring as it finds scope run's and sends SIGUSR2: the kill switch, as there.
  const killSwitch = () => collector.stopRecording(StopReason.killSwitch);
  process.on("SIGUSR2", killSwitch);
  held.release();
  const reason = held.signalled ? AttachEnd.interrupted : await waitForEnd(target, session, options.durationMs, stderr);
  process.off("SIGUSR2", killSwitch);
  let detachReply: unknown;
  if (reason !== AttachEnd.processExited) {
    try {
      detachReply = await session.command({ op: "detach", reason });
    } catch (error) {
      stderr.writeNow(`scope: the agent did not answer the detach (${(error as Error).message}); recording stopped\n`);
      collector.stopRecording(StopReason.killSwitch);
    }
  }
  const summary = collector.finish({ exitCode: null, signal: null, markers: reason === AttachEnd.processExited ? [{ kind: EventKind.attach_end, a: reason, b: target.pid }] : [] });
  cleanup();
  const restored = (detachReply as { restored?: { removed?: number; failed?: number } } | undefined)?.restored;
  const text = formatSummary(summary, color).replace(/, program (exit code null|killed by \S+)/, `, detached: ${endNames[reason]}`);
  stderr.writeNow(text);
  if (restored && (restored.removed ?? 0) + (restored.failed ?? 0) > 0) stderr.writeNow(`  functions restored: ${restored.removed ?? 0}${restored.failed ? `, ${restored.failed} could not be (V8 refused the edit)` : ""}\n`);
  return 0;
}

function workersText(workers: unknown): string {
  const { listed = 0, traced = 0 } = (workers ?? {}) as { listed?: number; traced?: number };
  return listed === 0 ? "no worker threads" : `${counted(listed, "worker thread")}, ${traced} traced`;
}

function functionsLine(result: FunctionsResult, cwd: string): string {
  const refused = result.refused > 0 ? `; ${result.refused} refused (${result.reasons.join("; ")})` : "";
  // Nothing chosen: say where the paths were looked for (globs are relative to the process's directory).
  const none = result.added === 0 && result.refused === 0 ? ` (no function of a loaded file matches; paths are relative to the process's working directory ${cwd})` : "";
  return `scope: tracing ${result.added} functions live in ${result.scripts} files${refused}${none}`;
}

/** The session's side of the control file: one command at a time, answered in the ack file. */
class AgentChannel {
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly control: string,
    private readonly ack: string,
    /** The attached process: no answer will come once it has ended. */
    private readonly pid: number,
  ) {}

  command(request: Omit<Command, "seq">): Promise<unknown> {
    const next = this.queue.then(() => this.exchange(request));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async exchange(request: Omit<Command, "seq">): Promise<unknown> {
    const seq = ++this.seq;
    const temporary = `${this.control}.${seq}`;
    writeFileSync(temporary, JSON.stringify({ seq, ...request }), { mode: 0o600 });
    // Renamed into place: the agent never reads half a command.
    require("node:fs").renameSync(temporary, this.control);
    const deadline = Date.now() + ACK_TIMEOUT_MS;
    while (Date.now() < deadline) {
      try {
        const reply = JSON.parse(readFileSync(this.ack, "utf8")) as { seq: number; ok: boolean; result?: unknown; error?: string };
        if (reply.seq === seq) {
          if (!reply.ok) throw new Error(reply.error ?? "failed");
          return reply.result;
        }
      } catch (error) {
        if (!(error instanceof SyntaxError) && (error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      }
      if (!alive(this.pid)) throw new Error(`pid ${this.pid} ended`);
      await Bun.sleep(10);
    }
    throw new Error(`no answer within ${ACK_TIMEOUT_MS / 1000} s`);
  }
}

const END_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Ctrl-C (SIGINT, SIGTERM, SIGHUP) before the wait for the end: noted, not acted on (until
 * 2026-12-07 it ended scope at once: the trace left unclosed, a held inspector or half-done
 * function edits left to the agent's own poll); a second one ends scope at once, as without it.
 */
function holdSignals(): { readonly signalled: boolean; release(): void } {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!signalled) {
      signalled = true;
      return;
    }
    release();
    process.kill(process.pid, signal);
  };
  const release = () => {
    for (const signal of END_SIGNALS) process.off(signal, onSignal);
  };
  for (const signal of END_SIGNALS) process.on(signal, onSignal);
  return {
    get signalled() {
      return signalled;
    },
    release,
  };
}

/** Until Ctrl-C (SIGINT, SIGTERM, SIGHUP), --duration, a detach command or the process's end; the reason. */
function waitForEnd(target: Target, session: AgentChannel, durationMs: number | undefined, stderr: Output): Promise<number> {
  return new Promise((resolveEnd) => {
    let ended = false;
    const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
    const onSignal = () => end(AttachEnd.interrupted);
    const end = (reason: number) => {
      if (ended) return;
      ended = true;
      for (const signal of signals) process.off(signal, onSignal);
      clearInterval(watch);
      clearTimeout(timer);
      server.stop();
      resolveEnd(reason);
    };
    for (const signal of signals) process.on(signal, onSignal);
    const timer = durationMs === undefined ? undefined : setTimeout(() => end(AttachEnd.duration), durationMs);
    const watch = setInterval(() => {
      if (!alive(target.pid)) end(AttachEnd.processExited);
    }, PROCESS_POLL_MS);
    const server = serveControl(target.pid, async (request: ControlRequest): Promise<ControlReply> => {
      if (request.op === "ping") return { ok: true, message: `attached to pid ${target.pid}` };
      if (request.op === "detach") {
        setImmediate(() => end(AttachEnd.detachCommand));
        return { ok: true, message: `detaching from pid ${target.pid}` };
      }
      if (request.op === "remove") {
        const result = (await session.command({ op: "remove" })) as { removed: number; failed: number };
        stderr.writeNow(`scope: live function tracing removed (${result.removed} functions restored${result.failed ? `, ${result.failed} not` : ""})\n`);
        return { ok: true, message: `${result.removed} functions restored${result.failed ? `; ${result.failed} could not be (V8 refused the edit)` : ""}` };
      }
      const result = (await session.command({ op: "functions", selection: { files: request.files ?? [], names: request.names ?? [], root: request.root ?? target.cwd } })) as FunctionsResult;
      const line = functionsLine(result, target.cwd);
      stderr.writeNow(`${line}\n`);
      return { ok: result.added > 0 || result.refused > 0, message: line.replace(/^scope: /, "") };
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (ended, not yet reaped by its parent) is gone for us.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}
