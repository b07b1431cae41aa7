/**
 * MessagePort-based channels: worker <-> parent (the worker's public port and the
 * worker's parentPort), MessageChannel ports (also after being transferred), and
 * BroadcastChannel. Every message a MessagePort delivers passes through its
 * `Symbol.for('nodejs.internal.kHybridDispatch')` method (called by the runtime with
 * no event object) or through `receiveMessageOnPort`; every send through
 * `MessagePort.prototype.postMessage`. Only ports registered here are counted, so
 * Node's internal ports (worker stdio, loader thread) are never seen.
 */
import type * as WorkerThreads from "node:worker_threads";
import { ChannelKind, Kind, LongTaskKind, MAX_SUB_ID } from "../shared/kinds";
import { markTurn } from "../shared/loop";
import { type Channel, newChannel, setOnWorkerCreated, type Tracer } from "./hooks";
import { SharedState } from "./shared-state";
import { constructTarget, renamed } from "../shared/reflect";
import { makeStamp } from "../shared/stamp";

export interface PortContext {
  tracer: Tracer;
  threads: typeof WorkerThreads;
}

const kHybridDispatch = Symbol.for("nodejs.internal.kHybridDispatch");
const kCurrentlyReceivingPorts = Symbol.for("nodejs.internal.kCurrentlyReceivingPorts");

/** Marker ordinals for ports handed over in `workerData` (not a message of the channel). */
const WORKER_DATA_ORDINAL = 2 ** 40;

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** `fn` as a function of (this, ...args), fixed now (the program's later Function.prototype.call is never used). */
function callOf(fn: AnyFunction): (self: unknown, ...args: unknown[]) => unknown {
  return Function.prototype.call.bind(fn) as (self: unknown, ...args: unknown[]) => unknown;
}

function symbolNamed(object: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(object).find((symbol) => symbol.description === description);
}

export function installPortHooks(context: PortContext): void {
  const { tracer, threads } = context;
  const portsIn = (value: unknown) => findPorts(value, threads.MessagePort, tracer.types);
  const { recorder } = tracer;
  // Each port's channel state in a private field of the port (stamp.ts), not a WeakMap: every
  // send and every delivery looks it up, and a private-field load is an inline-cache hit where
  // a WeakMap lookup is two builtin calls (BENCHMARKS.md "Per-message cost: where ... 2026-12-04 12:00").
  const channels = makeStamp<Channel>();
  const shared = SharedState.connect(threads, recorder);
  let portCounter = 0;

  const newPortChannelId = (): number => (tracer.tid * 0x100000 + (portCounter++ % 0x100000)) % MAX_SUB_ID;

  // Worker <-> parent: direction 0 is parent -> worker, 1 is worker -> parent.
  if (!threads.isMainThread && threads.parentPort) {
    channels.set(threads.parentPort, newChannel(ChannelKind.worker, threads.threadId, process.pid, 1, 0));
    recorder.safe(() => adoptWorkerData(threads.workerData));
  }
  setOnWorkerCreated((worker, options) => {
    const key = symbolNamed(worker, "kPublicPort");
    const port = key ? (worker as unknown as Record<symbol, object | null>)[key] : null;
    if (!port) throw new Error("worker public port not found");
    const state = newChannel(ChannelKind.worker, worker.threadId, process.pid, 0, 1);
    channels.set(port, state);
    const transferList = (options as { transferList?: unknown } | undefined)?.transferList;
    const workerData = (options as { workerData?: unknown } | undefined)?.workerData;
    if (Array.isArray(transferList)) handOver(state, WORKER_DATA_ORDINAL, portsIn(workerData));
  });

  const MessagePortClass = threads.MessagePort as unknown as { prototype: Record<PropertyKey, unknown> };
  const proto = MessagePortClass.prototype;

  const originalPost = proto.postMessage as AnyFunction;
  // The original called with the caller's own arguments: Reflect.apply with `arguments` to a
  // native function copies them into a list first (~30 ns a call, BENCHMARKS.md "Per-message
  // cost"); a bound Function.prototype.call with the same count does not.
  const callPost = callOf(originalPost);
  // The wrapper is kept small (a transfer list's ports out of line): TurboFan inlines it, `send`
  // and the Recorder's held commit into the program's handler within its cumulative inlining
  // budget (on Node 24 `message` stayed out, and the wrapper where it was not inlined ran as
  // Maglev code: BENCHMARKS.md "A send's JavaScript on Node 24"). The original is called here,
  // in every case, so that an error it throws has the frames it had.
  proto.postMessage = renamed(originalPost, function postMessage(this: object, value: unknown, transfer: unknown) {
    const state = channels.get(this);
    // BroadcastChannel sends are counted by its own postMessage (see shared-state.ts).
    if (state === undefined || state.kind === ChannelKind.broadcast) return Reflect.apply(originalPost, this, arguments);
    const count = arguments.length;
    const tokens = count > 1 ? portsHandedOver(state, transfer) : undefined;
    const ordinal = tracer.send(state, value);
    try {
      // Two or more arguments: the caller's own list (Reflect.apply copies it, ~30 ns; rare).
      return count === 1 ? callPost(this, value) : Reflect.apply(originalPost, this, arguments);
    } catch (error) {
      sendThrew(state, ordinal, tokens);
      throw error;
    }
  });
  /** The ports a send's transfer list hands over, published (shared-state.ts) before the send's ordinal counts; undefined when none. */
  function portsHandedOver(state: Channel, transfer: unknown): number[] | undefined {
    const ports = transfer !== undefined && recorder.groups.message ? transferredPorts(transfer) : undefined;
    return ports !== undefined && ports.length > 0 ? handOver(state, state.sent, ports) : undefined;
  }
  /** The runtime threw instead of queueing the send: its ports' publications withdrawn, the send marked failed. */
  function sendThrew(state: Channel, ordinal: number, tokens: number[] | undefined): void {
    if (tokens) shared?.cancel(tokens);
    tracer.sendFailed(state, ordinal);
  }

  const inheritedDispatch = proto[kHybridDispatch] as AnyFunction | undefined;
  if (typeof inheritedDispatch !== "function") throw new Error("MessagePort dispatch hook not found");
  const callDispatch = callOf(inheritedDispatch);
  // A delivery that carries ports or comes on a BroadcastChannel (or a sink without
  // commitEvent): `delivered`, out of the wrapper.
  const receivedOn = (port: Record<symbol, unknown>, state: Channel, value: unknown) => {
    try {
      delivered(state, value, port[kCurrentlyReceivingPorts]);
    } catch (error) {
      recorder.fail(error);
    }
  };
  // The addon's commitEvent read once (Recorder.eventCommit): not a load from scope.node's
  // exports (dictionary mode: a generic LoadIC) at each receive.
  const commitEvent = recorder.eventCommit;
  Object.defineProperty(proto, kHybridDispatch, {
    configurable: true,
    writable: true,
    enumerable: false,
    // Node's dispatch (20, 22, 24: `[kHybridDispatch](nodeValue, type, event)`, no `arguments`,
    // no rest) is handed its three parameters as they came, a missing one as undefined, which it
    // cannot tell from one not passed: the runtime passes three, NodeEventTarget's emit two. No
    // `arguments` here: an arguments object is made each delivery wherever it escapes (a
    // Reflect.apply on the rare path) and the code is not TurboFan's (Maglev: ~37 instructions a
    // receive on Node 24).
    // An ordinary delivery (no ports carried, not a BroadcastChannel) is recorded in the wrapper
    // itself, tracer.receive written out and its record committed by commitEvent directly: on
    // Node 24 the pool's receives run Maglev code until ~10,000 jobs, and Maglev inlines no
    // function of 100 bytecode bytes or more (`delivered`, Recorder.event) nor any but the
    // smallest below the first level, so each was a call of its own (BENCHMARKS.md "Node 24's
    // receive": the record in the wrapper measured below its own function there, and equal on Node 20).
    value: function (this: Record<symbol, unknown>, value: unknown, type: unknown, event: unknown) {
      // The runtime delivers with no event object; dispatchEvent() by the program passes one.
      if (event === undefined) {
        // By the field's load alone (stamp.ts `find`): Maglev answers `get`'s `in` test with a
        // builtin call. Node's own ports (a worker's internal one) are given an empty stamp at
        // their first delivery.
        const state = channels.find(this);
        if (state !== undefined) {
          if (commitEvent !== undefined && state.kind !== ChannelKind.broadcast && this[kCurrentlyReceivingPorts] === undefined) {
            try {
              const ordinal = state.received++;
              markTurn(LongTaskKind.message);
              const field = state.receiveField;
              const written = commitEvent(Kind.message_receive, 0, ordinal, field, state.ownerPid, 0, 0);
              if (written !== 1) recorder.notCommitted(written, Kind.message_receive, ordinal, field, state.ownerPid, 0, 0, 0);
            } catch (error) {
              recorder.fail(error);
            }
          } else receivedOn(this, state, value);
        }
      }
      return callDispatch(this, value, type, event);
    },
  });

  const originalReceive = threads.receiveMessageOnPort as AnyFunction;
  (threads as { receiveMessageOnPort: unknown }).receiveMessageOnPort = renamed(originalReceive, function receiveMessageOnPort(
    this: unknown,
    port: unknown,
  ) {
    const result = Reflect.apply(originalReceive, this, arguments) as { message: unknown } | undefined;
    if (result !== undefined && port !== null && typeof port === "object") {
      const state = channels.get(port);
      if (state) recorder.safe(() => delivered(state, result.message, portsIn(result.message)));
    }
    return result;
  });

  // MessageChannel: direction 0 is port1 -> port2, 1 is port2 -> port1.
  const OriginalChannel = threads.MessageChannel;
  const channelProxy = new Proxy(OriginalChannel, {
    construct(target, args, newTarget) {
      const pair = Reflect.construct(target, args, constructTarget(channelProxy, target, newTarget)) as WorkerThreads.MessageChannel;
      recorder.safe(() => {
        const subId = newPortChannelId();
        channels.set(pair.port1, newChannel(ChannelKind.port, subId, process.pid, 0, 1));
        channels.set(pair.port2, newChannel(ChannelKind.port, subId, process.pid, 1, 0));
      });
      return pair;
    },
  });
  (threads as { MessageChannel: unknown }).MessageChannel = channelProxy;
  if ((globalThis as { MessageChannel?: unknown }).MessageChannel === OriginalChannel) {
    (globalThis as { MessageChannel?: unknown }).MessageChannel = channelProxy;
  }

  if (shared) {
    shared.installBroadcast(tracer, threads, (channelObject, state) => {
      const handleKey = symbolNamed(channelObject, "kHandle");
      const handle = handleKey ? (channelObject as Record<symbol, unknown>)[handleKey] : undefined;
      if (!handle || typeof handle !== "object") throw new Error("BroadcastChannel handle not found");
      channels.set(handle, state);
    });
  }

  function delivered(state: Channel, value: unknown, ports: unknown): void {
    const ordinal = state.received;
    if (state.kind === ChannelKind.broadcast) shared?.beforeBroadcastReceive(state);
    tracer.receive(state, value);
    // Undefined unless the message carried ports (Node sets it for each delivery): no
    // Array.isArray call (a builtin call in Maglev code, Node 24) on every receive.
    if (ports !== undefined && Array.isArray(ports) && ports.length > 0) adopt(state, ordinal, ports);
  }

  /** Publishes the state of ports that leave with message `ordinal` of `carrier`. */
  function handOver(carrier: Channel, ordinal: number, ports: object[]): number[] | undefined {
    if (!shared) return undefined;
    const tokens: number[] = [];
    ports.forEach((port, index) => {
      const state = channels.get(port);
      if (!state || state.kind !== ChannelKind.port) return;
      const token = shared.publish(carrier, ordinal, index, state);
      if (token >= 0) tokens.push(token);
    });
    return tokens;
  }

  /** Takes over the state of ports that arrived with message `ordinal` of `carrier`. */
  function adopt(carrier: Channel, ordinal: number, ports: unknown[]): void {
    if (!shared) return;
    ports.forEach((port, index) => {
      if (port === null || typeof port !== "object") return;
      const state = shared.take(carrier, ordinal, index);
      if (state) channels.set(port, state);
    });
  }

  function adoptWorkerData(workerData: unknown): void {
    const parentPort = threads.parentPort;
    const state = parentPort ? channels.get(parentPort) : undefined;
    const ports = portsIn(workerData);
    if (state && ports.length > 0) adopt(state, WORKER_DATA_ORDINAL, ports);
  }

  function transferredPorts(transfer: unknown): object[] {
    const list = Array.isArray(transfer) ? transfer : (transfer as { transfer?: unknown } | null)?.transfer;
    if (!Array.isArray(list)) return [];
    return list.filter((item) => item instanceof threads.MessagePort);
  }

}

export { Kind };

/**
 * MessagePorts inside a value, in a fixed walk order over own data properties
 * (no getters, no Proxy traps, bounded). The sender and the receiver walk the same
 * shape, so the i-th port found on one side is the i-th on the other.
 */
export function findPorts(value: unknown, PortClass: abstract new (...args: never[]) => object, types: { isProxy(value: unknown): boolean } | undefined): object[] {
  const found: object[] = [];
  const seen = new Set<object>();
  const walk = (node: unknown, depth: number) => {
    if (node === null || typeof node !== "object" || depth > 6 || seen.size > 512 || seen.has(node)) return;
    if (types?.isProxy(node)) return;
    seen.add(node);
    if (node instanceof PortClass) {
      found.push(node);
      return;
    }
    for (const key of Object.keys(node)) {
      const descriptor = Object.getOwnPropertyDescriptor(node, key);
      if (descriptor && "value" in descriptor) walk(descriptor.value, depth + 1);
    }
  };
  walk(value, 0);
  return found;
}
