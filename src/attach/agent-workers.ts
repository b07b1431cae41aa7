/**
 * NOT WIRED (agent.ts does not start it), for two findings on Node 20: a NodeWorker message to
 * a worker whose thread has ended aborts the process (below; the message discipline here
 * avoided it in 16 stress runs), and a worker can be left stopped for good: with workers
 * started back to back, some terminated by the program within 0-6 ms, the program stalled
 * after the detach in 1 of 3 runs of this version (4 of 4 of the one before, which only
 * disconnected at stop()). Whether a worker terminated while paused, or one between its
 * runIfWaitingForDebugger and its first pause, is what stays stopped, is not known yet. Later
 * runs: the stall also comes without any terminate() (2 of 5, with attached() starting a
 * worker announced during stop()); in a stalled process no worker thread was alive (8
 * threads, as when idle): the program waits for a Worker's 'exit' that never comes.
 * Kept for that work (spec/attach.test.ts "workers started back to back" is the test to pass
 * with it wired); what it does:
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
 * Node 20 aborts the whole process (SIGABRT in node::inspector::MainThreadInterface::Post)
 * when `NodeWorker.sendMessageToWorker` reaches a worker whose thread has ended. So a message
 * is sent to a worker only while it cannot end by itself: waiting at its start (the three
 * first) or paused (the evaluation, then `Debugger.disable`, which resumes it and is the
 * last message it ever gets; an earlier pause is left with `Debugger.resume`, and the next
 * message waits for the next pause). A worker is never left paused or waiting (disconnecting
 * the session does not release it: the program would hang on it): `stop()` lets each worker
 * still starting go at its next pause, without the agent (at most STOP_WAIT_MS), and only
 * then disconnects.
 */
import type * as Inspector from "node:inspector";
import type { Recorder } from "../agent/shared/recorder";

/** How long stop() waits for the workers still starting to reach a pause and be let go. */
const STOP_WAIT_MS = 2000;

interface Pending {
  url: string;
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
        this.workers.delete(message.params.sessionId);
        if (worker.threadId !== undefined) this.onEnded(worker.threadId);
      }),
    );
    session.connect();
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
    const deadline = Date.now() + STOP_WAIT_MS;
    while ([...this.workers.values()].some((worker) => !worker.done) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const worker of this.workers.values()) {
      if (!worker.done) this.recorder.fail(new Error(`a worker started while attached (${worker.url}) did not reach a pause before the detach`));
    }
    this.stopped = true;
    this.workers.clear();
    try {
      this.session.post("NodeWorker.disable", {});
    } finally {
      this.session.disconnect();
    }
  }

  private attached(sessionId: string, info: { workerId: string; url: string }, waiting: boolean): void {
    // Workers running before (listed again by enable): the attach reached them already.
    if (!waiting) return;
    const worker: Pending = { url: info.url || "[eval]", threadId: undefined, next: 1, done: false };
    this.workers.set(sessionId, worker);
    if (this.stopping || this.stopped) {
      // Waiting: one message starts it, untraced, and is the last.
      worker.done = true;
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
      this.send(sessionId, worker, "Runtime.evaluate", { expression: this.loadExpression(), includeCommandLineAPI: true, returnByValue: true }, 2 ** 30);
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
    worker.done = true;
    this.send(sessionId, worker, "Debugger.disable", {});
  }

  private send(sessionId: string, worker: Pending, method: string, params: object, id = worker.next++): void {
    const message = JSON.stringify({ id, method, params });
    this.session.post("NodeWorker.sendMessageToWorker", { sessionId, message }, (error) => {
      // A worker that ended meanwhile; nothing to do.
      if (error && !this.stopped) this.recorder.safe(() => undefined);
    });
  }
}
