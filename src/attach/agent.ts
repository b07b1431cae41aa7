/**
 * The agent `scope attach` loads into a running Node.js process through its inspector
 * (Runtime.evaluate of `require(<this bundle>).attach(options)`): it attaches the main
 * thread to the ring the `scope attach` collector created, records that the process (and
 * the workers the inspector lists) were already running, subscribes to what the runtime
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
import type { TypeChecks } from "../agent/shared/preview";
import { Recorder } from "../agent/shared/recorder";
import { parseGroups, type Sink } from "../agent/shared/sink";
import { AttachEnd } from "../core/layout";
import { hookHttpChannels, type Hooks } from "./agent-http";
import { HOOK_KEY, LiveFunctions, type FunctionSelection } from "./agent-functions";

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
  return { attached: true, workers, functions };
}

/** Takes this bundle and the addon out of require.cache (the addon's code stays mapped: Node never unloads one). */
function forget(options: AttachOptions): void {
  const cache = require.cache as Record<string, unknown>;
  delete cache[options.addon];
  delete cache[options.agent];
}

class AttachedAgent {
  readonly recorder: Recorder;
  readonly hook: { c(id: number, args?: ArrayLike<unknown>): void };
  private readonly fs: Fs = require("node:fs");
  private readonly inspector: typeof Inspector = require("node:inspector");
  private readonly functions: LiveFunctions;
  private http: Hooks | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastSeq = 0;
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
    this.recorder = new Recorder(addon, parseGroups(undefined));
    const types = (require("node:util") as { types: TypeChecks }).types;
    this.functions = new LiveFunctions(this.recorder, types, this.inspector);
    const functions = this.functions;
    this.hook = { c: (id, args) => functions.call(id, args) };
  }

  /** The records of the attach, the hooks, the control timer; returns the workers listed. */
  async start(): Promise<number> {
    const recorder = this.recorder;
    recorder.traceStart(`node ${process.version}`, true);
    const workers = await this.listWorkers();
    recorder.event(Kind.attach_start, Math.round(process.uptime() * 1000), recorder.str(String(this.options.inspectorPort)), this.options.openedInspector ? 1 : 0, workers.length);
    for (const worker of workers) recorder.event(Kind.attach_worker, Number(worker.workerId) || 0, recorder.str(worker.url), recorder.str(worker.title));
    process.on("exit", this.onExit);
    process.on("uncaughtExceptionMonitor", this.onFatal);
    recorder.safe(() => (this.http = hookHttpChannels(recorder, require("node:diagnostics_channel"))));
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    return workers.length;
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
        return this.detach(command.reason ?? AttachEnd.detachCommand);
      case "closeInspector":
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

  private answer(seq: number, reply: object): void {
    try {
      const temporary = `${this.options.ack}.${seq}`;
      this.fs.writeFileSync(temporary, JSON.stringify({ seq, ...reply }), { mode: 0o600 });
      this.fs.renameSync(temporary, this.options.ack);
    } catch {
      // The session is gone; nothing waits for the answer.
    }
  }

  /** Every hook off, every function restored, the ring released: the process as before the attach. */
  private async detach(reason: number): Promise<unknown> {
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
    this.http?.remove();
    process.off("exit", this.onExit);
    process.off("uncaughtExceptionMonitor", this.onFatal);
    this.recorder.event(Kind.attach_end, reason, process.pid);
    this.recorder.event(Kind.trace_stop, this.recorder.errors, this.recorder.unrecorded);
    const host = globalThis as Record<string, unknown>;
    if (host[HOOK_KEY] === this.hook) delete host[HOOK_KEY];
    // Flushes what this thread wrote and unmaps the ring.
    const released = this.addon.release();
    forget(this.options);
    return { restored, released };
  }

  /** The process is ending while attached: its end, as `scope run` records it. */
  private exited(code: number): void {
    if (this.detached) return;
    const recorder = this.recorder;
    const finalCode = typeof process.exitCode === "number" ? process.exitCode : Number(code) || 0;
    recorder.event(Kind.process_exit, finalCode, 0, 0, 0, this.exitReason);
    recorder.event(Kind.trace_stop, recorder.errors, recorder.unrecorded);
  }

  /** Worker threads running now, from the inspector's NodeWorker domain (an in-process session). */
  private async listWorkers(): Promise<{ workerId: string; url: string; title: string }[]> {
    const workers: { workerId: string; url: string; title: string }[] = [];
    const session = new this.inspector.Session();
    try {
      session.on("NodeWorker.attachedToWorker", (message: { params: { workerInfo: { workerId: string; url: string; title: string } } }) => workers.push(message.params.workerInfo));
      session.connect();
      const post = (method: string, params: object) => new Promise<void>((resolve) => session.post(method, params, () => resolve()));
      await post("NodeWorker.enable", { waitForDebuggerOnStart: false });
      await post("NodeWorker.disable", {});
    } catch (error) {
      this.recorder.fail(error);
    } finally {
      session.disconnect();
    }
    return workers;
  }
}
