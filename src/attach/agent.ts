/**
 * The agent `scope attach` loads into a running Node.js process through its inspector
 * (Runtime.evaluate of `require(<this bundle>).attach(options)`): it attaches the main
 * thread to the ring the `scope attach` collector created, records that the process (and
 * the workers scope found running and loaded an agent into first: workers-running.ts) were
 * already running, subscribes to what the runtime
 * publishes (agent-http.ts), and traces functions live on request (agent-functions.ts).
 *
 * Everything it does is undone by its detach: subscriptions and listeners removed, edited
 * functions restored, its timer cleared, the ring unmapped (the addon's `release`), its
 * global and its require.cache entries deleted. It takes its commands from a control file
 * the `scope attach` session writes (read on an unref'd 100 ms timer: no inspector port
 * needs to stay open) and answers in an ack file; it detaches by itself when the session
 * is gone.
 */
import type * as Inspector from "node:inspector";
import { ExitReason, Kind } from "../agent/shared/kinds";
import { previewWalk, type TypeChecks } from "../agent/shared/preview";
import { Recorder } from "../agent/shared/recorder";
import { parseGroups, type Sink } from "../agent/shared/sink";
import { AttachEnd } from "../core/layout";
import { makeTracer } from "../agent/node/hooks";
import { releaseRequestContext } from "../agent/shared/request-context";
import { hookHttpChannels, type Hooks } from "./agent-http";
import { hookLibraries, type LibraryHooks } from "./agent-libraries";
import { hookMessages, type MessageHooks } from "./agent-messages";
import { WorkerAutoAttach } from "./agent-workers";
import type { RunningWorker } from "./workers-running";
import { HOOK_KEY, LiveFunctions, type FunctionSelection } from "./agent-functions";
import { REQUIRE_EXPRESSION } from "./require-expression";

export interface AttachOptions {
  ring: string;
  addon: string;
  /** This bundle's path (taken out of require.cache at the detach, never edited). */
  agent: string;
  control: string;
  ack: string;
  collectorPid: number;
  inspectorPort: number;
  openedInspector: boolean;
  functions?: FunctionSelection;
  /** Set for a worker thread's agent (attached by the main thread's through NodeWorker): its threadId. */
  tid?: number;
  /** The control file's command number when this agent started (a worker's: later ones only). */
  startSeq?: number;
  /** A worker started after the attach (loaded at its start by agent-workers.ts): its parentPort is counted. */
  newWorker?: boolean;
  /** The main thread's: the workers running at the attach, their agents loaded first by scope (workers-running.ts). */
  running?: { workers: RunningWorker[]; error?: string };
}

interface Addon extends Sink {
  attach(ringPath: string, tid: number): boolean;
  release(): boolean;
}

export interface Command {
  seq: number;
  op: "functions" | "remove" | "detach" | "closeInspector";
  selection?: FunctionSelection;
  reason?: number;
}

const POLL_MS = 100;
/** How long the main thread's detach waits for each worker's agent to have detached. */
const WORKER_DETACH_WAIT_MS = 3000;
const tracedByRunKey = Symbol.for("scope.agent.attached");

type Fs = typeof import("node:fs");

export async function attach(options: AttachOptions): Promise<Record<string, unknown>> {
  const host = globalThis as Record<symbol, unknown>;
  if (host[tracedByRunKey]) return { refused: "it is traced by `scope run` already" };
  if (HOOK_KEY in globalThis) return { refused: "another `scope attach` is attached to it" };
  const addon = require(options.addon) as Addon;
  if (!addon.attach(options.ring, 0)) {
    forget(options);
    return { refused: `the agent could not map the ring ${options.ring}` };
  }
  const agent = new AttachedAgent(options, addon);
  Object.defineProperty(globalThis, HOOK_KEY, { value: agent.hook, configurable: true, enumerable: false, writable: false });
  const workers = await agent.start();
  let functions: unknown;
  if (options.functions) functions = await agent.run({ seq: 0, op: "functions", selection: options.functions });
  return { attached: true, workers, functions, node: process.version };
}

/**
 * A worker thread's agent, loaded by the main thread's through the inspector's NodeWorker
 * domain: the same hooks and commands in this thread, written as (pid, threadId).
 */
export async function attachWorker(options: AttachOptions): Promise<Record<string, unknown>> {
  return attachNewWorker(options);
}

/** attachWorker, synchronous: run inside a new worker paused before its own code (agent-workers.ts). */
export function attachNewWorker(options: AttachOptions): Record<string, unknown> {
  if (HOOK_KEY in globalThis) return { refused: "attached already" };
  const tid = (require("node:worker_threads") as { threadId: number }).threadId;
  const addon = require(options.addon) as Addon;
  if (!addon.attach(options.ring, tid)) {
    forget(options);
    return { refused: `the agent could not map the ring ${options.ring}` };
  }
  const agent = new AttachedAgent({ ...options, tid }, addon);
  Object.defineProperty(globalThis, HOOK_KEY, { value: agent.hook, configurable: true, enumerable: false, writable: false });
  // A worker's start() takes no await: done when this returns.
  void agent.start();
  return { attached: true, threadId: tid };
}

/** Node versions where workers started while attached are given an agent (agent-workers.ts): 22 and newer (tested on 22). */
const NEW_WORKERS_MIN_NODE_MAJOR = 22;

function newWorkersTraced(): boolean {
  return Number(process.versions.node.split(".")[0]) >= NEW_WORKERS_MIN_NODE_MAJOR;
}

/**
 * Takes this bundle and the addon out of require.cache (the addon's code stays mapped: Node
 * never unloads one) and out of the resolver's path cache (Module._pathCache: request →
 * file, an entry per distinct agent path, which differs per scope process when run from
 * source). The loader's private caches (its relative-resolve and package.json caches) cannot
 * be reached: a few short strings per distinct agent path (BENCHMARKS.md "Memory an attach
 * leaves behind").
 */
function forget(options: AttachOptions): void {
  const cache = require.cache as Record<string, NodeJS.Module | undefined>;
  const ours = new Set([cache[options.addon], cache[options.agent]].filter((module) => module !== undefined));
  delete cache[options.addon];
  delete cache[options.agent];
  // The module whose `require` loaded this bundle lists it in its `children` for as long as it
  // lives, and with it the bundle's whole closure: an eval worker's global `module` (whose
  // `require` is the one REQUIRE_EXPRESSION finds there), a module the program keeps. Its
  // parent is not given (`module.parent` is deprecated), so every module that could be it is
  // looked at: the cached ones and the global `module`; one pass at the detach.
  const parents = new Set<unknown>(Object.values(cache));
  parents.add((globalThis as { module?: unknown }).module);
  parents.add(require.main);
  for (const parent of parents) {
    const children = (parent as { children?: unknown } | undefined)?.children;
    if (!Array.isArray(children)) continue;
    for (let i = children.length - 1; i >= 0; i--) if (ours.has(children[i])) children.splice(i, 1);
  }
  try {
    const paths = (require("node:module") as { _pathCache?: Record<string, unknown> })._pathCache;
    if (paths) for (const key of Object.keys(paths)) if (paths[key] === options.agent || paths[key] === options.addon) delete paths[key];
  } catch {
    // Node's internals changed: nothing to take back there.
  }
}

class AttachedAgent {
  readonly recorder: Recorder;
  readonly hook: { c(id: number, args?: ArrayLike<unknown>): void };
  private readonly fs: Fs = require("node:fs");
  private readonly inspector: typeof Inspector = require("node:inspector");
  private readonly functions: LiveFunctions;
  private readonly types: TypeChecks;
  private http: Hooks | undefined;
  private libraries: LibraryHooks | undefined;
  /** Writes go to the ring until the detach; a wrapper still running after it (a callback in flight) writes nothing. */
  private readonly sink: GatedSink;
  private messages: MessageHooks | undefined;
  private autoAttach: WorkerAutoAttach | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastSeq: number;
  private readonly main: boolean;
  /** Worker threads whose agents this (main) thread loaded. */
  private workerTids: number[] = [];
  private busy: Promise<unknown> = Promise.resolve();
  private detached = false;
  private exitReason: number = ExitReason.normal;
  private readonly onExit = (code: number) => this.recorder.safe(() => this.exited(code));
  private readonly onFatal = (_error: unknown, origin: string) => {
    if (process.listenerCount("uncaughtException") === 0) this.exitReason = origin === "unhandledRejection" ? ExitReason.unhandledRejection : ExitReason.uncaughtException;
  };

  constructor(
    private readonly options: AttachOptions,
    private readonly addon: Addon,
  ) {
    this.main = options.tid === undefined;
    this.lastSeq = options.startSeq ?? 0;
    this.sink = new GatedSink(addon);
    this.recorder = new Recorder(this.sink, parseGroups(undefined), previewWalk);
    const types = (require("node:util") as { types: TypeChecks }).types;
    this.types = types;
    this.functions = new LiveFunctions(this.recorder, types, this.inspector);
    const functions = this.functions;
    this.hook = { c: (id, args) => functions.call(id, args) };
  }

  /** The records of the attach, the hooks, the control timer; returns the workers listed and traced. */
  async start(): Promise<{ listed: number; traced: number; newWorkers: boolean }> {
    const recorder = this.recorder;
    recorder.traceStart(`node ${process.version}`, this.main);
    // A worker's time origin is its own start.
    const runningMs = this.main ? process.uptime() * 1000 : performance.now();
    recorder.event(Kind.attach_start, Math.round(runningMs), recorder.str(String(this.options.inspectorPort)), this.options.openedInspector ? 1 : 0, 0);
    const running = this.main ? this.options.running : undefined;
    if (running?.error) recorder.fail(new Error(running.error));
    const workers = running?.workers ?? [];
    for (const worker of workers) if (worker.traced && worker.threadId !== undefined) this.workerTids.push(worker.threadId);
    // NodeWorker's workerId is its own numbering: the thread id is the one the worker's agent reported.
    for (const worker of workers) recorder.event(Kind.attach_worker, worker.threadId ?? (Number(worker.workerId) || 0), recorder.str(worker.url), recorder.str(worker.title), 0, 0, worker.traced ? 1 : 0);
    process.on("exit", this.onExit);
    process.on("uncaughtExceptionMonitor", this.onFatal);
    recorder.safe(() => (this.http = hookHttpChannels(recorder, require("node:diagnostics_channel"))));
    // Databases and frameworks: the libraries loaded already, and those loaded while attached.
    recorder.safe(() => (this.libraries = hookLibraries(recorder, this.types)));
    const threads = require("node:worker_threads") as typeof import("node:worker_threads");
    // This thread's workers started from now on have higher thread ids than every one before (ids only grow).
    // (A worker listed but not traced may be counted as new: its messages are then one-sided, nothing to pair.)
    const newWorkerAbove = this.main ? Math.max(0, ...this.workerTids) : threads.threadId;
    recorder.safe(() => (this.messages = hookMessages(makeTracer(recorder, this.options.tid ?? 0), threads, { newWorkerAbove, newWorker: this.options.newWorker === true })));
    // Workers started from now on get an agent before their code (agent-workers.ts) where
    // that is safe: Node 22 and newer. On Node 20 it can abort or stall the program (see
    // there): off, and the CLI says so.
    const newWorkers = this.main && newWorkersTraced();
    if (newWorkers) recorder.safe(() => this.startAutoAttach());
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    return { listed: workers.length, traced: workers.filter((worker) => worker.traced).length, newWorkers };
  }

  /** Runs one command after the ones before it. */
  run(command: Command): Promise<unknown> {
    const next = this.busy.then(() => this.execute(command));
    this.busy = next.catch(() => undefined);
    return next;
  }

  private async execute(command: Command): Promise<unknown> {
    if (this.detached) return { detached: true };
    switch (command.op) {
      case "functions":
        return this.functions.add({ ...command.selection!, skip: [this.options.agent] });
      case "remove":
        return this.functions.removeAll();
      case "detach":
        return this.detach(command.reason ?? AttachEnd.detachCommand, command.seq);
      case "closeInspector":
        if (!this.main) return { closed: false };
        // Asked once scope's connection is gone: inspector.close() waits for connections, so none is left to wait for.
        this.inspector.close();
        return { closed: true };
    }
  }

  private poll(): void {
    let text: string;
    try {
      // The session gone (killed): leave the process as it was.
      process.kill(this.options.collectorPid, 0);
      text = this.fs.readFileSync(this.options.control, "utf8");
    } catch {
      void this.run({ seq: this.lastSeq + 1, op: "detach", reason: AttachEnd.collectorGone });
      return;
    }
    let command: Command;
    try {
      command = JSON.parse(text) as Command;
    } catch {
      return; // being written
    }
    if (!(command.seq > this.lastSeq)) return;
    this.lastSeq = command.seq;
    this.run(command).then(
      (result) => this.answer(command.seq, { ok: true, result }),
      (error) => this.answer(command.seq, { ok: false, error: String((error as Error)?.message ?? error) }),
    );
  }

  /** The main thread answers the session; a worker answers in its own file, which the main thread's detach waits for. */
  private answer(seq: number, reply: object): void {
    const path = this.main ? this.options.ack : `${this.options.ack}.${this.options.tid}`;
    try {
      const temporary = `${path}.${seq}`;
      this.fs.writeFileSync(temporary, JSON.stringify({ seq, ...reply }), { mode: 0o600 });
      this.fs.renameSync(temporary, path);
    } catch {
      // The session is gone; nothing waits for the answer.
    }
  }

  /** Every hook off, every function restored, the ring released: the process as before the attach. */
  private async detach(reason: number, seq = 0): Promise<unknown> {
    if (this.detached) return { detached: true };
    this.detached = true;
    clearInterval(this.timer);
    this.timer = undefined;
    let restored: unknown;
    try {
      restored = await this.functions.removeAll();
    } catch (error) {
      this.recorder.fail(error);
    }
    await this.autoAttach?.stop();
    this.http?.remove();
    let libraries: unknown;
    this.recorder.safe(() => (libraries = this.libraries?.remove()));
    this.recorder.safe(releaseRequestContext);
    this.messages?.remove();
    process.off("exit", this.onExit);
    process.off("uncaughtExceptionMonitor", this.onFatal);
    // The workers' agents read the same command: their last records go before the session closes the trace.
    if (this.main && seq > 0) await this.workersDetached(seq);
    else this.workerTids.length = 0;
    this.recorder.event(Kind.attach_end, reason, process.pid);
    this.recorder.event(Kind.trace_stop, this.recorder.errors, this.recorder.unrecorded);
    const host = globalThis as Record<string, unknown>;
    if (host[HOOK_KEY] === this.hook) delete host[HOOK_KEY];
    // Flushes what this thread wrote and unmaps the ring.
    this.sink.open = false;
    const released = this.addon.release();
    forget(this.options);
    return { restored, released, libraries };
  }

  /** The process is ending while attached: its end, as `scope run` records it. */
  private exited(code: number): void {
    if (this.detached) return;
    const recorder = this.recorder;
    const finalCode = typeof process.exitCode === "number" ? process.exitCode : Number(code) || 0;
    recorder.event(this.main ? Kind.process_exit : Kind.thread_exit, finalCode, 0, 0, 0, this.exitReason);
    recorder.event(Kind.trace_stop, recorder.errors, recorder.unrecorded);
    // A worker ending: the main thread's detach need not wait for it.
    if (!this.main) this.answer(Number.MAX_SAFE_INTEGER, { ok: true, result: { exited: true } });
  }

  /** Workers started from now on get this agent before their own code (agent-workers.ts; Node 22 and newer, see start()). */
  private startAutoAttach(): void {
    const options = (): AttachOptions => ({ ...this.options, tid: undefined, startSeq: this.lastSeq, newWorker: true });
    const expression = () => `${REQUIRE_EXPRESSION}(${JSON.stringify(this.options.agent)}).attachNewWorker(${JSON.stringify(options())})`;
    this.autoAttach = new WorkerAutoAttach(
      this.inspector,
      this.recorder,
      expression,
      (tid) => this.workerTids.push(tid),
      (tid) => (this.workerTids = this.workerTids.filter((known) => known !== tid)),
    );
    this.autoAttach.start();
  }

  private async workersDetached(seq: number): Promise<void> {
    const deadline = Date.now() + WORKER_DETACH_WAIT_MS;
    for (const tid of this.workerTids) {
      while (Date.now() < deadline) {
        try {
          const reply = JSON.parse(this.fs.readFileSync(`${this.options.ack}.${tid}`, "utf8")) as { seq: number };
          if (reply.seq >= seq) break;
        } catch {
          // not answered yet
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      this.fs.rmSync(`${this.options.ack}.${tid}`, { force: true });
    }
  }


}

/** The addon while attached; nothing after the detach (the addon may be attached again, by the next attach's agent). */
class GatedSink implements Sink {
  open = true;
  // Arrow functions over the addon's functions read once: the Recorder calls a sink's
  // per-event functions without the sink as receiver (sink.ts Sink), and a read from
  // scope.node's exports (dictionary mode) is a generic LoadIC each time.
  readonly record: Sink["record"];
  readonly string: Sink["string"];
  readonly recordString: NonNullable<Sink["recordString"]>;
  /** The addon's scratch (the Recorder's fast path: plain stores, then commit without arguments). */
  readonly scratch: NonNullable<Sink["scratch"]>;
  readonly commit: NonNullable<Sink["commit"]>;
  readonly commitString: NonNullable<Sink["commitString"]>;
  readonly stopped: NonNullable<Sink["stopped"]>;

  constructor(addon: Addon) {
    const { record, string, recordString, scratch, commit, commitString, stopped } = addon;
    this.record = (kind, flags, a, b, c, d, e) => this.open && record(kind, flags, a, b, c, d, e);
    this.string = (id, text) => this.open && string(id, text);
    this.recordString = (kind, flags, a, b, c, d, id, text) => {
      if (!this.open) return 0;
      return recordString ? recordString(kind, flags, a, b, c, d, id, text) : string(id, text) && record(kind, flags, a, b, c, d, id) ? 2 : 0;
    };
    this.scratch = () => scratch?.();
    this.commit = () => (!this.open || !commit ? false : commit());
    this.commitString = () => (!this.open || !commitString ? 0 : commitString());
    this.stopped = () => !this.open || Boolean(stopped?.());
  }
}
