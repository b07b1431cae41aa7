/**
 * Wired on Node 22 and newer only (agent.ts; ARCHITECTURE.md "Workers started while
 * attached"). On Node 20 the first version aborted the process (a NodeWorker message to a
 * worker whose thread had ended) and stalled the program after the detach; both causes were
 * found and fixed here (stop() below, terminate() noted), and the fixed version ran 20 churn
 * runs on Node 22 clean, but it was not stress-tested on Node 20, where it stays off.
 *
 * Worker threads started while attached get the attach agent before their own code runs,
 * through the inspector's NodeWorker domain on an in-process session of the main thread
 * (no port): `NodeWorker.enable({waitForDebuggerOnStart: true})` makes each new worker wait
 * at its start; scope then sets a `beforeScriptExecution` instrumentation breakpoint in it,
 * lets it run, and at the first pause where the worker's bootstrap is complete (its
 * `require("node:worker_threads")` works: the pause before the worker's own script; an
 * earlier pause fails that and is resumed) evaluates the agent's `attachNewWorker` there,
 * then disables the worker's debugger (which drops the breakpoint) and resumes it. Nothing
 * patches the Worker constructor, so workers made with a constructor the program took
 * before the attach (`const { Worker } = require(...)`) are reached too.
 *
 * Node aborts the whole process (SIGABRT in node::inspector::MainThreadInterface::Post)
 * when `NodeWorker.sendMessageToWorker` reaches a worker whose inspector is being torn down.
 * So a message is sent to a worker only while it cannot end by itself: waiting at its start
 * (the three first) or paused (the evaluation, then `Debugger.disable`, which resumes it and
 * is the last message it ever gets; an earlier pause is left with `Debugger.resume`, and the
 * next message waits for the next pause), and never after the program called its
 * terminate(). A worker is never left paused or waiting (disconnecting the session does not
 * release it: the program would hang on it): `stop()` turns waiting off, lets each worker
 * still starting go at its next pause, without the agent, waits for every worker made while
 * waiting was on to have been let go or ended (at most STOP_WAIT_MS), and only then
 * disconnects.
 */
import type * as Inspector from "node:inspector";
import type { Recorder } from "../agent/shared/recorder";
import { renamed } from "../agent/shared/reflect";

/**
 * The evaluation in a worker takes the command line API only where `require` cannot be had
 * without it (no `process.getBuiltinModule`: Node 22.0–22.2): installing it in a worker being
 * terminated crashes V8 (workers-running.ts).
 */
const NEEDS_COMMAND_LINE_API = typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule !== "function";

/** How long stop() waits for the workers still starting to reach a pause and be let go. */
const STOP_WAIT_MS = 2000;

interface Pending {
  url: string;
  /** From NodeWorker's title ("[worker <threadId>] <name>"); undefined if it does not say. */
  tid: number | undefined;
  /** Known once its agent answered. */
  threadId: number | undefined;
  next: number;
  /** Debugger.disable sent: it gets no other message. */
  done: boolean;
}

export class WorkerAutoAttach {
  private readonly session: Inspector.Session;
  private readonly workers = new Map<string, Pending>();
  private stopped = false;
  /** Set by stop(): every worker is let go at its next pause, without the agent. */
  private stopping = false;
  /**
   * Workers the program made while new workers waited (their 'worker' event), by thread id,
   * until scope let them go or they ended: each one waits at its start until a session
   * tells it to run, and one whose notification had not reached this session when it
   * disconnected would wait for ever (its 'exit' never comes: the stall seen before).
   */
  private readonly made = new Map<number, { threadId: number }>();
  private readonly released = new Set<number>();
  private readonly onWorker = (worker: { threadId: number }) => {
    if (!this.waitOff && typeof worker?.threadId === "number") this.made.set(worker.threadId, worker);
  };
  private waitOff = false;
  /**
   * Thread ids of workers the program has called terminate() on: never sent another
   * message (a worker can be terminated while it waits at its start or is paused, and
   * Node aborts the process on a message posted while a worker's inspector is torn down).
   * Worker.prototype.terminate is replaced for that while attached (the same function
   * object again after stop(), as agent-messages.ts does; it only notes the id, then calls
   * the original at once).
   */
  private readonly ending = new Set<number>();
  private terminatePatch: { proto: object; original: PropertyDescriptor; replacement: unknown; active: { on: boolean } } | undefined;

  constructor(
    inspector: typeof Inspector,
    private readonly recorder: Recorder,
    /** The expression that loads the agent in a worker (sync; returns {attached, threadId} or {refused}). */
    private readonly loadExpression: () => string,
    private readonly onTraced: (threadId: number) => void,
    private readonly onEnded: (threadId: number) => void,
  ) {
    this.session = new inspector.Session();
  }

  start(): void {
    const session = this.session;
    session.on("NodeWorker.attachedToWorker", (message: { params: { sessionId: string; waitingForDebugger: boolean; workerInfo: { workerId: string; url: string; title?: string } } }) =>
      this.recorder.safe(() => this.attached(message.params.sessionId, message.params.workerInfo, message.params.waitingForDebugger)),
    );
    session.on("NodeWorker.receivedMessageFromWorker", (message: { params: { sessionId: string; message: string } }) =>
      this.recorder.safe(() => this.received(message.params.sessionId, message.params.message)),
    );
    session.on("NodeWorker.detachedFromWorker", (message: { params: { sessionId: string } }) =>
      this.recorder.safe(() => {
        const worker = this.workers.get(message.params.sessionId);
        if (!worker) return;
        this.workers.delete(message.params.sessionId);
        if (worker.threadId !== undefined) this.onEnded(worker.threadId);
      }),
    );
    this.recorder.safe(() => this.patchTerminate());
    session.connect();
    process.on("worker", this.onWorker);
    session.post("NodeWorker.enable", { waitForDebuggerOnStart: true }, (error) => {
      if (error) this.recorder.fail(error);
    });
  }

  /**
   * Lets every worker still starting go at its next pause (a worker left paused or waiting
   * would hang: disconnecting does not release it), then disconnects.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopping = true;
    // Workers made from now on start at once (the in-process post is dispatched synchronously).
    this.session.post("NodeWorker.enable", { waitForDebuggerOnStart: false });
    // Workers constructed before it announce themselves on the next tick ('worker').
    await new Promise((resolve) => setImmediate(resolve));
    this.waitOff = true;
    process.off("worker", this.onWorker);
    const deadline = Date.now() + STOP_WAIT_MS;
    const unsettled = () => [...this.workers.values()].some((worker) => !worker.done) || [...this.made.values()].some((worker) => worker.threadId !== -1 && !this.released.has(worker.threadId));
    while (unsettled() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const worker of this.workers.values()) {
      if (!worker.done) this.recorder.fail(new Error(`a worker started while attached (${worker.url}) did not reach a pause before the detach`));
    }
    for (const worker of this.made.values()) {
      if (worker.threadId !== -1 && !this.released.has(worker.threadId)) this.recorder.fail(new Error(`a worker started while attached (thread ${worker.threadId}) was not announced before the detach`));
    }
    this.stopped = true;
    this.workers.clear();
    this.made.clear();
    this.released.clear();
    try {
      this.session.post("NodeWorker.disable", {});
    } finally {
      this.session.disconnect();
    }
    this.recorder.safe(() => this.unpatchTerminate());
    this.ending.clear();
  }

  private patchTerminate(): void {
    const proto = (require("node:worker_threads") as typeof import("node:worker_threads")).Worker.prototype;
    const original = Object.getOwnPropertyDescriptor(proto, "terminate");
    if (!original || typeof original.value !== "function") return;
    const programTerminate = original.value as (this: unknown, ...args: unknown[]) => unknown;
    const ending = this.ending;
    const active = { on: true };
    const replacement = renamed(programTerminate, function terminate(this: { threadId?: unknown }): unknown {
      if (active.on && typeof this?.threadId === "number") ending.add(this.threadId);
      return Reflect.apply(programTerminate, this, arguments);
    });
    Object.defineProperty(proto, "terminate", { ...original, value: replacement });
    this.terminatePatch = { proto, original, replacement, active };
  }

  /** The program's terminate again; left as a pass-through under a replacement the program made since. */
  private unpatchTerminate(): void {
    const patch = this.terminatePatch;
    if (!patch) return;
    this.terminatePatch = undefined;
    patch.active.on = false;
    const current = Object.getOwnPropertyDescriptor(patch.proto, "terminate");
    if (current && "value" in current && current.value === patch.replacement) Object.defineProperty(patch.proto, "terminate", patch.original);
  }

  private attached(sessionId: string, info: { workerId: string; url: string; title?: string }, waiting: boolean): void {
    // Workers running before (listed again by enable): the attach reached them already.
    if (!waiting) return;
    const titled = /^\[worker (\d+)\]/.exec((info as { title?: string }).title ?? "");
    const worker: Pending = { url: info.url || "[eval]", tid: titled ? Number(titled[1]) : undefined, threadId: undefined, next: 1, done: false };
    this.workers.set(sessionId, worker);
    if (this.stopping || this.stopped) {
      // Waiting: one message starts it, untraced, and is the last.
      this.markDone(worker);
      this.send(sessionId, worker, "Runtime.runIfWaitingForDebugger", {});
      return;
    }
    this.send(sessionId, worker, "Debugger.enable", {});
    this.send(sessionId, worker, "Debugger.setInstrumentationBreakpoint", { instrumentation: "beforeScriptExecution" });
    this.send(sessionId, worker, "Runtime.runIfWaitingForDebugger", {});
  }

  private received(sessionId: string, text: string): void {
    const worker = this.workers.get(sessionId);
    if (!worker || worker.done) return;
    const message = JSON.parse(text) as { id?: number; method?: string; result?: { result?: { value?: { attached?: boolean; refused?: string; threadId?: number } } } };
    if (message.method === "Debugger.paused") {
      if (this.stopping) return this.letGo(sessionId, worker);
      this.send(sessionId, worker, "Runtime.evaluate", { expression: this.loadExpression(), includeCommandLineAPI: NEEDS_COMMAND_LINE_API, returnByValue: true }, 2 ** 30);
      return;
    }
    if (message.id !== 2 ** 30) return;
    const value = message.result?.result?.value;
    if (value?.attached || value?.refused) {
      // NodeWorker's workerId is its own numbering, not the thread id: the spawn is recorded with the agent's.
      if (value.attached && typeof value.threadId === "number") {
        worker.threadId = value.threadId;
        this.onTraced(value.threadId);
      }
      return this.letGo(sessionId, worker);
    }
    // The bootstrap is not over yet (an earlier script): on to the next pause.
    this.send(sessionId, worker, "Debugger.resume", {});
  }

  /** Paused: the last message, which resumes the worker (it may end at once: nothing may follow it). */
  private letGo(sessionId: string, worker: Pending): void {
    this.markDone(worker);
    this.send(sessionId, worker, "Debugger.disable", {});
  }

  /** The worker gets its last message now: it runs on without scope's session. */
  private markDone(worker: Pending): void {
    worker.done = true;
    if (worker.tid !== undefined) this.released.add(worker.tid);
  }

  private send(sessionId: string, worker: Pending, method: string, params: object, id = worker.next++): void {
    // Being terminated by the program: it may be gone by the time a message arrives (Node would abort).
    if (worker.tid !== undefined && this.ending.has(worker.tid)) {
      this.markDone(worker);
      return;
    }
    const message = JSON.stringify({ id, method, params });
    this.session.post("NodeWorker.sendMessageToWorker", { sessionId, message }, (error) => {
      // A worker that ended meanwhile; nothing to do.
      if (error && !this.stopped) this.recorder.safe(() => undefined);
    });
  }
}
