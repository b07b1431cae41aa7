/**
 * The request the running code belongs to, across `await` and callbacks: one context store
 * per thread holding the request id (a number), in Node and in Bun.
 *
 * Request ids are unique per (pid, tid) producer, from 1; server and client requests of
 * a thread share the counter. An event names its request either in a field of its own
 * (function_call d, http_client_request d, the database kinds) or, for kinds with no
 * free field, through a `request_context` record written just before it (tagRequest).
 * The decoder links both to the request with that id on the same (pid, tid).
 *
 * Cost: until the thread's first request nothing is created (no async_hooks, no
 * AsyncLocalStorage) and currentRequest() is a load and a branch. From the first request
 * on, Node 20 propagates the store to every async resource a request creates (its
 * promise hook), which is the price of linking across `await` (BENCHMARKS.md "Request
 * context", "Web on Node 24"); Bun's AsyncLocalStorage is native, and on Node 24 (V8's AsyncContextFrame, its
 * default) AsyncLocalStorage enables no async_hooks: a request's context is a frame V8
 * carries across await and Node across callbacks. Where Node's AsyncLocalStorage would run
 * on async_hooks (Node 20, Node 22 by default) the store is an async_hooks init hook of
 * scope's own, AsyncLocalStorage's propagation without its per-store layers (hookedStore
 * below); elsewhere an AsyncLocalStorage.
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import { Kind } from "./kinds";
import type { Recorder } from "./recorder";

type Fn = (this: unknown, ...args: never[]) => unknown;

/** What the agent needs of a context store (AsyncLocalStorage's calls, for a number; run with `this` and an arguments list). */
interface Store {
  getStore(): number | undefined;
  run(store: number, fn: Fn, thisArg: unknown, args: ArrayLike<unknown>): unknown;
  enterWith(store: number): void;
  disable(): void;
}

let storage: Store | undefined;
let nextRequestId = 1;
let nextConnectionId = 1;

/** Set by releaseRequestContext (scope attach's detach): no store is ever made again in this bundle. */
let released = false;

/** Told when the thread's first store is made (see requestsBegin). */
const beginners: (() => void)[] = [];

function store(): Store {
  if (storage === undefined) {
    const asyncHooks = require("node:async_hooks") as typeof import("node:async_hooks");
    storage = hookedStoreWanted(asyncHooks.AsyncLocalStorage) ? hookedStore(asyncHooks) : localStorage(new asyncHooks.AsyncLocalStorage<number>());
    // Before the first request's code runs: from now on currentRequest() may be non-zero.
    for (const begin of beginners) begin();
  }
  return storage;
}

/**
 * Whether Node's AsyncLocalStorage would run on async_hooks: then the store is an async_hooks
 * init hook of scope's own (the same propagation without AsyncLocalStorage's per-store
 * layers). That is Node 20, Node 22 by default and Node 24 started with
 * `--no-async-context-frame`: their AsyncLocalStorage class is the one with `_propagate`
 * (the method its init hook calls per store). On V8's AsyncContextFrame (Node 24's default,
 * Node 22 with `--experimental-async-context-frame`) AsyncLocalStorage enables no async_hooks
 * at all and is kept, as Bun's native one is.
 */
function hookedStoreWanted(local: typeof AsyncLocalStorage): boolean {
  if (typeof process === "undefined" || process.versions.bun !== undefined) return false;
  const major = Number(process.versions.node?.split(".")[0]);
  if (major > 0 && major < 22) return true;
  return typeof (local.prototype as unknown as { _propagate?: unknown })._propagate === "function";
}

/** An AsyncLocalStorage as a Store: run's extra arguments go to Reflect.apply (no closure per call). */
function localStorage(local: AsyncLocalStorage<number>): Store {
  return {
    getStore: () => local.getStore(),
    run: (id, fn, thisArg, args) => local.run(id, Reflect.apply as (fn: Fn, thisArg: unknown, args: ArrayLike<unknown>) => unknown, fn, thisArg, args),
    enterWith: (id) => local.enterWith(id),
    disable: () => local.disable(),
  };
}

/**
 * Node 20's AsyncLocalStorage with its layers taken out: the same propagation (an init hook
 * that copies the creating resource's slot onto each new async resource, promises included;
 * the slot of `executionAsyncResource()` is the current value), the same run/enterWith, but
 * one hook calling no method per resource (AsyncLocalStorage's hook loops over every store
 * and calls its _propagate, which reads the store's symbol and `enabled` from the instance).
 * The slot is a symbol property on Node's resource objects, as AsyncLocalStorage's is.
 * async_hooks itself (its promise hooks, async ids, execution-resource stack) costs the same
 * either way: measured in BENCHMARKS.md "The request context on Node 20".
 */
function hookedStore(asyncHooks: typeof import("node:async_hooks")): Store {
  const { createHook, executionAsyncResource, executionAsyncId } = asyncHooks;
  const slot = Symbol("scope.request");
  type Resource = Record<symbol, number | undefined>;
  const current = executionAsyncResource as () => Resource;
  let enabled = false;
  // Ticks' values in a ring, not on the tick (BENCHMARKS.md "Web: Node 20's ticks' context in
  // a ring"): a TickObject is a 4-property object literal whose class has no room for one more,
  // so the slot cost each tick a 3-slot PropertyArray (40 bytes, ~17.6 ticks a web request) and
  // a megamorphic transitioning store. Ticks run one at a time in the order they were made (one
  // FIFO queue; async ids grow), so init appends (id, value) and the running tick's value is
  // found at or near the ring's tail by executionAsyncId(). The entries before the one found are
  // ticks that ran (60% of a web request's ticks run no code that reads the context): the tail
  // moves past them, and the found one stays the tail while its tick may still run (a callback
  // of another resource run synchronously inside it, then the tick's code again). Entries behind
  // the tail keep their (id, value) until overwritten: a tick made inside another async hook's
  // init for an earlier tick (after this hook's) is queued, and runs, before that earlier tick,
  // which is then behind the tail when it runs: with no slot of its own, it looks there. A tick
  // whose id is below the last entry's, or made when the ring is full, takes the slot as any
  // resource does; the newest tick made when full is noted (`overflowId`): when it runs, every
  // tick made before it has run, and the ring is emptied (else ticks that never read the context
  // would fill it for good). A tick made with no request current gets nothing (a fresh object: no
  // slot reads undefined). The ring holds numbers only: it keeps no tick alive.
  const RING = 64;
  const ringIds = new Float64Array(RING).fill(-1);
  const ringValues = new Float64Array(RING);
  let head = 0; // next entry written
  let tail = 0; // oldest entry kept
  const overflowId = new Float64Array([-1]);
  // The running tick's value if the ring has it (the tail then moved to it); undefined otherwise.
  const ringValue = (id: number): number | undefined => {
    for (let k = tail; k !== head; k = (k + 1) & (RING - 1)) {
      const at = ringIds[k] as number;
      if (at === id) {
        tail = k;
        return ringValues[k];
      }
      if (at > id) break;
    }
    return undefined;
  };
  // A tick's value behind the tail (see above), newest first: undefined if not there.
  const behindValue = (id: number): number | undefined => {
    if (id < (ringIds[head] as number)) return undefined; // older than the oldest still there
    for (let n = (tail - head) & (RING - 1) || RING, k = tail; n > 0; n--) {
      k = (k - 1) & (RING - 1);
      const at = ringIds[k] as number;
      if (at === id) return ringValues[k];
      if (at < id) break;
    }
    return undefined;
  };
  // The running resource's value, by its async id: a callback that creates several resources
  // (a request's ticks, promises and timers: 58% of inits in the web workload follow another
  // of the same callback) reads the running resource's slot once. executionAsyncResource()[slot]
  // is two megamorphic loads on Node's many resource classes (its public-resource look-up,
  // then the slot); executionAsyncId() is a typed-array read. Async ids are never reused, and
  // only run/enterWith below write the slot of a running resource (init writes new ones): they
  // reset the cache. Id 0 (no resource known) is never cached. The id is kept in a
  // Float64Array, as Node keeps it: a double in a closure variable is a heap number per write.
  const cachedId = new Float64Array([-1]);
  let cachedValue: number | undefined;
  const value = (): number | undefined => {
    const id = executionAsyncId();
    if (id === cachedId[0]) return cachedValue;
    // Not a tick in the ring if newer than its newest entry (a promise's or timer's id, mostly).
    let found = head !== tail && id <= (ringIds[(head - 1) & (RING - 1)] as number) ? ringValue(id) : undefined;
    if (found === undefined) {
      if (id === overflowId[0]) {
        overflowId[0] = -1;
        tail = head;
      }
      found = current()[slot];
      if (found === undefined) found = behindValue(id);
    }
    if (id > 0) {
      cachedId[0] = id;
      cachedValue = found;
    }
    return found;
  };
  // Before run/enterWith write the running resource's slot: a running tick's value onto it.
  const settleRunning = () => {
    if (head === tail) return;
    const found = ringValue(executionAsyncId());
    if (found === undefined) return;
    tail = (tail + 1) & (RING - 1);
    try {
      current()[slot] = found;
    } catch {
      // A frozen tick (the program's own hook froze it): run/enterWith's write fails the same way.
    }
  };
  const hook = createHook({
    init(asyncId: number, type: string, _trigger: number, resource: object) {
      const v = value();
      if (type === "TickObject") {
        if (v === undefined) return;
        const next = (head + 1) & (RING - 1);
        if (next === tail) overflowId[0] = asyncId;
        else if (head === tail || asyncId > (ringIds[(head - 1) & (RING - 1)] as number)) {
          ringIds[head] = asyncId;
          ringValues[head] = v;
          head = next;
          return;
        }
      }
      // As AsyncLocalStorage: always written (a resource object Node reuses takes its new creator's value).
      try {
        (resource as Resource)[slot] = v;
      } catch {
        // A resource that takes no property (never one of Node's): an exception in an
        // async hook ends the process, and sloppy code dropped the write the same way.
      }
    },
  });
  const enable = () => {
    if (!enabled) {
      enabled = true;
      hook.enable();
    }
  };
  return {
    getStore: () => (enabled ? value() : undefined),
    run(id: number, fn: Fn, thisArg: unknown, args: ArrayLike<unknown>): unknown {
      if (enabled && value() === id) return Reflect.apply(fn, thisArg, args);
      const resource = current();
      settleRunning();
      const old = enabled ? resource[slot] : undefined;
      enable();
      // A resource the program froze (its own AsyncResource, a promise it froze) takes no
      // slot: the call runs without the request rather than throw into the program (the
      // agent is strict code; sloppy, the write failed silently the same way).
      try {
        resource[slot] = id;
      } catch {
        return Reflect.apply(fn, thisArg, args);
      }
      cachedId[0] = -1;
      try {
        return Reflect.apply(fn, thisArg, args);
      } finally {
        cachedId[0] = -1;
        try {
          resource[slot] = old;
        } catch {
          // Frozen by the call itself: nothing to restore on it.
        }
      }
    },
    enterWith(id: number) {
      enable();
      settleRunning();
      cachedId[0] = -1;
      try {
        current()[slot] = id;
      } catch {
        // A frozen resource (see run): no request for the rest of this callback.
      }
    },
    disable() {
      if (enabled) {
        enabled = false;
        hook.disable();
      }
    },
  };
}

/**
 * Calls `begin` when currentRequest() can first be non-zero on this thread (the first
 * store is made), or now if it already can. Until then currentRequest() is 0: the
 * function runtime reads no request per call before (runtime.ts RuntimeOptions.requestsBegin).
 */
export function requestsBegin(begin: () => void): void {
  if (storage !== undefined || released) begin();
  else beginners.push(begin);
}

/** The request the running code was caused by; 0 when none (or before the thread's first request). */
export function currentRequest(): number {
  if (storage === undefined) return 0;
  const id = storage.getStore();
  return id === undefined ? 0 : id;
}

/** A fresh request id of this thread. */
export function newRequestId(): number {
  return nextRequestId++;
}

/** A fresh connection id of this thread (http_connection). */
export function newConnectionId(): number {
  return nextConnectionId++;
}

/** Runs `fn` with `id` as the current request; what it starts (timers, promises, I/O) inherits it. */
export function runInRequest<T>(id: number, fn: (this: unknown, ...args: never[]) => T, thisArg: unknown, args: ArrayLike<unknown>): T {
  // A wrapper still running after scope attach's detach: the call alone.
  if (released) return Reflect.apply(fn, thisArg, args) as T;
  return store().run(id, fn as Fn, thisArg, args) as T;
}

/**
 * Makes `id` the current request for the rest of the running callback and everything it
 * starts (AsyncLocalStorage.enterWith): for a diagnostics-channel subscriber, which runs
 * inside the runtime's call of the program's handler but cannot wrap it.
 */
export function enterRequest(id: number): void {
  if (!released) store().enterWith(id);
}

/**
 * scope attach's detach: the store is disabled (Node takes its async hook off when no
 * other AsyncLocalStorage is left: the program's promises pay nothing for scope any more)
 * and never made again by this bundle; currentRequest() is 0 from now on.
 */
export function releaseRequestContext(): void {
  released = true;
  const current = storage;
  storage = undefined;
  current?.disable();
}

/**
 * For an event kind with no field for its request (message sends, spawns): writes a
 * `request_context` record naming the current request just before that event. Call it
 * immediately before recording the event, through the same recorder. Nothing when no
 * request is current.
 */
export function tagRequest(recorder: Recorder): void {
  // Small (its callers' inlining budget: a message send's, BENCHMARKS.md "A send's JavaScript on Node 24").
  if (storage !== undefined) tagWith(storage, recorder);
}

function tagWith(store: Store, recorder: Recorder): void {
  const id = store.getStore();
  if (id !== undefined && id !== 0) recorder.event(Kind.request_context, id);
}
