/**
 * NOT WIRED (agent.ts does not start it): on Node 20 a `NodeWorker.sendMessageToWorker` to a
 * worker whose thread has just ended aborts the whole process (SIGABRT in
 * node::inspector::MainThreadInterface::Post, seen in 3 of 5 runs of workers started back to
 * back while attached: the Debugger.disable/runIfWaitingForDebugger sent after the agent
 * loaded can reach a worker that already ran to its end). Making it safe needs every message
 * sent only while the worker cannot end (waiting or paused: one Debugger.disable as the last
 * message, no timeout path that sends, stop() by disconnecting only) and an answer to a
 * program's worker.terminate() racing a message. Kept for that work; what it does:
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
 * A worker whose agent did not load within WAIT_MS (or whose evaluation failed) is let run
 * untraced, never held. `stop()` disables the domain and disconnects: a worker that is still
 * waiting at that moment is released by the runtime.
 */
import type * as Inspector from "node:inspector";
import type { Recorder } from "../agent/shared/recorder";
import { Kind } from "../agent/shared/kinds";

const WAIT_MS = 5000;
const U64_NONE = -1;

interface Pending {
  url: string;
  /** Known once its agent answered. */
  threadId: number | undefined;
  next: number;
  done: boolean;
  timer: ReturnType<typeof setTimeout>;
}

export class WorkerAutoAttach {
  private readonly session: Inspector.Session;
  private readonly workers = new Map<string, Pending>();
  private stopped = false;

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
    session.on("NodeWorker.attachedToWorker", (message: { params: { sessionId: string; waitingForDebugger: boolean; workerInfo: { workerId: string; url: string } } }) =>
      this.recorder.safe(() => this.attached(message.params.sessionId, message.params.workerInfo, message.params.waitingForDebugger)),
    );
    session.on("NodeWorker.receivedMessageFromWorker", (message: { params: { sessionId: string; message: string } }) =>
      this.recorder.safe(() => this.received(message.params.sessionId, message.params.message)),
    );
    session.on("NodeWorker.detachedFromWorker", (message: { params: { sessionId: string } }) =>
      this.recorder.safe(() => {
        const worker = this.workers.get(message.params.sessionId);
        if (!worker) return;
        clearTimeout(worker.timer);
        this.workers.delete(message.params.sessionId);
        if (worker.threadId === undefined) return;
        this.recorder.event(Kind.thread_exited, worker.threadId, U64_NONE);
        this.onEnded(worker.threadId);
      }),
    );
    session.connect();
    session.post("NodeWorker.enable", { waitForDebuggerOnStart: true }, (error) => {
      if (error) this.recorder.fail(error);
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const [sessionId, worker] of this.workers) {
      clearTimeout(worker.timer);
      if (!worker.done) this.release(sessionId, worker);
    }
    this.workers.clear();
    try {
      this.session.post("NodeWorker.disable", {});
    } finally {
      this.session.disconnect();
    }
  }

  private attached(sessionId: string, info: { workerId: string; url: string }, waiting: boolean): void {
    // Workers running before (listed again by enable): the attach reached them already.
    if (!waiting || this.stopped) return;
    const worker: Pending = { url: info.url || "[eval]", threadId: undefined, next: 1, done: false, timer: setTimeout(() => this.release(sessionId, worker), WAIT_MS) };
    worker.timer.unref();
    this.workers.set(sessionId, worker);
    this.send(sessionId, worker, "Debugger.enable", {});
    this.send(sessionId, worker, "Debugger.setInstrumentationBreakpoint", { instrumentation: "beforeScriptExecution" });
    this.send(sessionId, worker, "Runtime.runIfWaitingForDebugger", {});
  }

  private received(sessionId: string, text: string): void {
    const worker = this.workers.get(sessionId);
    if (!worker || worker.done) return;
    const message = JSON.parse(text) as { id?: number; method?: string; result?: { result?: { value?: { attached?: boolean; refused?: string; threadId?: number } } } };
    if (message.method === "Debugger.paused") {
      this.send(sessionId, worker, "Runtime.evaluate", { expression: this.loadExpression(), includeCommandLineAPI: true, returnByValue: true }, 2 ** 30);
      return;
    }
    if (message.id !== 2 ** 30) return;
    const value = message.result?.result?.value;
    if (value?.attached || value?.refused) {
      // NodeWorker's workerId is its own numbering, not the thread id: the spawn is recorded with the agent's.
      if (value.attached && typeof value.threadId === "number") {
        worker.threadId = value.threadId;
        this.recorder.event(Kind.thread_spawn, value.threadId, this.recorder.str(worker.url));
        this.onTraced(value.threadId);
      }
      this.release(sessionId, worker);
      return;
    }
    // The bootstrap is not over yet (an earlier script): on to the next pause.
    this.send(sessionId, worker, "Debugger.resume", {});
  }

  /** Lets the worker run on, its debugger off. */
  private release(sessionId: string, worker: Pending): void {
    if (worker.done) return;
    if (worker.threadId === undefined) this.recorder.fail(new Error(`a worker started while attached (${worker.url}) runs untraced: its agent did not load`));
    worker.done = true;
    clearTimeout(worker.timer);
    this.send(sessionId, worker, "Debugger.disable", {});
    this.send(sessionId, worker, "Runtime.runIfWaitingForDebugger", {});
  }

  private send(sessionId: string, worker: Pending, method: string, params: object, id = worker.next++): void {
    const message = JSON.stringify({ id, method, params });
    this.session.post("NodeWorker.sendMessageToWorker", { sessionId, message }, (error) => {
      // A worker that ended meanwhile; nothing to do.
      if (error && !this.stopped) this.recorder.safe(() => undefined);
    });
  }
}
