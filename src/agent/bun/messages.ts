/**
 * Messages in Bun: Web Worker postMessage both ways (global `Worker`, the worker's
 * `self`/global `postMessage` and its `node:worker_threads` `parentPort`), and IPC
 * received by a Bun child from its parent (`process.on('message')`).
 *
 * Pairing is Node's (src/agent/node/hooks.ts): each FIFO channel is counted at both
 * ends; worker channels are (worker, owner pid, worker threadId, direction 0 = parent →
 * worker, 1 = worker → parent); the IPC channel is (ipc|cluster, child pid, 0,
 * direction 0 = parent → child). Nothing travels inside a message.
 *
 * Bun delivers these messages natively: it calls the program's listeners directly,
 * never through a JS method the agent could wrap (no `emit`, no dispatch hook). So a
 * receive is recorded by the program's own 'message' listeners, wrapped as they are
 * registered; the agent never adds a listener of its own (in Bun a 'message' listener
 * on `self` or `process` keeps the thread or process alive). Consequences:
 *   - each delivery is recorded once however many listeners it reaches (the first
 *     wrapped listener records it), before that listener runs;
 *   - a message delivered while the receiving end has no 'message' listener (and no
 *     onmessage) is lost to the program and is not recorded: its send stays unlinked
 *     and every later receive of that channel direction pairs one send too early.
 *     Bun drops such messages (it does not queue them until a listener comes), so this
 *     happens only to programs that register their listener late or remove it early;
 *   - events the program dispatches itself (`dispatchEvent(new MessageEvent(...))`,
 *     `process.emit('message', ...)`) are not counted: only trusted (native) events.
 * Listener identity is kept: one stable wrapper per (target, listener), so
 * removeEventListener/off/removeListener with the original function remove it,
 * registering the same function twice behaves as untraced, and listeners()/
 * rawListeners()/onmessage read back the program's own functions.
 */
import { ChannelKind, MAX_SUB_ID } from "../shared/kinds";
import { newChannel, ownIpcChannel, type Channel, type Tracer } from "../node/hooks";
import { findPorts } from "../node/ports";
import { SharedState } from "../node/shared-state";
import { renamed } from "../shared/reflect";
import type { WebSocketChannels } from "../shared/websocket";

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

function replaceMethod(owner: object, name: string, make: (original: AnyFunction) => AnyFunction): void {
  const descriptor = Object.getOwnPropertyDescriptor(owner, name);
  const original = (owner as Record<string, unknown>)[name];
  if (typeof original !== "function") throw new Error(`${name} is not a function`);
  const replacement = renamed(original, make(original as AnyFunction));
  Object.defineProperty(owner, name, {
    value: replacement,
    writable: descriptor?.writable ?? true,
    enumerable: descriptor?.enumerable ?? false,
    configurable: true,
  });
}

export function workerChannel(threadId: number, ownerPid: number, inWorker: boolean): Channel {
  return newChannel(ChannelKind.worker, threadId, ownerPid, inWorker ? 1 : 0, inWorker ? 0 : 1);
}

/**
 * Records a send about to be handed to the runtime; a send that throws is marked failed.
 * MessagePorts in the transfer list (an array or `{ transfer }`) leave with it: their
 * state is published under (this channel, this ordinal, index among the transferred
 * ports) for the receiver, which finds them in its event's `ports` (transfer order).
 */
function sendThrough(tracer: Tracer, channel: Channel, original: AnyFunction, self: unknown, args: IArguments | unknown[], messages?: WorkerMessages): unknown {
  const tokens = messages && args.length > 1 ? messages.handOver(channel, args[1]) : undefined;
  const ordinal = tracer.send(channel, args[0]);
  try {
    return Reflect.apply(original, self, args);
  } catch (error) {
    if (tokens) messages?.shared?.cancel(tokens);
    tracer.sendFailed(channel, ordinal);
    throw error;
  }
}

/**
 * EventTarget side: worker channels keyed by their target (a Worker in the parent,
 * the global `self` in a worker), 'message' listeners wrapped per target.
 */
export class WorkerMessages {
  readonly channels = new WeakMap<object, Channel>();
  private readonly wrappers = new WeakMap<object, WeakMap<object, AnyFunction>>();
  private readonly originals = new WeakMap<AnyFunction, unknown>();
  private readonly seen = new WeakSet<object>();
  /** Set once the thread's recorder exists; no channel is registered before. */
  tracer: Tracer | undefined;
  /**
   * While a node:worker_threads Worker is being constructed: the holder its runtime's
   * own 'message'/'close' listeners (on its internal Web Worker and public port) are
   * tied to, so that an emit of 'message'/'exit' on it is known to be a native delivery.
   */
  capturing: { worker: object | undefined } | undefined;
  /** The node:worker_threads Worker whose native delivery is running, if any. */
  delivering: object | undefined;
  /** Per-process shared state (transferred ports, BroadcastChannel counters); see hookPorts. */
  shared: SharedState | undefined;
  /** node:worker_threads' MessagePort class, once hookPorts ran. */
  MessagePortClass: (abstract new () => object) | undefined;
  /** WebSocket clients (websocket.ts): their receives carry a preview; their channel is made at first use. */
  websocket: WebSocketChannels | undefined;
  lazyChannel: ((target: object) => Channel | undefined) | undefined;

  /** The channel of a target, made now for a WebSocket client first used. */
  channelOf(target: object): Channel | undefined {
    return this.channels.get(target) ?? this.lazyChannel?.(target);
  }

  /** Publishes the state of the registered ports in `transfer` that leave with the next send of `carrier`. */
  handOver(carrier: Channel, transfer: unknown): number[] | undefined {
    const shared = this.shared;
    const PortClass = this.MessagePortClass;
    if (!shared || !PortClass || transfer === undefined || transfer === null) return undefined;
    const list = Array.isArray(transfer) ? transfer : (transfer as { transfer?: unknown }).transfer;
    if (!Array.isArray(list)) return undefined;
    const tokens: number[] = [];
    list
      .filter((item) => item instanceof PortClass)
      .forEach((port, index) => {
        const state = this.channels.get(port as object);
        if (!state || state.kind !== ChannelKind.port) return;
        const token = shared.publish(carrier, carrier.sent, index, state);
        if (token >= 0) tokens.push(token);
      });
    return tokens;
  }

  /** Takes over the state of ports that arrived with receive `ordinal` of `carrier`. */
  adopt(carrier: Channel, ordinal: number, ports: unknown): void {
    const shared = this.shared;
    if (!shared || !Array.isArray(ports)) return;
    ports.forEach((port, index) => {
      if (port === null || typeof port !== "object") return;
      const state = shared.take(carrier, ordinal, index);
      if (state) this.channels.set(port, state);
    });
  }

  /** A receive of `value` on `channel` (ports, if any, in transfer order). */
  received(channel: Channel, value: unknown, ports: unknown): void {
    const ordinal = channel.received;
    if (channel.kind === ChannelKind.broadcast) this.shared?.beforeBroadcastReceive(channel);
    if (channel.kind === ChannelKind.websocket) {
      this.websocket?.receive(channel, value);
      return;
    }
    this.tracer?.receive(channel, value);
    if (Array.isArray(ports) && ports.length > 0) this.adopt(channel, ordinal, ports);
  }

  /** MessagePorts inside a value (own data properties, fixed walk order), for deliveries without an event. */
  portsIn(value: unknown): object[] {
    const PortClass = this.MessagePortClass;
    if (!PortClass || !this.shared) return [];
    return findPorts(value, PortClass, this.tracer?.types);
  }

  /** A runtime-internal listener registered while `capturing`: marks its calls as native deliveries. */
  private internalListener(holder: { worker: object | undefined }, listener: unknown): AnyFunction | undefined {
    if (typeof listener !== "function") return undefined;
    const messages = this;
    return function (this: unknown) {
      const outer = messages.delivering;
      messages.delivering = holder.worker;
      try {
        return Reflect.apply(listener as AnyFunction, this, arguments);
      } finally {
        messages.delivering = outer;
      }
    };
  }

  /** A native delivery of `event` on `channel`, recorded the first time any listener sees it. */
  delivered(channel: Channel, event: unknown): void {
    if (event === null || typeof event !== "object" || this.seen.has(event)) return;
    const trusted = (event as { isTrusted?: unknown }).isTrusted === true;
    if (!trusted) return;
    this.seen.add(event);
    this.received(channel, (event as { data?: unknown }).data, (event as { ports?: unknown }).ports);
  }

  wrapperFor(target: object, channel: Channel, listener: unknown): AnyFunction | undefined {
    if (listener === null || (typeof listener !== "function" && typeof listener !== "object")) return undefined;
    let byListener = this.wrappers.get(target);
    if (!byListener) this.wrappers.set(target, (byListener = new WeakMap()));
    let wrapper = byListener.get(listener as object);
    if (wrapper) return wrapper;
    const messages = this;
    wrapper = function (this: unknown, event: unknown) {
      try {
        messages.delivered(channel, event);
      } catch (error) {
        messages.tracer?.recorder.fail(error);
      }
      if (typeof listener === "function") return Reflect.apply(listener as AnyFunction, this, arguments);
      return Reflect.apply((listener as { handleEvent: AnyFunction }).handleEvent, listener, arguments);
    };
    byListener.set(listener as object, wrapper);
    this.originals.set(wrapper, listener);
    return wrapper;
  }

  /** The program's function behind a wrapper (or the value itself). */
  original(value: unknown): unknown {
    return typeof value === "function" && this.originals.has(value as AnyFunction) ? this.originals.get(value as AnyFunction) : value;
  }

  /** Wraps addEventListener/removeEventListener on `owner` (EventTarget.prototype or a worker's global). */
  hookListenerMethods(owner: object): void {
    const messages = this;
    const targetOf = (self: unknown) => (self === undefined || self === null ? globalThis : self) as object;
    replaceMethod(owner, "addEventListener", (original) =>
      function addEventListener(this: unknown, type: unknown, listener: unknown) {
        const holder = messages.capturing;
        if (holder !== undefined && (type === "message" || type === "close")) {
          const internal = messages.internalListener(holder, listener);
          if (internal) {
            const args = Array.prototype.slice.call(arguments);
            args[1] = internal;
            return Reflect.apply(original, this, args);
          }
        }
        if (type !== "message" || listener === null || listener === undefined) return Reflect.apply(original, this, arguments);
        const target = targetOf(this);
        const channel = messages.channelOf(target);
        const wrapper = channel ? messages.wrapperFor(target, channel, listener) : undefined;
        if (!wrapper) return Reflect.apply(original, this, arguments);
        const args = Array.prototype.slice.call(arguments);
        args[1] = wrapper;
        return Reflect.apply(original, this, args);
      },
    );
    replaceMethod(owner, "removeEventListener", (original) =>
      function removeEventListener(this: unknown, type: unknown, listener: unknown) {
        if (type !== "message" || listener === null || typeof listener !== "object" && typeof listener !== "function") return Reflect.apply(original, this, arguments);
        const wrapper = messages.wrappers.get(targetOf(this))?.get(listener as object);
        if (!wrapper) return Reflect.apply(original, this, arguments);
        const args = Array.prototype.slice.call(arguments);
        args[1] = wrapper;
        return Reflect.apply(original, this, args);
      },
    );
  }

  /** `onmessage` as a real accessor (Worker.prototype): the native slot holds the wrapper. */
  hookHandlerAccessor(owner: object): void {
    const descriptor = Object.getOwnPropertyDescriptor(owner, "onmessage");
    if (!descriptor?.get || !descriptor.set) throw new Error("onmessage accessor not found");
    const { get, set } = descriptor;
    const messages = this;
    Object.defineProperty(owner, "onmessage", {
      configurable: true,
      enumerable: descriptor.enumerable ?? false,
      get: renamed(get, function (this: unknown) {
        return messages.original(Reflect.apply(get, this, []));
      }),
      set: renamed(set, function (this: unknown, value: unknown) {
        const target = this as object;
        const channel = typeof value === "function" && target !== null && typeof target === "object" ? messages.channelOf(target) : undefined;
        const wrapper = channel ? messages.wrapperFor(target, channel, value) : undefined;
        Reflect.apply(set, this, [wrapper ?? value]);
      }),
    });
  }

  /**
   * A worker's global `onmessage`: in Bun 1.4.5 a native value slot (no setter to
   * call), so it is emulated as the HTML event-handler attribute is specified: one
   * listener added (through the unwrapped addEventListener) when set to an object,
   * replaced in place, removed when set to anything else. Liveness follows, as with the
   * native slot: a worker with a handler stays alive, one without does not.
   */
  emulateGlobalHandler(global: typeof globalThis, channel: Channel, add: AnyFunction, remove: AnyFunction): void {
    const descriptor = Object.getOwnPropertyDescriptor(global, "onmessage");
    if (!descriptor || !("value" in descriptor) || descriptor.configurable !== true) throw new Error("global onmessage is not a configurable value");
    let handler: unknown = descriptor.value ?? null;
    if (handler !== null) throw new Error("global onmessage already set");
    const messages = this;
    const trampoline = function onmessage(this: unknown, event: unknown) {
      try {
        messages.delivered(channel, event);
      } catch (error) {
        messages.tracer?.recorder.fail(error);
      }
      const current = handler;
      if (typeof current === "function") return Reflect.apply(current as AnyFunction, this, arguments);
      // A non-callable object: the runtime would throw calling it; so does this.
      return Reflect.apply(current as AnyFunction, this, arguments);
    };
    Object.defineProperty(global, "onmessage", {
      configurable: true,
      enumerable: descriptor.enumerable ?? true,
      get: function onmessage() {
        return handler;
      },
      set: function onmessage(value: unknown) {
        const next = value !== null && (typeof value === "object" || typeof value === "function") ? value : null;
        if (next === null && handler !== null) Reflect.apply(remove, global, ["message", trampoline]);
        else if (next !== null && handler === null) Reflect.apply(add, global, ["message", trampoline]);
        handler = next;
      },
    });
  }
}

/** Bun's web Worker in the parent: channels registered by the Worker proxy (install.ts). */
export function hookWorkerParentSide(tracer: Tracer, messages: WorkerMessages, WorkerClass: { prototype: object }): void {
  // EventTarget.prototype's listener methods are wrapped by install.ts (hookListenerMethods).
  messages.hookHandlerAccessor(WorkerClass.prototype);
  replaceMethod(WorkerClass.prototype, "postMessage", (original) =>
    function postMessage(this: unknown) {
      const channel = this !== null && typeof this === "object" ? messages.channels.get(this) : undefined;
      if (!channel) return Reflect.apply(original, this, arguments);
      return sendThrough(tracer, channel, original, this, arguments, messages);
    },
  );
}

/**
 * Inside a web Worker, before node:worker_threads is first loaded (its fake parentPort
 * binds the global addEventListener/removeEventListener once, when it is created):
 * wraps the global's own listener methods. Returns the unwrapped ones.
 */
export function hookWorkerGlobalListeners(messages: WorkerMessages): { add: AnyFunction; remove: AnyFunction } | undefined {
  const global = globalThis as unknown as Record<string, unknown>;
  if (!Object.hasOwn(global, "addEventListener") || !Object.hasOwn(global, "removeEventListener")) return undefined;
  const add = global.addEventListener as AnyFunction;
  const remove = global.removeEventListener as AnyFunction;
  messages.hookListenerMethods(global);
  return { add, remove };
}

/**
 * Inside a web Worker, once the thread id is known: the channel to the parent, global
 * postMessage, the global onmessage, and node:worker_threads' parentPort (a plain object
 * whose postMessage calls the native function directly: replaced in the module's
 * exports by a copy whose postMessage is counted, before the program can import it).
 */
export function hookWorkerSide(
  tracer: Tracer,
  messages: WorkerMessages,
  threads: typeof import("node:worker_threads"),
  originals: { add: AnyFunction; remove: AnyFunction },
): void {
  const global = globalThis;
  const channel = workerChannel(threads.threadId, process.pid, true);
  messages.channels.set(global, channel);
  messages.emulateGlobalHandler(global, channel, originals.add, originals.remove);
  replaceMethod(global, "postMessage", (original) =>
    function postMessage(this: unknown) {
      return sendThrough(tracer, channel, original, this, arguments, messages);
    },
  );
  // A node:worker_threads Worker: parentPort is a real MessagePort (the other end of the
  // parent Worker's public port). Its messages and the global's are one logical channel:
  // the parent's Worker emits both as 'message' (see hookNodeWorkerParentSide).
  const port = threads.parentPort as unknown;
  // (A Web Worker's fake parentPort also inherits from MessagePort but has its own postMessage.)
  if (port instanceof threads.MessagePort && !Object.hasOwn(port, "postMessage")) {
    // Sends and onmessage: MessagePort.prototype, hooked by hookPorts.
    messages.channels.set(port, channel);
    return;
  }
  const fake = threads.parentPort as unknown as Record<string, unknown> | null;
  const fakePost = fake ? Object.getOwnPropertyDescriptor(fake, "postMessage") : undefined;
  if (!fake || !fakePost || typeof fakePost.value !== "function") return;
  const descriptors = Object.getOwnPropertyDescriptors(fake);
  const originalPost = fakePost.value as AnyFunction;
  descriptors.postMessage = {
    ...fakePost,
    value: renamed(originalPost, function postMessage(this: unknown) {
      return sendThrough(tracer, channel, originalPost, this, arguments, messages);
    }),
  };
  const copy = Object.create(Object.getPrototypeOf(fake), descriptors);
  const exportsDescriptor = Object.getOwnPropertyDescriptor(threads, "parentPort");
  if (exportsDescriptor?.writable !== true && exportsDescriptor?.configurable !== true) throw new Error("parentPort export is read-only");
  Object.defineProperty(threads, "parentPort", { ...exportsDescriptor, value: copy });
}

/**
 * MessagePorts and BroadcastChannel, in every thread. Ports are registered when their
 * MessageChannel is made (direction 0 is port1 → port2, 1 is port2 → port1, sub-id
 * from this thread's id and a counter), when they arrive transferred (their state taken
 * from the shared table, src/agent/node/shared-state.ts) and as a node:worker_threads
 * worker's parentPort. Sends: MessagePort.prototype.postMessage, registered ports only.
 * Receives: the program's own listeners (addEventListener, which `on`/`once` use, and
 * the `onmessage` accessor), wrapped, and `receiveMessageOnPort`. Bun queues a port's
 * messages until it is started, so a late listener still sees (and counts) them.
 * BroadcastChannel: Node's scheme (shared-state.ts), with the channel object itself as
 * the delivering target; Bun copies a message to the other members inside postMessage
 * (a member made after a send returned does not get it), as Node does.
 */
export function hookPorts(tracer: Tracer, messages: WorkerMessages, threads: typeof import("node:worker_threads")): void {
  const { recorder } = tracer;
  messages.shared = SharedState.connect(threads, recorder);
  const MessagePortClass = threads.MessagePort as unknown as abstract new () => object;
  messages.MessagePortClass = MessagePortClass;
  const proto = MessagePortClass.prototype as object;
  messages.hookHandlerAccessor(proto);
  replaceMethod(proto, "postMessage", (original) =>
    function postMessage(this: unknown) {
      const channel = this !== null && typeof this === "object" ? messages.channels.get(this) : undefined;
      if (!channel) return Reflect.apply(original, this, arguments);
      return sendThrough(tracer, channel, original, this, arguments, messages);
    },
  );

  let portCounter = 0;
  const port = (subId: number, sendDirection: number): Channel => newChannel(ChannelKind.port, subId, process.pid, sendDirection, 1 - sendDirection);
  const Original = threads.MessageChannel;
  const proxy = new Proxy(Original, {
    construct(target, args, newTarget) {
      const pair = Reflect.construct(target, args, newTarget) as import("node:worker_threads").MessageChannel;
      recorder.safe(() => {
        const subId = (tracer.tid * 0x100000 + (portCounter++ % 0x100000)) % MAX_SUB_ID;
        messages.channels.set(pair.port1, port(subId, 0));
        messages.channels.set(pair.port2, port(subId, 1));
      });
      return pair;
    },
  });
  const host = globalThis as { MessageChannel?: unknown };
  (threads as { MessageChannel: unknown }).MessageChannel = proxy;
  if (host.MessageChannel === Original) host.MessageChannel = proxy;

  const originalReceive = threads.receiveMessageOnPort as AnyFunction;
  if (typeof originalReceive === "function") {
    (threads as { receiveMessageOnPort: unknown }).receiveMessageOnPort = renamed(originalReceive, function receiveMessageOnPort(this: unknown, target: unknown) {
      const result = Reflect.apply(originalReceive, this, arguments) as { message: unknown } | undefined;
      if (result !== undefined && target !== null && typeof target === "object") {
        const channel = messages.channels.get(target);
        if (channel) recorder.safe(() => messages.received(channel, result.message, messages.portsIn(result.message)));
      }
      return result;
    });
  }

  const shared = messages.shared;
  if (!shared) return;
  const BroadcastClass = (threads as unknown as { BroadcastChannel?: { prototype: object } }).BroadcastChannel;
  if (BroadcastClass) messages.hookHandlerAccessor(BroadcastClass.prototype);
  shared.installBroadcast(tracer, threads, (channelObject, state) => messages.channels.set(channelObject, state));
}

/**
 * node:worker_threads Worker in the parent (Bun 1.4.5: an EventEmitter around an internal
 * Web Worker and a public MessagePort, both private). Sends: Worker.prototype.postMessage
 * (a send after the worker exited is dropped by Bun and not counted: threadName is null
 * then). Receives and the end: `emit('message')` / `emit('exit')` while one of the
 * runtime's own listeners, registered during construction (see `capturing`), runs; this
 * includes the messages Bun drains from the public port when the worker closes. An emit
 * by the program itself is not counted, except one made synchronously inside a listener
 * of a native delivery of the same worker.
 */
export function hookNodeWorkerParentSide(
  tracer: Tracer,
  messages: WorkerMessages,
  WorkerClass: { prototype: object },
  onExit: (worker: object, code: unknown) => void,
): void {
  const proto = WorkerClass.prototype as Record<string, unknown>;
  replaceMethod(proto, "postMessage", (original) =>
    function postMessage(this: unknown) {
      const channel = this !== null && typeof this === "object" ? messages.channels.get(this) : undefined;
      if (!channel || (this as { threadName?: unknown }).threadName === null) return Reflect.apply(original, this, arguments);
      return sendThrough(tracer, channel, original, this, arguments, messages);
    },
  );
  const inherited = proto.emit as AnyFunction;
  if (typeof inherited !== "function") throw new Error("Worker emit not found");
  Object.defineProperty(proto, "emit", {
    configurable: true,
    writable: true,
    enumerable: false,
    value: renamed(inherited, function emit(this: unknown, event: unknown, value: unknown) {
      if ((event === "message" || event === "exit") && this !== null && typeof this === "object" && messages.delivering === this) {
        try {
          if (event === "exit") onExit(this, value);
          else {
            const channel = messages.channels.get(this);
            if (channel) messages.received(channel, value, messages.portsIn(value));
          }
        } catch (error) {
          tracer.recorder.fail(error);
        }
      }
      return Reflect.apply(inherited, this, arguments);
    }),
  });
}

// ---------------------------------------------------------------------------------
// IPC received by this process (a child forked with an IPC channel).

function isInternalMessage(message: unknown): boolean {
  if (message === null || typeof message !== "object") return false;
  const descriptor = Object.getOwnPropertyDescriptor(message, "cmd");
  const cmd = descriptor && "value" in descriptor ? descriptor.value : undefined;
  return typeof cmd === "string" && cmd.length > 5 && cmd.startsWith("NODE_");
}

/**
 * process.send (counted as in Node) and process 'message' listeners (wrapped; see the
 * top of this file). One emit reaches every listener with the same arguments: an object
 * message is recorded once by identity; a primitive one by counting the listeners the
 * emit started with (a `once` listener is removed just before it is called), reset when
 * a listener throws (the emit stops there). `process.emit('message')` called by the
 * program is not a delivery and is not counted.
 */
export function hookBunOwnIpc(tracer: Tracer): void {
  const proc = process as unknown as Record<string, unknown> & { send?: AnyFunction; connected?: boolean };
  if (typeof proc.send !== "function" || !require("node:worker_threads").isMainThread) return;
  const { recorder } = tracer;
  const channel = ownIpcChannel();
  replaceMethod(proc, "send", (original) =>
    function send(this: unknown, message: unknown) {
      const counted = (this as typeof proc).connected === true && !isInternalMessage(message);
      if (!counted) return Reflect.apply(original, this, arguments);
      return sendThrough(tracer, channel, original, this, arguments);
    },
  );

  let programEmits = 0;
  replaceMethod(proc, "emit", (original) =>
    function emit(this: unknown, event: unknown) {
      if (event !== "message") return Reflect.apply(original, this, arguments);
      programEmits++;
      try {
        return Reflect.apply(original, this, arguments);
      } finally {
        programEmits--;
      }
    },
  );

  const seenObjects = new WeakSet<object>();
  let pending: { message: unknown; remaining: number } | undefined;
  const listenerCount = proc.listenerCount as AnyFunction;
  const rawListeners = proc.rawListeners as AnyFunction;
  const delivered = (message: unknown, wrapper: AnyFunction) => {
    if (programEmits > 0) return;
    if (message !== null && (typeof message === "object" || typeof message === "function")) {
      if (seenObjects.has(message as object)) return;
      seenObjects.add(message as object);
    } else {
      if (pending && pending.remaining > 0 && Object.is(pending.message, message)) {
        pending.remaining--;
        return;
      }
      // The first listener of an emit: none of the program's has run yet, so a listener
      // missing from the list is a `once` one, removed just before this call.
      const listed = (Reflect.apply(rawListeners, proc, ["message"]) as unknown[]).includes(wrapper);
      const count = (Reflect.apply(listenerCount, proc, ["message"]) as number) + (listed ? 0 : 1);
      pending = { message, remaining: count - 1 };
    }
    if (!isInternalMessage(message)) tracer.receive(channel, message);
  };

  // One wrapper per function, whichever method registered it: removal, duplicates and
  // `once` behave as untraced.
  const wrappers = new WeakMap<object, AnyFunction>();
  const originals = new WeakMap<AnyFunction, unknown>();
  const wrapperFor = (listener: unknown): AnyFunction => {
    const existing = wrappers.get(listener as object);
    if (existing) return existing;
    const wrapper = function (this: unknown, message: unknown) {
      try {
        delivered(message, wrapper);
      } catch (error) {
        recorder.fail(error);
      }
      try {
        return Reflect.apply(listener as AnyFunction, this, arguments);
      } catch (error) {
        pending = undefined;
        throw error;
      }
    };
    wrappers.set(listener as object, wrapper);
    originals.set(wrapper, listener);
    return wrapper;
  };

  for (const name of ["on", "addListener", "prependListener", "once", "prependOnceListener"]) {
    replaceMethod(proc, name, (original) =>
      function (this: unknown, type: unknown, listener: unknown) {
        if (type !== "message" || this !== process || typeof listener !== "function") return Reflect.apply(original, this, arguments);
        const args = Array.prototype.slice.call(arguments);
        args[1] = wrapperFor(listener);
        return Reflect.apply(original, this, args);
      },
    );
  }
  for (const name of ["off", "removeListener", "listenerCount"]) {
    replaceMethod(proc, name, (original) =>
      function (this: unknown, type: unknown, listener: unknown) {
        const wrapper = type === "message" && this === process ? wrappers.get(listener as object) : undefined;
        if (!wrapper) return Reflect.apply(original, this, arguments);
        const args = Array.prototype.slice.call(arguments);
        args[1] = wrapper;
        return Reflect.apply(original, this, args);
      },
    );
  }
  for (const name of ["listeners", "rawListeners"]) {
    replaceMethod(proc, name, (original) =>
      function (this: unknown, type: unknown) {
        const result = Reflect.apply(original, this, arguments);
        if (type !== "message" || this !== process || !Array.isArray(result)) return result;
        return result.map((item) => (typeof item === "function" && originals.has(item) ? originals.get(item) : item));
      },
    );
  }
}
