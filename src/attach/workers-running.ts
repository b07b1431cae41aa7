/**
 * Worker threads running at the attach, each given its own agent (the bundle's attachWorker,
 * evaluated in its context), through the inspector's NodeWorker domain on scope's own
 * connection, before the main thread's agent is loaded (which is told what was found).
 *
 * Not through an in-process session in the program: `NodeWorker.enable` reports the running
 * workers while Node iterates its list of them, and an in-process session's notification
 * runs JavaScript inside that iteration, where V8 interrupts also dispatch the inspector's
 * queued requests; a worker that ended just then is erased from the list under the iterator
 * and Node crashes (SIGSEGV in node::inspector::WorkerManager::SetAutoAttach: Node 20.20,
 * 3 crashes in ~450 attaches to src/bench/workloads/worker-churn.cjs, core dumps read with
 * gdb). Over scope's connection the notification is queued for the inspector's I/O thread,
 * so no JavaScript runs inside the iteration.
 *
 * A message is never sent to a worker the domain has reported detached (Node aborts on a
 * message posted while a worker's inspector is torn down: agent-workers.ts). The evaluation
 * in a worker goes without the command line API where the agent can be required without it
 * (`process.getBuiltinModule`, Node 20.16 and newer): installing that API in a worker the
 * program is terminating at that moment crashed Node 20.20 (SIGSEGV in V8's
 * `CommandLineAPIScope`, `v8::Set::Add` on the terminating worker's thread; 1 core dump of
 * the 1 crash in ~550 attaches left after the change above).
 */
import type { CdpClient } from "./inspector";

/** A worker found running at the attach, and whether its agent was loaded. */
export interface RunningWorker {
  workerId: string;
  url: string;
  title: string;
  traced: boolean;
  /** Known once its agent answered. */
  threadId?: number;
}

/** How long a worker's agent may take to load. */
const WORKER_ATTACH_WAIT_MS = 5000;

interface AttachedToWorker {
  sessionId: string;
  workerInfo: { workerId: string; url: string; title: string };
}

/**
 * Lists the main thread's running workers and evaluates `expression` (a promise of
 * `{ attached, threadId }`) in each. A worker's own workers are not reached (they would
 * need that worker's NodeWorker domain). Never throws: a failure is returned as `error`.
 */
export async function attachRunningWorkers(client: CdpClient, expression: string, commandLineApi: boolean): Promise<{ workers: RunningWorker[]; error?: string }> {
  const found: (RunningWorker & { sessionId: string })[] = [];
  const detached = new Set<string>();
  const replies = new Map<string, (message: string) => void>();
  client.on("NodeWorker.attachedToWorker", (params) => {
    const { sessionId, workerInfo } = params as AttachedToWorker;
    found.push({ sessionId, workerId: workerInfo.workerId, url: workerInfo.url, title: workerInfo.title, traced: false });
  });
  client.on("NodeWorker.detachedFromWorker", (params) => {
    const { sessionId } = params as { sessionId: string };
    detached.add(sessionId);
    replies.get(sessionId)?.("");
  });
  client.on("NodeWorker.receivedMessageFromWorker", (params) => {
    const { sessionId, message } = params as { sessionId: string; message: string };
    // The worker's own notifications go by; the evaluation's reply is id 1.
    let id: unknown;
    try {
      id = (JSON.parse(message) as { id?: unknown }).id;
    } catch {
      return;
    }
    if (id === 1) replies.get(sessionId)?.(message);
  });
  let error: string | undefined;
  try {
    // The running workers are reported before the answer.
    await client.send("NodeWorker.enable", { waitForDebuggerOnStart: false });
    const message = JSON.stringify({ id: 1, method: "Runtime.evaluate", params: { expression, includeCommandLineAPI: commandLineApi, awaitPromise: true, returnByValue: true } });
    await Promise.all(
      found.map(async (worker) => {
        if (detached.has(worker.sessionId)) return;
        const answered = new Promise<string>((resolve) => {
          replies.set(worker.sessionId, resolve);
          setTimeout(() => resolve(""), WORKER_ATTACH_WAIT_MS).unref();
        });
        await client.send("NodeWorker.sendMessageToWorker", { sessionId: worker.sessionId, message });
        const reply = await answered;
        const value = reply ? (JSON.parse(reply) as { result?: { result?: { value?: { attached?: boolean; threadId?: number } } } }).result?.result?.value : undefined;
        if (value?.attached && typeof value.threadId === "number") {
          worker.traced = true;
          worker.threadId = value.threadId;
        }
      }),
    );
    await client.send("NodeWorker.disable", {});
  } catch (failure) {
    error = `running workers: ${(failure as Error).message}`;
  } finally {
    for (const method of ["NodeWorker.attachedToWorker", "NodeWorker.detachedFromWorker", "NodeWorker.receivedMessageFromWorker"]) client.on(method, undefined);
  }
  return { workers: found.map(({ sessionId: _, ...worker }) => worker), error };
}
