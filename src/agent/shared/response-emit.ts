/**
 * One wrapper of a ServerResponse prototype's `emit` for everything scope does at a
 * response's 'finish', 'close' and 'timeout': the frameworks' open steps (frameworks.ts)
 * and the request's end (node/http.ts). Each integration sets its own hook in the slot the
 * prototype's entry holds; whichever comes first installs the wrapper. One wrapper, not
 * one per integration stacked over the other: each emit of a response (several a request)
 * passed two of scope's frames and two `Reflect.apply`s (BENCHMARKS.md "Web: fewer records
 * and wrappers a request").
 *
 * Order at a response's end: the steps' hook first, then the request's: a step ends inside
 * its request. At 'finish' the steps still open end with the request's end record (its flag
 * HttpEndFlag.stepsEnd), which Node writes from its first 'finish' listener (the
 * `http.server.response.finish` channel) and Bun's integration from the request hook here;
 * `finished` runs after the listeners, for ends that must be written after all.
 */
import type { Recorder } from "./recorder";
import { definePatch } from "./patches";
import { callerOf } from "./reflect";

export type ResponseHook = (response: object, event: "finish" | "close" | "timeout") => void;

export interface ResponseHooks {
  /** The frameworks' open steps (frameworks.ts). */
  steps: ResponseHook | undefined;
  /** The request's end (node/http.ts). */
  request: ResponseHook | undefined;
  /** After the listeners of a 'finish' (frameworks.ts: steps whose ends were to ride on a request end that did not come). */
  finished: ((response: object) => void) | undefined;
}

const installed = new WeakMap<object, { hooks: ResponseHooks; emit: unknown }>();

/** The hooks of `proto`'s emit (a ServerResponse prototype), the wrapper installed at the first call. */
export function responseHooks(proto: object, recorder: Recorder): ResponseHooks {
  const known = installed.get(proto);
  if (known !== undefined && (proto as { emit?: unknown }).emit === known.emit) return known.hooks;
  const hooks: ResponseHooks = known?.hooks ?? { steps: undefined, request: undefined, finished: undefined };
  const original = (proto as { emit: (this: object, ...args: unknown[]) => boolean }).emit;
  const call = callerOf(original);
  // Named parameters handed on for 1 or 2 arguments (callerOf), else `arguments` untouched
  // (strict bundle: unmapped), which V8's optimizing tiers forward without an object
  // (BENCHMARKS.md "Web: the wrappers' own cost", "Web: the agent's own cost a request").
  const emit = function emit(this: object, event: unknown, first: unknown) {
    if (event === "finish" || event === "close" || event === "timeout") {
      const steps = hooks.steps;
      if (steps !== undefined && event !== "timeout") {
        try {
          steps(this, event);
        } catch (error) {
          recorder.fail(error);
        }
      }
      const request = hooks.request;
      if (request !== undefined) {
        try {
          request(this, event);
        } catch (error) {
          recorder.fail(error);
        }
      }
    }
    const n = arguments.length;
    if (event !== "finish" || hooks.finished === undefined) return n === 1 ? call(this, event) : n === 2 ? call(this, event, first) : (Reflect.apply(original, this, arguments) as boolean);
    const result = n === 1 ? call(this, event) : (Reflect.apply(original, this, arguments) as boolean);
    try {
      hooks.finished(this);
    } catch (error) {
      recorder.fail(error);
    }
    return result;
  };
  Object.defineProperty(emit, "length", { value: original.length });
  definePatch(proto, "emit", { configurable: true, writable: true, enumerable: false, value: emit });
  installed.set(proto, { hooks, emit });
  return hooks;
}
