/**
 * Async causality in Node (`scope run --async[=level]`, SCOPE_ASYNC): which async resource
 * (timer, immediate, nextTick, I/O request, message port, promise) was created by which,
 * and when each one's callback ran, through one `async_hooks.createHook`.
 *
 * Records (zig/layout.zig 96..100), ids as numbers, the type as a small enum:
 * - async_init: a = async id, b = trigger id, c = AsyncType (or a str id, flags bit 0),
 *   d = executionAsyncId() (whose callback created it);
 * - async_before / async_after: a = async id, around each run of its callback;
 * - async_resolve (promises level): a = promise id, b = executionAsyncId() when resolved;
 *   not written when that is the promise's own reaction (its async_before says when).
 * No stack is captured. Every other event of the thread is attributed to the resource
 * running when it was written by the decoder (src/core/async.ts AsyncLinks), which replays
 * before/after in the thread's write order: the events themselves are unchanged, and with
 * --async off nothing here is loaded or called.
 *
 * Levels. Node 20 turns its promise hook on for every promise as soon as any async hook is
 * enabled (lib/internal/async_hooks.js updatePromiseHookMode), so both levels pay Node's
 * per-promise bookkeeping; `callbacks` only leaves promises out of the trace (their init
 * is skipped by its type, their before/after by the running resource being a Promise),
 * `promises` writes them too, with the promiseResolve hook (no destroy hook at either
 * level: a destroy hook makes Node track every promise through the GC).
 */
import type * as AsyncHooks from "node:async_hooks";
import { ASYNC_TYPE_STRING_FLAG, AsyncLevel, AsyncType, Kind } from "../shared/kinds";
import type { Recorder } from "../shared/recorder";

/** SCOPE_ASYNC's level; undefined when async tracking is off (or the value is unknown). */
export function asyncLevelOf(value: string | undefined): "callbacks" | "promises" | undefined {
  return value === "callbacks" || value === "promises" ? value : undefined;
}

/**
 * The resource types with a number of their own (layout's AsyncType), made when tracking
 * starts. By member access, which the Node bundles inline (src/core/assets.ts
 * agentKindsSource): iterated, AsyncType was an object of 20 properties that every thread
 * built at its start, ~6 K instructions a property in a new worker (BENCHMARKS.md "Thirteenth
 * look"). spec/agent-extras.test.ts checks that it lists every AsyncType.
 */
export function asyncTypes(): Map<string, number> {
  return new Map<string, number>([
    ["PROMISE", AsyncType.PROMISE],
    ["Timeout", AsyncType.Timeout],
    ["Immediate", AsyncType.Immediate],
    ["TickObject", AsyncType.TickObject],
    ["Microtask", AsyncType.Microtask],
    ["MESSAGEPORT", AsyncType.MESSAGEPORT],
    ["WORKER", AsyncType.WORKER],
    ["FSREQCALLBACK", AsyncType.FSREQCALLBACK],
    ["TCPWRAP", AsyncType.TCPWRAP],
    ["TCPSERVERWRAP", AsyncType.TCPSERVERWRAP],
    ["TCPCONNECTWRAP", AsyncType.TCPCONNECTWRAP],
    ["HTTPINCOMINGMESSAGE", AsyncType.HTTPINCOMINGMESSAGE],
    ["HTTPCLIENTREQUEST", AsyncType.HTTPCLIENTREQUEST],
    ["WRITEWRAP", AsyncType.WRITEWRAP],
    ["PIPEWRAP", AsyncType.PIPEWRAP],
    ["FILEHANDLE", AsyncType.FILEHANDLE],
    ["GETADDRINFOREQWRAP", AsyncType.GETADDRINFOREQWRAP],
    ["PROCESSWRAP", AsyncType.PROCESSWRAP],
    ["SHUTDOWNWRAP", AsyncType.SHUTDOWNWRAP],
    ["TTYWRAP", AsyncType.TTYWRAP],
  ]);
}

export function startAsyncTracking(recorder: Recorder, level: "callbacks" | "promises"): void {
  const hooks = require("node:async_hooks") as typeof AsyncHooks;
  const executionAsyncId = hooks.executionAsyncId;
  const executionAsyncResource = hooks.executionAsyncResource;
  const promises = level === "promises";
  const NativePromise = Promise;
  const types = asyncTypes();
  const asked = level === "promises" ? AsyncLevel.promises : AsyncLevel.callbacks;
  recorder.event(Kind.async_tracking, asked, asked, 0);
  const typeOf = (type: string): number => {
    const known = types.get(type);
    if (known !== undefined) return known;
    return -recorder.str(type);
  };
  // Every callback is guarded: an exception thrown from an async hook ends the process.
  const callbacks: AsyncHooks.HookCallbacks = {
    init(asyncId, type, triggerAsyncId) {
      if (recorder.stopped || (!promises && type === "PROMISE")) return;
      try {
        const code = typeOf(type);
        if (code >= 0) recorder.event(Kind.async_init, asyncId, triggerAsyncId, code, executionAsyncId());
        else recorder.event(Kind.async_init, asyncId, triggerAsyncId, -code, executionAsyncId(), 0, ASYNC_TYPE_STRING_FLAG);
      } catch (error) {
        recorder.fail(error);
      }
    },
    before(asyncId) {
      if (recorder.stopped) return;
      if (!promises && executionAsyncResource() instanceof NativePromise) return;
      recorder.event(Kind.async_before, asyncId);
    },
    after(asyncId) {
      if (recorder.stopped) return;
      if (!promises && executionAsyncResource() instanceof NativePromise) return;
      recorder.event(Kind.async_after, asyncId);
    },
  };
  if (promises) {
    callbacks.promiseResolve = (asyncId) => {
      if (recorder.stopped) return;
      // A promise resolved inside its own reaction (a then-promise as its callback returns):
      // its async_before already says when; half the resolves of a then-chain.
      const running = executionAsyncId();
      if (running !== asyncId) recorder.event(Kind.async_resolve, asyncId, running);
    };
  }
  hooks.createHook(callbacks).enable();
}
