/**
 * Async causality under Bun (`scope run --async`): what Bun 1.4 lets an agent see.
 *
 * Bun 1.4.5's `async_hooks.createHook` calls no `before`/`after`/`promiseResolve` hook at
 * all, and `init` only for some nextTick objects with ids 0 (oven-sh/bun#14457; checked
 * here); `executionAsyncId()` is 0. So the agent wraps the scheduling functions a program
 * calls, and gives their callbacks ids of its own (per thread, from 2; 1 is the thread's
 * top level, as in Node): `setTimeout`, `setInterval`, `setImmediate` (global and
 * node:timers, the same functions in Bun), `queueMicrotask` and `process.nextTick`. Each
 * call writes async_init (trigger = the wrapped callback running when it was scheduled);
 * each run of the callback async_before/async_after, so the decoder attributes events to
 * it as in Node. Not seen: promises (no hook, and wrapping `then` would change what a
 * program observes), I/O completions and message ports (native, no JavaScript entry
 * to wrap): async_tracking says so (b = AsyncLevel.timers), and `scope run` prints it.
 *
 * What a program can notice: the scheduling functions are other functions of the same
 * name and length (their own properties, promisify's custom one included, copied), and an
 * error thrown by a callback has one more frame (the wrapper's) in its stack.
 */
import { AsyncLevel, AsyncType } from "../../core/layout";
import { Kind } from "../shared/kinds";
import type { Recorder } from "../shared/recorder";

export const BUN_ASYNC_LACKS = "Bun 1.4 implements no async_hooks: timers, immediates, nextTick and queueMicrotask only; no promises, I/O or message ports";

type Scheduler = (this: unknown, ...args: unknown[]) => unknown;

export function startBunAsyncTracking(recorder: Recorder, asked: "callbacks" | "promises"): void {
  recorder.event(Kind.async_tracking, AsyncLevel[asked], AsyncLevel.timers, recorder.str(BUN_ASYNC_LACKS));
  let nextId = 2;
  let current = 1;
  const scoped = (type: number, callback: (...args: unknown[]) => unknown) => {
    const id = nextId++;
    recorder.event(Kind.async_init, id, current, type, current);
    return function (this: unknown) {
      recorder.event(Kind.async_before, id);
      const outer = current;
      current = id;
      try {
        return Reflect.apply(callback, this, arguments);
      } finally {
        current = outer;
        recorder.event(Kind.async_after, id);
      }
    };
  };
  /** A scheduler whose callback (the first argument) runs in a scope of its own. */
  const wrap = (original: Scheduler, type: number): Scheduler => {
    const replacement = {
      [original.name](this: unknown) {
        const args = Array.prototype.slice.call(arguments);
        if (typeof args[0] === "function" && !recorder.stopped) {
          try {
            args[0] = scoped(type, args[0] as (...args: unknown[]) => unknown);
          } catch (error) {
            recorder.fail(error);
          }
        }
        return Reflect.apply(original, this, args);
      },
    }[original.name]!;
    for (const key of Reflect.ownKeys(original)) {
      const descriptor = Object.getOwnPropertyDescriptor(original, key);
      if (descriptor && key !== "prototype") Object.defineProperty(replacement, key, descriptor);
    }
    return replacement;
  };
  const timers = require("node:timers") as Record<string, unknown>;
  const host = globalThis as unknown as Record<string, unknown>;
  const replaced = new Map<unknown, Scheduler>();
  for (const [name, type] of [
    ["setTimeout", AsyncType.Timeout],
    ["setInterval", AsyncType.Timeout],
    ["setImmediate", AsyncType.Immediate],
    ["queueMicrotask", AsyncType.Microtask],
  ] as const) {
    const original = host[name];
    if (typeof original !== "function") continue;
    const replacement = wrap(original as Scheduler, type);
    replaced.set(original, replacement);
    host[name] = replacement;
  }
  for (const [name, value] of Object.entries(timers)) {
    const replacement = replaced.get(value);
    if (replacement) timers[name] = replacement;
  }
  process.nextTick = wrap(process.nextTick as Scheduler, AsyncType.TickObject) as typeof process.nextTick;
}
