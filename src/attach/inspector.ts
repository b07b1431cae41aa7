/**
 * Reaching a running Node.js process's inspector from `scope attach`: open it with SIGUSR1
 * (unless it is open already), find it on loopback, talk the Chrome DevTools Protocol over
 * Bun's WebSocket client, and close it again when scope opened it.
 *
 * The inspector runs any code anyone who reaches its port sends (no authentication), so it
 * is open only from the signal until the agent is loaded (ARCHITECTURE.md "scope attach":
 * the window, measured), only on 127.0.0.1 (Node's default for SIGUSR1), and scope refuses
 * when something else already holds the port or a debugger is already connected.
 */
import { REQUIRE_EXPRESSION } from "./require-expression";
import { acceptedConnections, listeningPorts, portTaken } from "./sockets";
import { Refusal, type Target } from "./target";

export interface OpenInspector {
  port: number;
  webSocketUrl: string;
  /** scope sent the SIGUSR1 (so scope closes it again). */
  opened: boolean;
  /** When scope sent the signal (performance.now() ms), for the window. */
  openedAtMs: number;
}

const OPEN_TIMEOUT_MS = 10_000;
const POLL_MS = 20;

interface ListEntry {
  type?: string;
  webSocketDebuggerUrl?: string;
}

async function listTargets(port: number): Promise<ListEntry[] | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) return undefined;
    const list = (await response.json()) as unknown;
    return Array.isArray(list) ? (list as ListEntry[]) : undefined;
  } catch {
    return undefined;
  }
}

/** The inspector of an entry list: Node's own target ("node"). */
function nodeEntry(list: ListEntry[] | undefined): ListEntry | undefined {
  return list?.find((entry) => entry.type === "node" && typeof entry.webSocketDebuggerUrl === "string");
}

export async function openInspector(target: Target): Promise<OpenInspector> {
  const before = listeningPorts(target.pid);
  const port = target.inspectPort;
  // Open already (started with --inspect, or an earlier SIGUSR1): use it, leave it open. Only
  // the inspector's port is asked (any port with --inspect-port=0): the others are the
  // program's own, and a request there is one its service would receive.
  for (const open of before.filter((candidate) => port === 0 || candidate === port)) {
    const entry = nodeEntry(await listTargets(open));
    if (!entry) continue;
    if (acceptedConnections(target.pid, open) > 0) throw new Refusal(`a debugger is already attached to pid ${target.pid} (its inspector on 127.0.0.1:${open} has a client); detach it first`);
    return { port: open, webSocketUrl: entry.webSocketDebuggerUrl!, opened: false, openedAtMs: performance.now() };
  }
  // --inspect-port=0: Node picks a free port; it is found as the one the process listens on afterwards.
  if (port !== 0 && portTaken(port)) throw new Refusal(`port ${port} on 127.0.0.1 is in use by another process, so pid ${target.pid}'s inspector cannot open there (start it with --inspect-port=<free port>, or free the port)`);
  const openedAtMs = performance.now();
  try {
    process.kill(target.pid, "SIGUSR1");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") throw new Refusal(`pid ${target.pid} ended before its inspector could be opened`);
    throw new Refusal(`cannot signal pid ${target.pid}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const deadline = Date.now() + OPEN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    for (const candidate of listeningPorts(target.pid)) {
      if (port !== 0 ? candidate !== port : before.includes(candidate)) continue;
      const entry = nodeEntry(await listTargets(candidate));
      if (entry) return { port: candidate, webSocketUrl: entry.webSocketDebuggerUrl!, opened: true, openedAtMs };
    }
    try {
      process.kill(target.pid, 0);
    } catch {
      throw new Refusal(`pid ${target.pid} ended while its inspector was being opened`);
    }
    await Bun.sleep(POLL_MS);
  }
  throw new Refusal(`pid ${target.pid}'s inspector did not open on 127.0.0.1:${port || "<any port>"} within ${OPEN_TIMEOUT_MS / 1000} s after SIGUSR1 (a port taken meanwhile, or the program handles SIGUSR1 itself)`);
}

interface Reply {
  id?: number;
  result?: unknown;
  error?: { message?: string };
}

/** A DevTools Protocol connection: one request at a time is all scope needs, but ids keep replies apart. */
export class CdpClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  /** Notifications (messages without an id) by method. */
  private readonly listeners = new Map<string, (params: unknown) => void>();
  private closed = false;

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      let reply: Reply;
      try {
        reply = JSON.parse(String(event.data)) as Reply;
      } catch {
        return;
      }
      if (reply.id === undefined) {
        const notification = reply as { method?: string; params?: unknown };
        if (typeof notification.method === "string") this.listeners.get(notification.method)?.(notification.params);
        return;
      }
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.error) waiter.reject(new Error(reply.error.message ?? "inspector error"));
      else waiter.resolve(reply.result);
    });
    socket.addEventListener("close", () => {
      this.closed = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error("the inspector closed the connection"));
      this.pending.clear();
    });
  }

  static connect(url: string): Promise<CdpClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const timer = setTimeout(() => {
        socket.close();
        reject(new Error("no answer from the inspector"));
      }, 10_000);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(new CdpClient(socket));
      });
      socket.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new Error("cannot connect to the inspector"));
      });
    });
  }

  /** Calls `listener` with each notification of `method` from now on (one listener a method; undefined removes it). */
  on(method: string, listener: ((params: unknown) => void) | undefined): void {
    if (listener) this.listeners.set(method, listener);
    else this.listeners.delete(method);
  }

  send(method: string, params: object = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error("the inspector connection is closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Runtime.evaluate of `expression` (awaiting a promise it returns); the value, or throws with the exception's text. */
  async evaluate(expression: string): Promise<unknown> {
    const reply = (await this.send("Runtime.evaluate", { expression, includeCommandLineAPI: true, awaitPromise: true, returnByValue: true })) as {
      result?: { value?: unknown };
      exceptionDetails?: { text?: string; exception?: { description?: string } };
    };
    if (reply.exceptionDetails) throw new Error(reply.exceptionDetails.exception?.description?.split("\n")[0] ?? reply.exceptionDetails.text ?? "exception");
    return reply.result?.value;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.addEventListener("close", () => resolve());
      this.socket.close();
      setTimeout(resolve, 2000).unref();
    });
  }
}

/**
 * Closes an inspector scope opened: disconnects, then (once this connection is gone:
 * inspector.close() blocks the process's thread while connections remain) has it closed,
 * by `closeAfter` (the loaded agent, through its control file) or, without an agent, by
 * evaluating the close on a timer before disconnecting; waits until the port is closed.
 * Returns the ms from the signal until then.
 */
export async function closeInspector(client: CdpClient, inspector: OpenInspector, pid: number, closeAfter?: () => Promise<unknown>): Promise<number | undefined> {
  if (inspector.opened && !closeAfter) {
    try {
      await client.evaluate(`void setTimeout(() => ${REQUIRE_EXPRESSION}("node:inspector").close(), 20)`);
    } catch {
      // The process may have ended: nothing left to close.
    }
  }
  await client.close();
  if (!inspector.opened) return undefined;
  if (closeAfter) await closeAfter();
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && listeningPorts(pid).includes(inspector.port)) await Bun.sleep(5);
  return performance.now() - inspector.openedAtMs;
}
