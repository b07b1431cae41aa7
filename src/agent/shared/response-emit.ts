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
import { responseState, type RequestState } from "./http";
import type { Recorder } from "./recorder";
import { definePatch } from "./patches";
import { callerOf } from "./reflect";

/**
 * `state`: the response's request as responseState finds it (undefined: none found), looked
 * up once by the wrapper for both hooks.
 */
export type ResponseHook = (response: object, event: "finish" | "close" | "timeout", state: RequestState | undefined) => void;

export interface ResponseHooks {
  /**
   * The frameworks' open steps (frameworks.ts). At a 'finish' whose open steps are to end
   * with the request's end record, it returns that request's state (else undefined).
   */
  steps: ((response: object, event: "finish" | "close", state: RequestState | undefined) => RequestState | undefined) | undefined;
  /** The request's end (node/http.ts): at 'close' and 'timeout', and at 'finish' where `requestAtFinish`. */
  request: ResponseHook | undefined;
  /** Bun: no finish channel, the request hook ends a response at its 'finish' (Node's does nothing there). */
  requestAtFinish: boolean;
  /**
   * After the listeners of a 'finish' whose steps' ends were to ride on the request's end
   * record (the state `steps` returned), when that end did not come (frameworks.ts).
   */
  finished: ((state: RequestState) => void) | undefined;
}

const installed = new WeakMap<object, { hooks: ResponseHooks; emit: unknown }>();

/** The hooks of `proto`'s emit (a ServerResponse prototype), the wrapper installed at the first call. */
export function responseHooks(proto: object, recorder: Recorder): ResponseHooks {
  const known = installed.get(proto);
  if (known !== undefined && (proto as { emit?: unknown }).emit === known.emit) return known.hooks;
  const hooks: ResponseHooks = known?.hooks ?? { steps: undefined, request: undefined, requestAtFinish: false, finished: undefined };
  const original = (proto as { emit: (this: object, ...args: unknown[]) => boolean }).emit;
  const call = callerOf(original);
  // Named parameters handed on for 1 or 2 arguments (callerOf), else `arguments` untouched
  // (strict bundle: unmapped), which V8's optimizing tiers forward without an object
  // (BENCHMARKS.md "Web: the wrappers' own cost", "Web: the agent's own cost a request").
  const emit = function emit(this: object, event: unknown, first: unknown) {
    const n = arguments.length;
    // Every other emit of a response (several a request) first, straight to the original: its
    // path a few code lines at the wrapper's start, the hooks' code (inlined) after it, fetched
    // only at the three events (BENCHMARKS.md "Web: the response and layer wrappers' code lines").
    if (event !== "finish" && event !== "close" && event !== "timeout") return n === 1 ? call(this, event) : n === 2 ? call(this, event, first) : (Reflect.apply(original, this, arguments) as boolean);
    const steps = event !== "timeout" ? hooks.steps : undefined;
    const request = event !== "finish" || hooks.requestAtFinish ? hooks.request : undefined;
    // The state whose steps' ends ride on its request's end record, set at a 'finish'.
    let riding: RequestState | undefined;
    if (steps !== undefined || request !== undefined) {
      // The response's request looked up once for both hooks (a 'close' looked it up in each).
      let state: RequestState | undefined;
      try {
        state = responseState(this);
        if (steps !== undefined) riding = steps(this, event as "finish" | "close", state);
      } catch (error) {
        recorder.fail(error);
      }
      if (request !== undefined) {
        try {
          request(this, event, state);
        } catch (error) {
          recorder.fail(error);
        }
      }
    }
    if (riding === undefined) return n === 1 ? call(this, event) : n === 2 ? call(this, event, first) : (Reflect.apply(original, this, arguments) as boolean);
    const result = n === 1 ? call(this, event) : (Reflect.apply(original, this, arguments) as boolean);
    // The request's end came in the listeners (Node's first one, as a rule): nothing to call.
    // Tested here, not in `finished`: on Node 20 that function, called once a request, reached
    // TurboFan only after ~5,000 requests and ran in baseline code until then (BENCHMARKS.md
    // "Web: what is left of the agent's part on Node 20").
    const finished = hooks.finished;
    if (riding.ended === true || finished === undefined) return result;
    try {
      finished(riding);
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
