/**
 * The request the running code belongs to, across `await` and callbacks: one
 * AsyncLocalStorage per thread holding the request id (a number), in Node and in Bun.
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
 * context"); Bun's AsyncLocalStorage is native.
 */
import type { AsyncLocalStorage } from "node:async_hooks";
import { Kind } from "./kinds";
import type { Recorder } from "./recorder";

let storage: AsyncLocalStorage<number> | undefined;
let nextRequestId = 1;
let nextConnectionId = 1;

/** Set by releaseRequestContext (scope attach's detach): no store is ever made again in this bundle. */
let released = false;

function store(): AsyncLocalStorage<number> {
  if (storage === undefined) {
    const { AsyncLocalStorage: Storage } = require("node:async_hooks") as typeof import("node:async_hooks");
    storage = new Storage<number>();
  }
  return storage;
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
  // run's extra arguments go to Reflect.apply: no closure per call.
  return store().run(id, Reflect.apply as (target: typeof fn, thisArg: unknown, args: ArrayLike<unknown>) => T, fn, thisArg, args);
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
  if (storage === undefined) return;
  const id = storage.getStore();
  if (id !== undefined && id !== 0) recorder.event(Kind.request_context, id);
}
