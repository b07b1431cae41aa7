/**
 * Messages between threads and processes in a process scope attached to: the records of
 * `scope run`'s agent (message_send, message_receive; src/agent/node/ports.ts, hooks.ts),
 * installed live and taken back exactly by `remove()`: every prototype method and property
 * scope replaced is put back as the descriptor it was (the same function object), and an
 * own property scope added is deleted. Should the program have replaced one of them on top
 * of scope's since, scope's stays under it as a pass-through (taking the program's away
 * would change its behaviour).
 *
 * Recorded: MessagePort sends and runtime deliveries (postMessage, the kHybridDispatch
 * delivery, receiveMessageOnPort) on the channels created after the attach: the ports of
 * workers started while attached (parent side: the worker's public port, registered by
 * Worker.prototype.postMessage or the process's 'worker' event, whichever comes first, with
 * the worker's thread_spawn and, by an 'exit' listener remove() takes off, thread_exited;
 * the worker side only when a worker's agent was loaded before its code (options.newWorker;
 * not done for now: agent-workers.ts)),
 * and MessageChannels constructed through the module's or the global MessageChannel after
 * the attach; the process's own IPC channel to its parent (process.send, its 'message'
 * emits). Of a channel that existed before the attach only this thread's end is recorded,
 * from the attach on (both ends would start counting at different moments, and a message in
 * flight at the attach would shift every later pairing): a worker running at the attach (its
 * public port registered at the program's first send to it or its first delivery, seen as its
 * Worker's 'message' emit), and a forked child running at the attach (hookChildrenBefore).
 * Those records are unpaired. A MessageChannel made before the attach is not recorded.
 * Children forked (or spawned with an 'ipc' stdio) while attached: the parent's end of their
 * IPC channel from its start (hooked in the spawn call, so a send right after fork() counts);
 * the child itself is not traced (agent-http.ts), so these are unpaired too.
 */
import type * as WorkerThreads from "node:worker_threads";
import { ChannelKind, Kind } from "../agent/shared/kinds";
import { type Channel, newChannel, type Tracer } from "../agent/node/hooks";
import { renamed } from "../agent/shared/reflect";

const kHybridDispatch = Symbol.for("nodejs.internal.kHybridDispatch");

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

export interface MessageHooks {
  remove(): void;
}

export interface MessageOptions {
  /** Workers of this thread with a threadId above this one were started after the attach. */
  newWorkerAbove: number;
  /** This thread is a worker started after the attach: its parentPort is counted from its start. */
  newWorker: boolean;
}

/** A property replaced (or added) by scope and how to put it back. */
class Patch {
  private readonly original: PropertyDescriptor | undefined;
  private replacement: unknown;

  constructor(
    private readonly target: object,
    private readonly key: PropertyKey,
    replacement: unknown,
    /** Read before anything touched the property (a lazy global's accessor replaces itself when read). */
    original = Object.getOwnPropertyDescriptor(target, key),
  ) {
    this.original = original;
    this.replacement = replacement;
    const enumerable = this.original?.enumerable ?? false;
    Object.defineProperty(target, key, { configurable: true, writable: true, enumerable, value: replacement });
  }

  /** True when the original is back; false when the program's replacement sits on top of scope's. */
  undo(): boolean {
    const current = Object.getOwnPropertyDescriptor(this.target, this.key);
    if (current === undefined || !("value" in current) || current.value !== this.replacement) return false;
    if (this.original) Object.defineProperty(this.target, this.key, this.original);
    else delete (this.target as Record<PropertyKey, unknown>)[this.key];
    return true;
  }
}

export function hookMessages(tracer: Tracer, threads: typeof WorkerThreads, options: MessageOptions): MessageHooks {
  const { recorder } = tracer;
  const channels = new WeakMap<object, Channel>();
  const patches: Patch[] = [];
  /** Off after remove(): what stays behind (under a program's replacement) passes through. */
  let active = true;
  /** The port whose delivery is running, while it has no channel (a worker's started before the attach, or Node's own). */
  let delivering: object | undefined;
  let portCounter = 0;
  const newPortChannelId = (): number => (tracer.tid * 0x100000 + 0x80000 + (portCounter++ % 0x80000)) % 0x7fffffff;

  if (options.newWorker && threads.parentPort) channels.set(threads.parentPort, newChannel(ChannelKind.worker, threads.threadId, process.pid, 1, 0));

  const proto = (threads.MessagePort as unknown as { prototype: Record<PropertyKey, unknown> }).prototype;
  const originalPost = proto.postMessage as AnyFunction;
  patches.push(
    new Patch(
      proto,
      "postMessage",
      renamed(originalPost, function postMessage(this: object) {
        const state = active ? channels.get(this) : undefined;
        if (!state) return Reflect.apply(originalPost, this, arguments);
        const ordinal = tracer.send(state, arguments[0]);
        try {
          return Reflect.apply(originalPost, this, arguments);
        } catch (error) {
          tracer.sendFailed(state, ordinal);
          throw error;
        }
      }),
    ),
  );

  // Inherited (NodeEventTarget): an own property scope adds, deleted again by remove().
  const inheritedDispatch = proto[kHybridDispatch] as AnyFunction | undefined;
  if (typeof inheritedDispatch !== "function") throw new Error("MessagePort dispatch hook not found");
  patches.push(
    new Patch(proto, kHybridDispatch, function (this: object, value: unknown, _type: unknown, event: unknown) {
      // The runtime delivers with no event object; dispatchEvent() by the program passes one.
      if (active && event === undefined) {
        const state = channels.get(this);
        if (state) recorder.safe(() => tracer.receive(state, value));
        else {
          // Maybe the public port of a worker started before the attach: its Worker's 'message' emit (below) tells.
          const previous = delivering;
          delivering = this;
          try {
            return Reflect.apply(inheritedDispatch, this, arguments);
          } finally {
            delivering = previous;
          }
        }
      }
      return Reflect.apply(inheritedDispatch, this, arguments);
    }),
  );

  const originalReceive = threads.receiveMessageOnPort as AnyFunction;
  patches.push(
    new Patch(
      threads,
      "receiveMessageOnPort",
      renamed(originalReceive, function receiveMessageOnPort(this: unknown, port: unknown) {
        const result = Reflect.apply(originalReceive, this, arguments) as { message: unknown } | undefined;
        if (active && result !== undefined && port !== null && typeof port === "object") {
          const state = channels.get(port);
          if (state) recorder.safe(() => tracer.receive(state, result.message));
        }
        return result;
      }),
    ),
  );

  // MessageChannel: direction 0 is port1 -> port2, 1 is port2 -> port1.
  const OriginalChannel = threads.MessageChannel;
  const channelProxy = new Proxy(OriginalChannel, {
    construct(target, args, newTarget) {
      const pair = Reflect.construct(target, args, newTarget) as WorkerThreads.MessageChannel;
      if (active)
        recorder.safe(() => {
          const subId = newPortChannelId();
          channels.set(pair.port1, newChannel(ChannelKind.port, subId, process.pid, 0, 1));
          channels.set(pair.port2, newChannel(ChannelKind.port, subId, process.pid, 1, 0));
        });
      return pair;
    },
  });
  patches.push(new Patch(threads, "MessageChannel", channelProxy));
  // Node 20's global is a lazy accessor until first read: put back as it was, accessor included.
  const globalDescriptor = Object.getOwnPropertyDescriptor(globalThis, "MessageChannel");
  const globalValue = globalDescriptor === undefined ? undefined : "value" in globalDescriptor ? globalDescriptor.value : globalDescriptor.get?.call(globalThis);
  if (globalValue === OriginalChannel) patches.push(new Patch(globalThis, "MessageChannel", channelProxy, globalDescriptor));

  // Workers started after the attach: their public port, before the first send of the program's.
  let publicPortKey: symbol | undefined;
  const publicPort = (worker: WorkerThreads.Worker): object | null => {
    publicPortKey ??= Object.getOwnPropertySymbols(worker).find((symbol) => symbol.description === "kPublicPort");
    return publicPortKey ? ((worker as unknown as Record<symbol, object | null>)[publicPortKey] ?? null) : null;
  };
  const registerWorker = (worker: WorkerThreads.Worker) => {
    // A dead worker's threadId reads -1.
    if (!(worker.threadId > 0)) return;
    const port = publicPort(worker);
    if (!port || channels.has(port)) return;
    channels.set(port, newChannel(ChannelKind.worker, worker.threadId, process.pid, 0, 1));
    // Started before the attach: its channel counted from here on, its start and end not seen.
    if (!(worker.threadId > options.newWorkerAbove)) return;
    // Its start and its end as the parent sees them (the worker itself is not traced: agent.ts).
    // Read now: a worker's threadId reads -1 once it has ended.
    const threadId = worker.threadId;
    if (recorder.groups.thread) recorder.event(Kind.thread_spawn, threadId, 0);
    const onExit = (code: unknown) => {
      workers.delete(worker);
      recorder.safe(() => recorder.event(Kind.thread_exited, threadId, typeof code === "number" ? code : -1));
    };
    worker.once("exit", onExit);
    workers.set(worker, onExit);
  };
  /** Workers whose 'exit' listener is scope's, taken off at remove(). */
  const workers = new Map<WorkerThreads.Worker, (code: unknown) => void>();
  const workerProto = threads.Worker.prototype as unknown as Record<string, unknown>;
  const originalWorkerPost = workerProto.postMessage as AnyFunction;
  patches.push(
    new Patch(
      workerProto,
      "postMessage",
      renamed(originalWorkerPost, function postMessage(this: WorkerThreads.Worker) {
        if (active) recorder.safe(() => registerWorker(this));
        return Reflect.apply(originalWorkerPost, this, arguments);
      }),
    ),
  );
  // A worker started before the attach that sends before the program does: its public port's
  // delivery (the dispatch above, `delivering`) reaches the program as the Worker's 'message'
  // emit. Its channel is made there and this first message counted; the next ones by the dispatch.
  const originalWorkerEmit = workerProto.emit as AnyFunction;
  const workerEmit = function emit(this: WorkerThreads.Worker, event: unknown, message: unknown) {
    if (active && event === "message" && delivering !== undefined) {
      recorder.safe(() => {
        const port = publicPort(this);
        if (port !== delivering || channels.has(port)) return;
        registerWorker(this);
        const state = channels.get(port);
        if (state) tracer.receive(state, message);
      });
    }
    return Reflect.apply(originalWorkerEmit, this, arguments);
  };
  Object.defineProperty(workerEmit, "length", { value: originalWorkerEmit.length });
  patches.push(new Patch(workerProto, "emit", workerEmit));
  // Emitted on the next tick after a Worker's construction, before any message of the worker's is delivered.
  const onWorker = (worker: WorkerThreads.Worker) => recorder.safe(() => registerWorker(worker));
  process.on("worker", onWorker);

  // The process's own IPC channel (a forked child or a cluster worker): its parent is not in this trace.
  const ipc = process as unknown as { send?: AnyFunction; connected?: boolean; emit: AnyFunction };
  if (typeof ipc.send === "function" && threads.isMainThread) {
    const own = newChannel(ChannelKind.ipc, 0, process.pid, 1, 0);
    hookIpcEnd(tracer, patches, ipc, () => own, () => active);
  }

  if (threads.isMainThread) recorder.safe(() => hookChildrenBefore(tracer, patches, () => active));
  // Children forked while attached: the parent's end of each one's IPC channel, from its start.
  // Node publishes 'child_process' in the ChildProcess constructor, before spawn() sets up the
  // channel (its own `send`) and the pid, and the program may send right after fork()
  // returns: the child gets an own `spawn` for that one call, which hooks the channel as
  // spawn() returns and deletes itself (the object is as Node made it again; a ChildProcess
  // made by hand and not spawned by the next microtask loses it).
  const diagnostics = require("node:diagnostics_channel") as typeof import("node:diagnostics_channel");
  const onChild = (data: unknown) => {
    const child = (data as { process?: unknown } | null)?.process as { spawn?: AnyFunction } | undefined;
    if (!active || !child || typeof child.spawn !== "function" || Object.hasOwn(child, "spawn")) return;
    const spawn = child.spawn;
    const release = () => {
      if (Object.getOwnPropertyDescriptor(child, "spawn")?.value === ownSpawn) delete child.spawn;
    };
    const ownSpawn = renamed(spawn, function (this: unknown) {
      release();
      const result = Reflect.apply(spawn, this, arguments);
      recorder.safe(() => active && hookChildIpc(tracer, patches, child, () => active));
      return result;
    });
    Object.defineProperty(child, "spawn", { value: ownSpawn, writable: true, enumerable: false, configurable: true });
    queueMicrotask(release);
  };
  diagnostics.subscribe("child_process", onChild);

  return {
    remove() {
      active = false;
      diagnostics.unsubscribe("child_process", onChild);
      process.off("worker", onWorker);
      for (const [worker, onExit] of workers) worker.off("exit", onExit);
      workers.clear();
      for (const patch of patches.reverse()) {
        if (!patch.undo()) recorder.fail(new Error("a message hook was replaced by the program since: left as a pass-through"));
      }
      patches.length = 0;
    },
  };
}

function isInternalMessage(message: unknown): boolean {
  if (message === null || typeof message !== "object") return false;
  const descriptor = Object.getOwnPropertyDescriptor(message, "cmd");
  const cmd = descriptor && "value" in descriptor ? descriptor.value : undefined;
  return typeof cmd === "string" && cmd.length > 5 && cmd.startsWith("NODE_");
}

/**
 * Forked children running at the attach: the parent's end of each one's IPC channel, counted
 * from the attach on (its sends, the child's 'message' emits). Found among the process's active
 * handles (a ChildProcess is its Process handle's owner); one unref()'d is not listed there and
 * stays unrecorded. The child's `send` (its own property, set by Node at the spawn) is put back
 * and the own `emit` added is deleted at the detach (`patches`).
 */
function hookChildrenBefore(tracer: Tracer, patches: Patch[], active: () => boolean): void {
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
  if (!Array.isArray(list) || !list.includes("NativeModule child_process")) return;
  const getHandles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles;
  if (typeof getHandles !== "function") return;
  const { ChildProcess } = require("node:child_process") as typeof import("node:child_process");
  for (const handle of Reflect.apply(getHandles, process, []) as unknown[]) {
    if (handle instanceof ChildProcess) hookChildIpc(tracer, patches, handle, active);
  }
}

/**
 * The parent's end of a child's IPC channel (a fork, a spawn with an 'ipc' stdio, a cluster
 * worker's process), counted from now; nothing for a child without one or hooked already.
 */
function hookChildIpc(tracer: Tracer, patches: Patch[], handle: unknown, active: () => boolean): void {
  const child = handle as { send?: AnyFunction; connected?: boolean; emit: AnyFunction; pid?: number };
  const pid = child.pid;
  if (typeof child.send !== "function" || !pid || !Object.hasOwn(child, "send") || Object.hasOwn(child, "emit")) return;
  // Its kind at its first message: cluster.fork lists its worker only after the fork returns.
  let channel: Channel | undefined;
  const channelOf = () => {
    if (channel) return channel;
    const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
    const clusterLoaded = Array.isArray(list) && list.includes("NativeModule cluster");
    const cluster = clusterLoaded && Object.values((require("node:cluster") as typeof import("node:cluster")).workers ?? {}).some((worker) => worker?.process === handle);
    return (channel = newChannel(cluster ? ChannelKind.cluster : ChannelKind.ipc, 0, pid, 0, 1));
  };
  hookIpcEnd(tracer, patches, child, channelOf, active);
}

/**
 * One end of an IPC channel (the process's own, or a forked child's as its parent holds it):
 * its `send` counted (a send that throws marked failed) and its 'message' emits received,
 * Node's internal messages left out, while `active()`; both undone at the detach (`patches`).
 */
function hookIpcEnd(tracer: Tracer, patches: Patch[], owner: { send?: AnyFunction; connected?: boolean; emit: AnyFunction }, channelOf: () => Channel, active: () => boolean): void {
  const originalSend = owner.send as AnyFunction;
  patches.push(
    new Patch(
      owner,
      "send",
      renamed(originalSend, function send(this: typeof owner, message: unknown) {
        const counted = active() && this.connected === true && !isInternalMessage(message);
        const ordinal = counted ? tracer.send(channelOf(), message) : -1;
        try {
          return Reflect.apply(originalSend, this, arguments);
        } catch (error) {
          if (counted) tracer.sendFailed(channelOf(), ordinal);
          throw error;
        }
      }),
    ),
  );
  const originalEmit = owner.emit;
  const emit = function emit(this: unknown, event: unknown, message: unknown) {
    if (active() && event === "message" && !isInternalMessage(message)) tracer.recorder.safe(() => tracer.receive(channelOf(), message));
    return Reflect.apply(originalEmit, this, arguments);
  };
  Object.defineProperty(emit, "length", { value: originalEmit.length });
  patches.push(new Patch(owner, "emit", emit));
}
