/**
 * State shared by every agent thread of one process, in a SharedArrayBuffer handed to
 * each new worker through the runtime's environment data (key below; invisible to a
 * program that does not ask for that key). Two uses:
 *
 * - Transferred MessagePorts: a port's channel id and its counts leave with the
 *   message that carries it. The sender publishes them under the carrier's key
 *   (channel, direction, ordinal, index of the port) before posting; the receiver,
 *   which computes the same key from its own count, takes them on delivery.
 * - BroadcastChannel (one sender, many receivers): sends and joins of one process
 *   are serialised by a lock, with one counter per channel name. The runtime copies
 *   a message to every other member synchronously inside postMessage, so each member
 *   receives exactly the ordinals above the counter at its join, except its own.
 *
 * The lock must never hold the program up: it is only contended when two threads of
 * one process are inside a BroadcastChannel postMessage (or constructor) at the same
 * instant, and the holder keeps it for one runtime call (microseconds). A waiter spins
 * for at most LOCK_WAIT_MS (50 µs), then goes on without it: the program is never
 * delayed longer than that, and the price is only the trace's: that send's ordinal may
 * pair with another sender's message (a wrong link, never a lost message). Each such
 * case is counted and recorded as an agent_error ("broadcast lock busy"), so a trace
 * whose broadcast links may be off says so. A holder that died inside the lock (a
 * worker terminated mid-send) costs each later send the same 50 µs at most.
 */
import type * as WorkerThreads from "node:worker_threads";
import { ChannelKind, channelField } from "../shared/kinds";
import type { Recorder } from "../shared/recorder";
import { type Channel, newChannel, type Tracer } from "./hooks";
import { constructTarget } from "../shared/reflect";

const ENVIRONMENT_KEY = "scope.agent.shared-state.v1";
const HANDOFF_SLOTS = 256;
const HANDOFF_FIELDS = 8;
const BROADCAST_SLOTS = 256;
/** The longest a program thread ever waits for the lock (see above). */
const LOCK_WAIT_MS = 0.05;
const LOCK_POLL_MS = 0.01;

// Layout: i32[0] lock owner (tid + 1), i32[1] lock depth, i32[16..] handoff slot
// states (0 free, 1 writing, 2 ready), i32 broadcast table (used, hash1, hash2,
// counter) per slot, then f64 handoff records.
const HANDOFF_STATE_I32 = 16;
const BROADCAST_I32 = HANDOFF_STATE_I32 + HANDOFF_SLOTS;
const HANDOFF_F64 = Math.ceil(((BROADCAST_I32 + BROADCAST_SLOTS * 4) * 4) / 8);
const TOTAL_BYTES = (HANDOFF_F64 + HANDOFF_SLOTS * HANDOFF_FIELDS) * 8;

function hash(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h | 0;
}

export class SharedState {
  /** The buffer's views: opened by connect in the main thread, at first use in a worker (see connect). */
  private views: { i32: Int32Array; f64: Float64Array } | undefined;

  private constructor(
    private readonly threads: typeof WorkerThreads,
    private readonly recorder: Recorder,
    private readonly tid: number,
  ) {}

  /**
   * The main thread opens the buffer at once: it makes it, and a worker gets it with its
   * environment data at `new Worker`, so it must be there before the program creates one. A
   * worker has it in its environment data from its start (and hands it on to its own
   * workers), so it opens it only when it first transfers a port, receives one or uses a
   * BroadcastChannel: a worker that does neither never reads it (getEnvironmentData compiled
   * and two views made in every worker: BENCHMARKS.md "Thirteenth look").
   */
  static connect(threads: typeof WorkerThreads, recorder: Recorder): SharedState | undefined {
    if (typeof SharedArrayBuffer !== "function" || typeof threads.getEnvironmentData !== "function") return undefined;
    const state = new SharedState(threads, recorder, threads.isMainThread ? 0 : threads.threadId);
    if (threads.isMainThread) state.open();
    return state;
  }

  private open(): { i32: Int32Array; f64: Float64Array } {
    const threads = this.threads;
    let buffer = threads.getEnvironmentData(ENVIRONMENT_KEY);
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== TOTAL_BYTES) {
      buffer = new SharedArrayBuffer(TOTAL_BYTES);
      threads.setEnvironmentData(ENVIRONMENT_KEY, buffer);
    }
    return (this.views = { i32: new Int32Array(buffer as SharedArrayBuffer), f64: new Float64Array(buffer as SharedArrayBuffer) });
  }

  private get i32(): Int32Array {
    return (this.views ?? this.open()).i32;
  }

  private get f64(): Float64Array {
    return (this.views ?? this.open()).f64;
  }

  // --- transferred ports ---------------------------------------------------------

  private key(carrier: Channel, direction: number, ordinal: number, index: number): [number, number, number] {
    return [channelField(carrier.kind, direction, carrier.subId), carrier.ownerPid, ordinal * 64 + index];
  }

  publish(carrier: Channel, ordinal: number, index: number, port: Channel): number {
    for (let slot = 0; slot < HANDOFF_SLOTS; slot++) {
      if (Atomics.compareExchange(this.i32, HANDOFF_STATE_I32 + slot, 0, 1) !== 0) continue;
      const base = HANDOFF_F64 + slot * HANDOFF_FIELDS;
      const [k0, k1, k2] = this.key(carrier, carrier.sendDirection, ordinal, index);
      this.f64.set([k0, k1, k2, port.subId, port.sendDirection, port.receiveDirection, port.sent, port.received], base);
      // The release store orders the record before the state; the runtime's queue
      // (a mutex) orders both before the receiver's delivery.
      Atomics.store(this.i32, HANDOFF_STATE_I32 + slot, 2);
      return slot;
    }
    this.recorder.fail(new Error("port handoff table full"));
    return -1;
  }

  take(carrier: Channel, ordinal: number, index: number): Channel | undefined {
    const [k0, k1, k2] = this.key(carrier, carrier.receiveDirection, ordinal, index);
    for (let slot = 0; slot < HANDOFF_SLOTS; slot++) {
      if (Atomics.load(this.i32, HANDOFF_STATE_I32 + slot) !== 2) continue;
      const base = HANDOFF_F64 + slot * HANDOFF_FIELDS;
      const f = this.f64;
      if (f[base] !== k0 || f[base + 1] !== k1 || f[base + 2] !== k2) continue;
      const state = newChannel(ChannelKind.port, f[base + 3]!, carrier.ownerPid, f[base + 4]!, f[base + 5]!, f[base + 6]!, f[base + 7]!);
      Atomics.store(this.i32, HANDOFF_STATE_I32 + slot, 0);
      return state;
    }
    return undefined;
  }

  cancel(slots: number[]): void {
    for (const slot of slots) Atomics.store(this.i32, HANDOFF_STATE_I32 + slot, 0);
  }

  // --- BroadcastChannel ------------------------------------------------------------

  private lock(): boolean {
    const me = this.tid + 1;
    if (Atomics.load(this.i32, 0) === me) {
      this.i32[1]!++;
      return true;
    }
    let owner = Atomics.compareExchange(this.i32, 0, 0, me);
    if (owner === 0) return true;
    const deadline = performance.now() + LOCK_WAIT_MS;
    for (;;) {
      // Wakes on unlock's notify, or after LOCK_POLL_MS (10 µs) at most.
      Atomics.wait(this.i32, 0, owner, LOCK_POLL_MS);
      owner = Atomics.compareExchange(this.i32, 0, 0, me);
      if (owner === 0) return true;
      // Never make the program wait longer: go on unordered, counted.
      if (performance.now() >= deadline) {
        this.recorder.fail(new Error("broadcast lock busy: this send's link may be wrong"));
        return false;
      }
    }
  }

  private unlock(): void {
    if (this.i32[1]! > 0) {
      this.i32[1]!--;
      return;
    }
    Atomics.store(this.i32, 0, 0);
    Atomics.notify(this.i32, 0, 1);
  }

  /** Index of the counter for a channel name (claimed on first use). */
  private counterIndex(name: string): number {
    const h1 = hash(name, 0x811c9dc5);
    const h2 = hash(name, 0x050c5d1f);
    for (let probe = 0; probe < BROADCAST_SLOTS; probe++) {
      const base = BROADCAST_I32 + ((((h1 >>> 0) + probe) % BROADCAST_SLOTS) * 4);
      const used = Atomics.compareExchange(this.i32, base, 0, 1);
      if (used === 0) {
        this.i32[base + 1] = h1;
        this.i32[base + 2] = h2;
        return base + 3;
      }
      if (this.i32[base + 1] === h1 && this.i32[base + 2] === h2) return base + 3;
    }
    throw new Error("broadcast name table full");
  }

  /**
   * Wraps `BroadcastChannel` (the module's export and the global, when they are the
   * same): construction joins under the lock, postMessage counts under it. `register`
   * ties a new channel's state to whatever object its runtime delivers on (Node: the
   * internal handle; Bun: the BroadcastChannel itself).
   */
  installBroadcast(
    tracer: Pick<Tracer, "recorder" | "send" | "sendFailed">,
    threads: typeof WorkerThreads,
    register: (channelObject: object, state: Channel) => void,
  ): void {
    const { recorder } = tracer;
    const Original = (threads as unknown as { BroadcastChannel?: new (name: string) => object }).BroadcastChannel;
    if (typeof Original !== "function") return;
    const states = new WeakMap<object, { state: Channel; counter: number }>();
    const shared = this;
    const proxy = new Proxy(Original, {
      construct(target, args, newTarget) {
        const locked = shared.lock();
        try {
          const channelObject = Reflect.construct(target, args, constructTarget(proxy, target, newTarget)) as object;
          recorder.safe(() => {
            const name = String((channelObject as { name: unknown }).name);
            const counter = shared.counterIndex(name);
            const state = newChannel(ChannelKind.broadcast, hash(name, 0x811c9dc5) >>> 0, process.pid, 0, 0, 0, Atomics.load(shared.i32, counter) + 1);
            state.ownSent = [];
            register(channelObject, state);
            states.set(channelObject, { state, counter });
          });
          return channelObject;
        } finally {
          if (locked) shared.unlock();
        }
      },
    });
    (threads as { BroadcastChannel: unknown }).BroadcastChannel = proxy;
    const host = globalThis as { BroadcastChannel?: unknown };
    if (host.BroadcastChannel === Original) host.BroadcastChannel = proxy;

    const proto = Original.prototype as { postMessage: (this: object, message: unknown) => void };
    const originalPost = proto.postMessage;
    proto.postMessage = function postMessage(this: object, message: unknown) {
      const entry = states.get(this);
      if (!entry) return Reflect.apply(originalPost, this, arguments);
      const locked = shared.lock();
      try {
        const ordinal = Atomics.add(shared.i32, entry.counter, 1) + 1;
        entry.state.sent = ordinal;
        tracer.send(entry.state, message);
        try {
          Reflect.apply(originalPost, this, arguments);
        } catch (error) {
          Atomics.sub(shared.i32, entry.counter, 1);
          tracer.sendFailed(entry.state, ordinal);
          throw error;
        }
        // This end will not receive its own message.
        entry.state.ownSent!.push(ordinal);
      } finally {
        if (locked) shared.unlock();
      }
    };
    Object.defineProperty(proto.postMessage, "length", { value: originalPost.length });
  }

  /** Moves a broadcast receiver past the ordinals it sent itself. */
  beforeBroadcastReceive(state: Channel): void {
    const own = state.ownSent;
    if (!own) return;
    while (own.length > 0 && own[0]! < state.received) own.shift();
    while (own.length > 0 && own[0] === state.received) {
      own.shift();
      state.received++;
    }
  }
}
