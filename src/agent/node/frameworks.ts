/**
 * Web frameworks (Node and Bun): the route a request matched (`http_route`) and each step
 * that handled it (`http_step_start` / `http_step_end`: middleware, route handlers, error
 * handlers), each naming its server request (the running request context, set by the HTTP
 * integration when the request started).
 *
 * Loaded with the framework, not before: `Module._extensions[".js"]` is wrapped once
 * (scope attach; a Node thread's core hooks the files without a frame, lazy.ts; a Bun thread
 * hooks require, src/agent/bun/library-files.ts) and, after a framework's file ran, its
 * exports are hooked through `frameworkFiles` (ARCHITECTURE.md "Frameworks"):
 * - Express 4 (express/lib/router/layer.js) and Express 5 (router/lib/layer.js, the
 *   `router` package Express 5 uses): the Layer prototype's request and error entry points
 *   (`handle_request`/`handle_error`, `handleRequest`/`handleError`). A step starts when
 *   Express calls a layer whose function it will run (its arity decides, as in Express),
 *   and ends when the function passes control on (`next()`, `next(err)`: failed; Express
 *   turns a throw or, in 5, a rejected promise into `next(err)`), or, for a step that never
 *   passes on, when its response finishes or closes. The layer that dispatches to a route
 *   (`layer.route`) is no step: it gives the route pattern (`req.baseUrl` + the route's
 *   path) and marks the route's own layers as handlers.
 * - Fastify 5: its own tracing channel `fastify.request.handler` (start, end, asyncEnd,
 *   error), subscribed when fastify.js (or the lib/hooks.js it requires) loads: the route (`route.url`) and the handler step.
 * The program's functions get the same arguments except `next`, which is a function of the
 * same name and length that records the step's end and calls Express's own.
 */
import type * as Http from "node:http";
import { HttpEndFlag, Kind, STEP_FRAMEWORK_LIMIT, STEP_ORDINAL_LIMIT, StepStartFlag } from "../shared/kinds";
import type { Recorder } from "../shared/recorder";
import { requestState, serverRequests, type RequestState, type StepsState } from "../shared/http";
import { currentRequest } from "../shared/request-context";
import { asyncFramesFollowOneReaction, callerOf, protoData, renamed } from "../shared/reflect";
import { makeStamp } from "../shared/stamp";
import { assignPatch, definePatch, undoLater } from "../shared/patches";
import { responseHooks } from "../shared/response-emit";
import { hookKoaApplication, hookKoaRouter, isKoaApplicationFile, isKoaRouterFile } from "./koa";
import { hookHonoBase, hookHonoBaseBindings, hookHonoContext, hookHonoRouters, isHonoBaseFile, isHonoContextFile, isHonoRouterFile } from "./hono";
import { hookNest, isNestRouterFile } from "./nest";
import { hookNext, isNextFile } from "./next";
import { frameworkFile } from "./triggers";
import { hookMemoirist } from "./elysia";
import { GraphqlHooks, isGraphqlFile } from "./graphql";
import { TrpcHooks, isTrpcFile } from "./trpc";

type Extension = (module: { exports: unknown }, filename: string) => unknown;


/**
 * `loaded`: files the program loaded already, with their exports (scope attach: from
 * require.cache), hooked now; the files it loads from now on are hooked as they load.
 */
export function hookFrameworks(recorder: Recorder, Module: object, loaded?: Iterable<[string, unknown]>): FrameworkEsm | undefined {
  const onFile = frameworkFiles(recorder);
  if (loaded !== undefined) {
    for (const [filename, exports] of loaded) onFile(filename, exports, true);
  }
  const extensions = (Module as { _extensions?: Record<string, Extension> })._extensions;
  const original = extensions?.[".js"];
  if (!extensions || typeof original !== "function") return onFile.esm;
  const load = function (this: unknown, module: { exports: unknown }, filename: string) {
    // Any other file: the original in tail position (tailCall in shared/patches.ts).
    if (typeof filename !== "string" || !frameworkFile().test(filename)) return Reflect.apply(original, this, arguments);
    const result = Reflect.apply(original, this, arguments);
    onFile(filename, module.exports);
    return result;
  };
  Object.defineProperty(load, "name", { value: original.name, configurable: true });
  Object.defineProperty(load, "length", { value: original.length, configurable: true });
  assignPatch(extensions, ".js", load);
  return onFile.esm;
}

/** The frameworks' hook of a package's ES build as it loads (its bindings: src/agent/shared/esm-hooks.ts). */
export type FrameworkEsm = (id: string, bindings: Record<string, unknown>) => void;

/**
 * The frameworks' hook of one loaded file (its exports, after it ran): what hookFrameworks
 * calls for each file, and the Node agent's core for each file it sees load (lazy.ts), which
 * wraps `Module._extensions` itself.
 */
export function frameworkFiles(recorder: Recorder): ((filename: string, exports: unknown, loadedBefore?: boolean) => void) & { esm: FrameworkEsm } {
  const frameworks = new Frameworks(recorder);
  const onFile = (filename: string, exports: unknown, loadedBefore = false) => {
    if (frameworkFile().test(filename)) recorder.safe(() => frameworks.onFile(filename, exports, loadedBefore));
    // scope attach: Hono's Context, for apps whose routes went into their routers before it (hono.ts hookHonoContext).
    else if (loadedBefore && isHonoContextFile(filename)) recorder.safe(() => hookHonoContext(frameworks, exports));
  };
  return Object.assign(onFile, { esm: (id: string, bindings: Record<string, unknown>) => recorder.safe(() => frameworks.onEsm(id, bindings)) });
}

/** What the steps of one server request share: fields of its state (shared/http.ts StepsState), here with their step type. */
interface Steps extends StepsState {
  top: Step | undefined;
  ending: Step | undefined;
}

/**
 * A step's `error` until it fails (the error, any value: `undefined` too). One field where a
 * `failed` flag and the error were two: a step is allocated per layer a request passes, and a
 * field less is 8 bytes less of it (BENCHMARKS.md "Web: what the agent allocates a request").
 */
const NOT_FAILED: unique symbol = Symbol("scope.notFailed");

interface Step {
  steps: Steps;
  ordinal: number;
  /** Tested `=== true` / `!== true` (the step's `next` and `end`): one compare, not TurboFan's whole ToBoolean (RequestState's `ended`). */
  ended: boolean;
  /** NOT_FAILED, or what it failed with. */
  error: unknown;
  hook: boolean;
  /** The open step this one began inside (while open). */
  below: Step | undefined;
}

type LayerFn = (this: unknown, ...args: unknown[]) => unknown;

/** An Express route as last seen: its stack's length (its layers are handlers) and its recorded pattern. */
interface RouteSeen {
  stackLength: number;
  base: string;
  path: unknown;
  pattern: string;
  /** The pattern's string id (0: not recorded yet). */
  patternId: number;
}

/**
 * What a layer's function gives its steps, worked out once per layer (Express's layers
 * live as long as the app) instead of per request: the function's arity and name (each a
 * call of V8's accessor), its name's string id, and whether the layer is a route's own
 * (a handler).
 */
interface LayerInfo {
  fn: unknown;
  arity: number;
  nameId: number;
  handler: boolean;
  /** A route's dispatch layer: its route as last seen (kept here, not in a WeakMap keyed by the route: one look-up a request less). */
  route: object | undefined;
  seen: RouteSeen | undefined;
}

interface LayerLike {
  handle?: unknown;
  route?: { path?: unknown; stack?: unknown } | null;
}

/**
 * Server request (IncomingMessage) and its response → its steps: a stamp (stamp.ts), not a
 * WeakMap: two ephemeron entries per short-lived request cost V8's GC more than the
 * steps themselves (BENCHMARKS.md "Web services", per-request cost).
 */
const stepsStamp = makeStamp<Steps>();
/** Layer → its LayerInfo (a stamp: one private-field load per layer a request passes). */
const layerInfos = makeStamp<LayerInfo>(true);

/**
 * The arity a LayerInfo gives Express 4's own `query` and `expressInit` layers (markExpressOwn):
 * no function has it, so neither layer wrapper makes a step of them (a request's needs arity ≤ 3,
 * an error's 4), should one be called for them (a program calling Layer.prototype's entry point
 * itself); kept when the layer's function is replaced (layerInfo).
 */
const EXPRESS_OWN = 0x40000000;

/** The Layer prototype's own entry points (before scope's wrappers), by prototype: what markExpressOwn gives Express's own layers. */
const layerEntries = new WeakMap<object, { request: string; handleRequest: unknown; error: string; handleError: unknown }>();

/**
 * A new router's first two layers, when they are Express 4's `query` and `expressInit`
 * (app.lazyrouter): no steps. Each gets the Layer prototype's own `handle_request` and
 * `handle_error` as its own (non-enumerable) properties, so a request's visit of them runs
 * Express's code alone, no wrapper (~0.35 k a request on Node 20 and 24 against the wrapper's
 * shortest path: BENCHMARKS.md "Web: Express 4's own layers as no steps"), and a LayerInfo of
 * arity EXPRESS_OWN.
 */
function markExpressOwn(stack: unknown[]): void {
  const query = stack[0] as LayerLike | null;
  const init = stack[1] as LayerLike | null;
  if (query === null || typeof query !== "object" || init === null || typeof init !== "object") return;
  const queryFn = query.handle as { name?: unknown } | undefined;
  const initFn = init.handle as { name?: unknown } | undefined;
  if (typeof queryFn !== "function" || typeof initFn !== "function" || queryFn.name !== "query" || initFn.name !== "expressInit") return;
  for (const [layer, fn] of [[query, queryFn], [init, initFn]] as const) {
    layerInfos.set(layer, { fn, arity: EXPRESS_OWN, nameId: 0, handler: false, route: undefined, seen: undefined });
    const entries = layerEntries.get(Object.getPrototypeOf(layer) as object);
    if (entries === undefined || !Object.isExtensible(layer)) continue;
    definePatch(layer, entries.request, { value: entries.handleRequest, writable: true, enumerable: false, configurable: true });
    definePatch(layer, entries.error, { value: entries.handleError, writable: true, enumerable: false, configurable: true });
  }
}

/** The route a layer dispatches to (Express's route layer: its `route`), else undefined. */
function routeOf(layer: LayerLike): { path?: unknown; stack?: unknown } | undefined {
  const route = layer.route;
  return route !== null && typeof route === "object" ? route : undefined;
}


export class Frameworks {
  private readonly routesSeen = new WeakMap<object, RouteSeen>();
  private readonly patched = new WeakSet<object>();
  private responsesHooked = false;
  private readonly fastifyStores = new WeakMap<object, Step>();
  private fastifySubscribed = false;

  /**
   * String ids of the step kinds and of "express" (0: not written yet): a field each, found
   * by comparing the (constant) name, not an object keyed by it (a keyed load by a variable
   * name is a megamorphic look-up in V8, each step's start and each route).
   */
  private middlewareId = 0;
  private handlerId = 0;
  private errorId = 0;
  private hookId = 0;
  private expressId = 0;

  /**
   * scope.node's Fast API commit where the sink has it (Recorder.eventCommit, read once), else
   * one that hands the event to the recorder's `event`: `write`.
   */
  private readonly commitEvent: NonNullable<Recorder["eventCommit"]>;

  constructor(readonly recorder: Recorder) {
    this.commitEvent =
      recorder.eventCommit ??
      ((kind: number, flags: number, a: number, b: number, c: number, d: number, e: number): number => {
        recorder.event(kind, a, b, c, d, e, flags);
        return 1;
      });
  }

  /**
   * A step's record through the sink's Fast API call itself (as ports.ts's receive), not the
   * recorder's `event`, whose default arguments make it large in TurboFan's inlining budget
   * (BENCHMARKS.md "Web: a layer's visit, fewer calls"); no test of the sink's kind here
   * either (its bytecode counts against the layer wrapper's budget, which onLayer fits in).
   */
  private write(kind: number, a: number, b: number, c: number, d: number, e: number, flags: number): void {
    // No try/catch here: every caller runs inside one of its own (the layer wrappers', the
    // step's `next`, the response's emit, Fastify's guard).
    const commit = this.commitEvent;
    const written = commit(kind, flags, a, b, c, d, e);
    if (written !== 1) this.recorder.notCommitted(written, kind, a, b, c, d, e, flags);
  }

  /**
   * scope.node's codeHeld and codeProve (zig/napi.zig "A function's code held"), once Express
   * loads, where the addon has them (Node's x64 builds; not Bun, nor function tracing's sink).
   */
  private codeHeld: ((fn: unknown) => boolean) | undefined;
  private codeProve: ((fn: unknown) => boolean) | undefined;
  /** Functions proved (codeProve calls) at most: a program that hands ever-new functions named `next` stops proving. */
  private proves = 0;

  private useCodeProofs(): void {
    const api = this.recorder.mapProofs() as { codeHeld?: unknown; codeOffset?: unknown; codeProve?: unknown } | null | undefined;
    if (api === null || typeof api !== "object" || typeof api.codeHeld !== "function" || typeof api.codeOffset !== "function" || typeof api.codeProve !== "function") return;
    // Two closures of one literal made in two contexts, two other literals: where a
    // JSFunction holds its SharedFunctionInfo (napi.zig codeOffset).
    const closure = (value: number) =>
      function next(error: unknown) {
        return value + Number(error);
      };
    const found = Reflect.apply(api.codeOffset, api, [
      closure(1),
      closure(2),
      function next(error: unknown) {
        return error;
      },
      function other(error: unknown, value: unknown) {
        return [error, value];
      },
    ]);
    if (found !== true) return;
    this.codeHeld = api.codeHeld as (fn: unknown) => boolean;
    this.codeProve = api.codeProve as (fn: unknown) => boolean;
  }

  private kindId(kind: "middleware" | "handler" | "error" | "hook" | "express"): number {
    let id = kind === "middleware" ? this.middlewareId : kind === "handler" ? this.handlerId : kind === "error" ? this.errorId : kind === "hook" ? this.hookId : this.expressId;
    if (id !== 0) return id;
    id = this.recorder.str(kind);
    if (kind === "middleware") this.middlewareId = id;
    else if (kind === "handler") this.handlerId = id;
    else if (kind === "error") this.errorId = id;
    else if (kind === "hook") this.hookId = id;
    else this.expressId = id;
    return id;
  }

  /** The LayerInfo of `layer` whose function is `fn` (made, or remade when the layer's function changed). */
  private layerInfo(layer: object, fn: { length: number }): LayerInfo {
    // A layer visited before carries the stamp: its load alone (find), not `#value in` first.
    const known = layerInfos.find(layer);
    if (known !== undefined && known.fn === fn) return known;
    const info: LayerInfo = { fn, arity: known !== undefined && known.arity === EXPRESS_OWN ? EXPRESS_OWN : fn.length, nameId: 0, handler: known !== undefined && known.handler, route: undefined, seen: undefined };
    layerInfos.set(layer, info);
    return info;
  }

  /** A package's ES build as it loads (src/agent/shared/esm-hooks.ts): the same hooks as its CommonJS build's file. */
  onEsm(id: string, bindings: Record<string, unknown>): void {
    if (id === "hono-router") return hookHonoRouters(this, bindings);
    if (id === "hono-base") return hookHonoBaseBindings(this, bindings);
    if (id === "koa-router") return hookKoaRouter(this, bindings.Router, this.patched);
    if (id === "koa-application") return hookKoaApplication(this, bindings.mod);
    if (id === "elysia") return hookMemoirist(this.recorder, bindings.Memoirist, this.patched);
    if (id === "graphql") return this.graphqlHooks().hook(bindings);
    if (id === "trpc") return this.trpcHooks().hook(bindings);
  }

  private trpc: TrpcHooks | undefined;

  /** tRPC's hooks (trpc.ts), made when its entry loads. */
  private trpcHooks(): TrpcHooks {
    return (this.trpc ??= new TrpcHooks(this.recorder));
  }

  private graphql: GraphqlHooks | undefined;

  /** graphql-js's hooks (graphql.ts), made when its first file loads. */
  private graphqlHooks(): GraphqlHooks {
    return (this.graphql ??= new GraphqlHooks(this.recorder));
  }

  /**
   * A step around one call of a function that runs the rest of the request inside it (Hono's
   * and Koa's middleware: `await next()`), in `req`'s steps (none: the function alone). It
   * ends when the call returns, or when the native promise it returned settles; failed when
   * the call throws or the promise rejects (thrown and rejected as before). In Node a native
   * promise is handed on as the promise of our reaction to it, which settles as it did: the
   * function's promise keeps a single reaction, which V8 follows to write the `at async outer`
   * frames of an error made after an await inside it (a second reaction of ours beside the
   * caller's cut them from every logged stack: auditnest), at the price of one microtask turn
   * before the caller resumes; in Bun the promise is handed on as it was, our reaction beside
   * the caller's (asyncFramesFollowOneReaction). `route` (a handler's): the request's route,
   * riding on the step's start (`routeId`: its string id, kept by the caller). Nested steps end inside it.
   */
  aroundStep(req: unknown, res: unknown, nameId: number, kind: "middleware" | "handler" | "error", route: string | undefined, routeId: number, framework: number, fn: LayerFn, self: unknown, args: IArguments): unknown {
    let step: Step | undefined;
    try {
      const steps = req !== null && typeof req === "object" ? this.stepsOf(req, res as object) : undefined;
      if (steps !== undefined) {
        if (route !== undefined) routeId = this.route(steps, route, framework, routeId);
        step = this.start(steps, nameId, kind, routeId);
      }
    } catch (error) {
      this.recorder.fail(error);
    }
    if (step === undefined) return Reflect.apply(fn, self, args);
    const current = step;
    const recorder = this.recorder;
    let result: unknown;
    try {
      result = Reflect.apply(fn, self, args);
    } catch (error) {
      recorder.safe(() => {
        current.error = error;
        this.end(current);
      });
      throw error;
    }
    // Only a native promise gets a reaction of ours (a thenable's then could have effects).
    if (result instanceof Promise) return this.endOnSettle(current, result);
    recorder.safe(() => this.end(current));
    return result;
  }

  /**
   * `step` ended when the native `promise` settles (failed with what it rejects with); the
   * promise to hand on in its place, which settles as `promise` does: the promise of this
   * reaction in Node, `promise` itself in Bun (asyncFramesFollowOneReaction, aroundStep).
   */
  private endOnSettle(step: Step, promise: Promise<unknown>): Promise<unknown> {
    const recorder = this.recorder;
    const reaction = Promise.prototype.then.call(
      promise,
      (value: unknown) => {
        recorder.safe(() => this.end(step));
        return value;
      },
      (error: unknown) => {
        recorder.safe(() => {
          step.error = error;
          this.end(step);
        });
        if (asyncFramesFollowOneReaction) throw error;
      },
    );
    return asyncFramesFollowOneReaction ? reaction : promise;
  }

  /**
   * A step of kind `error` around one call of the framework's function that reports an error
   * the request's code threw and the framework answered itself (Next.js's onRequestError hook:
   * next.ts), failed with that error (or with what the call itself throws). It ends when the
   * call returns, not when a promise it returns settles: the response may finish first (a slow
   * reporting hook), and a step still open then ends with it as answered, not failed; and
   * the framework's promise keeps its one reaction.
   */
  aroundReportedError(req: unknown, nameId: number, reported: unknown, fn: LayerFn, self: unknown, args: IArguments): unknown {
    let step: Step | undefined;
    try {
      const steps = req !== null && typeof req === "object" ? this.stepsOf(req, undefined as unknown as object) : undefined;
      if (steps !== undefined) {
        step = this.start(steps, nameId, "error", 0);
        step.error = reported;
      }
    } catch (error) {
      this.recorder.fail(error);
    }
    if (step === undefined) return Reflect.apply(fn, self, args);
    const current = step;
    const recorder = this.recorder;
    let result: unknown;
    try {
      result = Reflect.apply(fn, self, args);
    } catch (error) {
      recorder.safe(() => {
        current.error = error;
        this.end(current);
      });
      throw error;
    }
    recorder.safe(() => this.end(current));
    return result;
  }

  /**
   * A step begun in `req`'s steps (none: undefined) and left open: it ends when the program
   * reports its failure (`failStep`), else with the response (the steps still open end with it)
   * or the step it began inside (`endWithInner`). For a function whose promise gets no reaction
   * of ours (NestJS's pipeline: a second reaction would cut the async stack trace of an error
   * made in it).
   */
  openStep(req: object, res: unknown, nameId: number, kind: "middleware" | "handler"): object | undefined {
    const steps = this.stepsOf(req, res as object);
    return steps === undefined ? undefined : this.start(steps, nameId, kind, 0);
  }

  /** Ends a step of `openStep`, failed with `error` (steps begun inside it end first). */
  failStep(opened: object, error: unknown): void {
    const step = opened as Step;
    if (step.ended === true) return;
    step.error = error;
    this.endWithInner(step);
  }

  /** Ends `step` and, first, the steps begun inside it still open (innermost first). */
  endWithInner(step: Step): void {
    const steps = step.steps;
    for (let top = steps.top; top !== undefined && top !== step && step.ended !== true; top = steps.top) {
      // Only a step above `step` in the chain: one that began inside it.
      let below = top.below;
      while (below !== undefined && below !== step) below = below.below;
      if (below === undefined) break;
      this.end(top);
    }
    this.end(step);
  }

  /** The string id of a framework's name or a step's kind (kept after the first). */
  strId(name: "hono" | "koa"): number {
    return this.recorder.str(name);
  }

  /** `loadedBefore`: a file the program loaded before scope (scope attach), whose objects may exist already. */
  onFile(filename: string, exports: unknown, loadedBefore = false): void {
    if (filename.endsWith("fastify.js")) return this.hookFastify();
    if (filename.endsWith("hooks.js")) {
      // fastify.js requires lib/hooks.js as it loads: the channel is subscribed here too, for
      // a fastify.js no CommonJS step ran (Bun's `import` of it from an ES module loads it
      // natively; its own require()s pass Module._extensions).
      this.hookFastify();
      return this.hookFastifyHooks(exports);
    }
    if (isKoaRouterFile(filename)) return hookKoaRouter(this, exports, this.patched);
    if (isHonoRouterFile(filename)) return hookHonoRouters(this, exports);
    if (isHonoBaseFile(filename)) return hookHonoBase(this, exports);
    if (isKoaApplicationFile(filename)) return hookKoaApplication(this, exports, loadedBefore);
    if (isNestRouterFile(filename)) return hookNest(this, filename, exports, this.patched);
    if (isNextFile(filename)) return hookNext(this, filename, exports, this.patched);
    if (isGraphqlFile(filename)) return this.graphqlHooks().hook(exports);
    if (isTrpcFile(filename)) return this.trpcHooks().hook(exports);
    if (filename.endsWith("index.js")) return this.hookExpressRouter(exports, loadedBefore);
    const proto = typeof exports === "function" ? (exports.prototype as Record<string, unknown> | undefined) : undefined;
    if (proto === undefined || this.patched.has(proto)) return;
    if (typeof proto.handle_request === "function" && typeof proto.handle_error === "function") {
      this.patched.add(proto);
      this.hookLayer(proto, "handle_request", "handle_error");
    } else if (typeof proto.handleRequest === "function" && typeof proto.handleError === "function") {
      this.patched.add(proto);
      this.hookLayer(proto, "handleRequest", "handleError");
    }
  }

  /**
   * The steps of `request` (its IncomingMessage). They ride on the server request's own
   * state, which the HTTP integration stamped on it (one private-field load, no stamp of
   * their own on the request and its response); a request scope did not record but the
   * running request context names (none in practice) keeps them in a stamp of its own.
   * The request from its stamp, not the context: AsyncLocalStorage's getStore
   * (executionAsyncResource) ran once per layer a request passes.
   */
  private stepsOf(request: object, response: object): Steps | undefined {
    const state = serverRequests.get(request);
    return state !== undefined ? (state as Steps) : this.unrecordedSteps(request, response);
  }

  /** The steps of a request scope did not record (stepsOf): kept in a stamp of their own, for the running request context's id. */
  private unrecordedSteps(request: object, response: object): Steps | undefined {
    const id = currentRequest();
    if (id === 0) return undefined;
    let steps = stepsStamp.get(request);
    if (steps === undefined || steps.id !== id) {
      // A state of its own (the same fields as a recorded request's), only its steps' fields used.
      steps = requestState(id) as Steps;
      stepsStamp.set(request, steps);
      if (response !== null && typeof response === "object") stepsStamp.set(response, steps);
    }
    return steps;
  }

  /**
   * The route the framework matched, `patternId`: the pattern's string id when known (0:
   * looked up here). Not written yet: the handler step that starts next (in the same
   * synchronous dispatch) carries it in its start record (STEP_ROUTE); `flushRoute` writes
   * it as an http_route record of its own when no handler took it.
   */
  private route(steps: Steps, pattern: string, framework: number, patternId = 0): number {
    const id = patternId !== 0 ? patternId : this.recorder.str(pattern);
    if (steps.routeFramework !== 0) this.flushRoute(steps);
    steps.route = pattern;
    steps.routeId = id;
    steps.routeFramework = framework;
    this.pendingRoute = steps;
    return id;
  }

  /** Steps whose route is not written yet (at most one: written or taken within the dispatch that matched it). */
  pendingRoute: Steps | undefined = undefined;

  /** A route matched and taken by no handler step: its own http_route record. */
  flushRoute(steps: Steps): void {
    if (this.pendingRoute === steps) this.pendingRoute = undefined;
    const framework = steps.routeFramework;
    if (framework === 0) return;
    steps.routeFramework = 0;
    this.recorder.event(Kind.http_route, steps.id, steps.routeId, framework);
  }

  /** http_step_start, with the string ids of its name, kind and route (0: none). */
  private start(steps: Steps, nameId: number, kind: "middleware" | "handler" | "error" | "hook", routeId: number): Step {
    const ordinal = ++steps.ordinal;
    const b = steps.routeFramework === 0 ? ordinal : this.routeRides(steps, kind, routeId, ordinal);
    let kindId = kind === "middleware" ? this.middlewareId : kind === "handler" ? this.handlerId : 0;
    if (kindId === 0) kindId = this.kindId(kind);
    this.write(Kind.http_step_start, steps.id, b, nameId, kindId, routeId, b === ordinal ? 0 : StepStartFlag.route);
    const step: Step = { steps, ordinal, ended: false, error: NOT_FAILED, hook: kind === "hook", below: steps.top };
    steps.top = step;
    return step;
  }

  /**
   * A route matched and not written yet when a step starts: it rides on the step's start when
   * the step is its handler (field b: the ordinal and the framework's string id, flags
   * StepStartFlag.route; one record a request less), else it is written first. The start's b.
   */
  private routeRides(steps: Steps, kind: string, routeId: number, ordinal: number): number {
    const framework = steps.routeFramework;
    if (kind === "handler" && routeId === steps.routeId && ordinal < STEP_ORDINAL_LIMIT && framework < STEP_FRAMEWORK_LIMIT) {
      steps.routeFramework = 0;
      if (this.pendingRoute === steps) this.pendingRoute = undefined;
      return ordinal + framework * STEP_ORDINAL_LIMIT;
    }
    this.flushRoute(steps);
    return ordinal;
  }

  private end(step: Step): void {
    if (step.ended === true) return;
    step.ended = true;
    const steps = step.steps;
    // Steps end innermost first: the top one; else unlinked where it is.
    if (steps.top === step) steps.top = step.below;
    else {
      let above = steps.top;
      while (above !== undefined && above.below !== step) above = above.below;
      if (above !== undefined) above.below = step.below;
    }
    if (step.error === NOT_FAILED) return this.write(Kind.http_step_end, steps.id, step.ordinal, 0, 0, 0, 0);
    this.failedEnd(step);
  }

  /**
   * A failed step's end, with its error's type and message: a method of its own, so that `end`
   * (inlined into the step's `next`, and so into the program's functions that call it) stays
   * small: with this inside, Express's `query` middleware no longer inlined it on Node 24, whose
   * `end` then ran in Maglev code, a slow API call a request (BENCHMARKS.md "Web: the HTTP
   * server's and Express's part on Node 24").
   */
  private failedEnd(step: Step): void {
    const recorder = this.recorder;
    if (step.hook) step.steps.hookFailed = true;
    const error = step.error;
    let type: string | undefined;
    let message: string | undefined;
    if (error !== null && typeof error === "object") {
      const name = protoData(error, "name");
      const text = protoData(error, "message");
      type = typeof name === "string" ? name : "Error";
      message = typeof text === "string" ? text : undefined;
    } else type = typeof error;
    recorder.event(Kind.http_step_end, step.steps.id, step.ordinal, recorder.str(type), recorder.message(message, false), 0, 1);
  }

  /** Ends `top` and the steps below it, innermost first. */
  private endAll(top: Step): void {
    for (let step: Step | undefined = top; step !== undefined; ) {
      const below: Step | undefined = step.below;
      this.end(step);
      step = below;
    }
  }

  /** Ends the steps of a response still open when it finished or closed, innermost first. */
  hookResponses(): void {
    if (this.responsesHooked) return;
    this.responsesHooked = true;
    const http = require("node:http") as typeof Http;
    const frameworks = this;
    // The one ServerResponse emit wrapper, shared with the HTTP integration's request end (response-emit.ts).
    const hooks = responseHooks(http.ServerResponse.prototype, this.recorder);
    hooks.steps = function (response: object, event: "finish" | "close", state: RequestState | undefined): RequestState | undefined {
      // `state`: responseState(response), which the wrapper looked up for this and the request's hook.
      const steps = state !== undefined ? (state as Steps) : stepsStamp.get(response);
      if (steps === undefined) return undefined;
      if (steps.routeFramework !== 0) frameworks.flushRoute(steps);
      // `top` read once and the ends of 'close' out of line (endAll): this function small
      // enough for Node 24's TurboFan to inline it into the emit wrapper, with the state it
      // returns (BENCHMARKS.md "Web: what is left of the agent's part on Node 20").
      const top = steps.top;
      if (top === undefined) return undefined;
      // A response that finished: the steps still open (the ones that answered it; never
      // failed: a failed step ends at its next(err)) end with the request's end record, which
      // follows in this emit (HttpEndFlag.stepsEnd: the reader writes their ends, one record
      // less a request). Innermost first, as below. The emit wrapper calls `finished` after
      // the listeners if that end did not come.
      if (event === "finish" && state !== undefined && state.ended !== true && (state.endFlags & HttpEndFlag.stepsEnd) === 0) {
        for (let step: Step | undefined = top; step !== undefined; step = step.below) step.ended = true;
        steps.ending = top;
        steps.top = undefined;
        state.endFlags |= HttpEndFlag.stepsEnd;
        return state;
      }
      frameworks.endAll(top);
      return undefined;
    };
    // The request's end did not come in the 'finish' (a program's listener before Node's, or
    // none): the steps' ends are written now, as their own records. (Once it came, `ending`
    // is left as it is: nothing reads it after the end record, and it dies with the state.)
    hooks.finished = function (state: RequestState) {
      const steps = state as Steps;
      const ending = steps.ending;
      if (ending === undefined || state.ended === true) return;
      steps.ending = undefined;
      state.endFlags &= ~HttpEndFlag.stepsEnd;
      for (let step: Step | undefined = ending; step !== undefined; ) {
        const below: Step | undefined = step.below;
        step.ended = false;
        step.below = steps.top;
        steps.top = step;
        frameworks.end(step);
        step = below;
      }
    };
  }

  /**
   * Express 4's Router (express/lib/router/index.js: the function its routers inherit from):
   * its `use`, so that the two layers Express 4 puts first in every app's router, its own
   * `query` and `expressInit` (`app.lazyrouter`: a new Router, then `use(query(...))` and
   * `use(init(app))`), are no steps, as in Express 5, which has no such layers (it parses the
   * query in a `req.query` getter and does expressInit's work in `app.handle`): the same app
   * gives the same steps under both. Marked when they are added (markExpressOwn), not
   * tested a visit: their visits do not reach the layer wrapper (BENCHMARKS.md "Web: Express
   * 4's own layers as no steps"). A router's first two layers only, named so: a program's own
   * `query` (or Express's `express.query()` added by the program) is a step as before.
   *
   * `loadedBefore` (scope attach): the program's routers may have their two layers already, so
   * each router's first `handle` after the attach (Router's own, which its routers inherit)
   * marks them too; a WeakSet look-up a router a request, under attach only.
   */
  private hookExpressRouter(exports: unknown, loadedBefore: boolean): void {
    if (typeof exports !== "function") return;
    const router = exports as unknown as Record<string, unknown>;
    const use = router.use;
    const handle = router.handle;
    if (this.patched.has(router) || typeof use !== "function" || typeof handle !== "function" || typeof router.process_params !== "function") return;
    this.patched.add(router);
    const recorder = this.recorder;
    const markStack = (stack: unknown) => {
      if (Array.isArray(stack) && stack.length >= 2) recorder.safe(() => markExpressOwn(stack));
    };
    assignPatch(router, "use", renamed(use as LayerFn, function (this: { stack?: unknown }) {
      const result = Reflect.apply(use, this, arguments);
      const stack = (this as { stack?: unknown } | null | undefined)?.stack;
      if (Array.isArray(stack) && stack.length === 2) markStack(stack);
      return result;
    }));
    if (!loadedBefore) return;
    const seen = new WeakSet<object>();
    assignPatch(router, "handle", renamed(handle as LayerFn, function (this: { stack?: unknown }) {
      if ((typeof this === "function" || (typeof this === "object" && this !== null)) && !seen.has(this)) {
        seen.add(this);
        markStack(this.stack);
      }
      return Reflect.apply(handle, this, arguments);
    }));
  }

  private hookLayer(proto: Record<string, unknown>, requestName: string, errorName: string): void {
    this.hookResponses();
    if (this.codeHeld === undefined) this.recorder.safe(() => this.useCodeProofs());
    const frameworks = this;
    const recorder = this.recorder;
    const handleRequest = proto[requestName] as LayerFn;
    const callRequest = callerOf(handleRequest);
    // Named parameters and `arguments` handed on untouched where nothing is replaced (see
    // hookResponses); with a step, a new array of the same arguments but `next`.
    assignPatch(proto, requestName, renamed(handleRequest, function (this: LayerLike, req: unknown, res: unknown, next: unknown) {
      const fn = this.handle;
      if (typeof fn !== "function" || typeof next !== "function" || req === null || typeof req !== "object" || recorder.groups.http !== true) return Reflect.apply(handleRequest, this, arguments);
      let step: Step | undefined;
      try {
        let info = layerInfos.find(this);
        if (info === undefined || info.fn !== fn) info = frameworks.layerInfo(this, fn);
        // Express runs no function of arity 4 here (it calls next()): no step.
        if (info.arity <= 3) {
          const route = routeOf(this);
          step = route === undefined ? frameworks.onLayer(info, fn, req, res, "middleware") : frameworks.onRoute(route, info, req, res);
        }
      } catch (error) {
        recorder.fail(error);
      }
      if (step === undefined) {
        // A route's dispatch: its handler's start takes the route within this call, else it is written after.
        if (frameworks.pendingRoute === undefined) return Reflect.apply(handleRequest, this, arguments);
        try {
          return Reflect.apply(handleRequest, this, arguments);
        } finally {
          const pending = frameworks.pendingRoute;
          if (pending !== undefined) frameworks.flushRoute(pending);
        }
      }
      const wrapper = frameworks.stepNext(step, next as LayerFn);
      // Express calls it with three: handed on as arguments (a bound call), no array made a visit.
      if (arguments.length === 3) return callRequest(this, req, res, wrapper);
      const args = [req, res, wrapper];
      for (let i = 3; i < arguments.length; i++) args.push(arguments[i]);
      return Reflect.apply(handleRequest, this, args);
    }));
    const handleError = proto[errorName] as LayerFn;
    layerEntries.set(proto, { request: requestName, handleRequest, error: errorName, handleError });
    const callError = callerOf(handleError);
    assignPatch(proto, errorName, renamed(handleError, function (this: LayerLike, error: unknown, req: unknown, res: unknown, next: unknown) {
      const fn = this.handle;
      if (typeof fn !== "function" || typeof next !== "function" || req === null || typeof req !== "object" || recorder.groups.http !== true) return Reflect.apply(handleError, this, arguments);
      let step: Step | undefined;
      try {
        const info = frameworks.layerInfo(this, fn);
        // Only a function of arity 4 handles errors (else Express passes the error on).
        if (info.arity === 4) {
          const route = routeOf(this);
          step = route === undefined ? frameworks.onLayer(info, fn, req, res, "error") : frameworks.onRoute(route, info, req, res);
        }
      } catch (failure) {
        recorder.fail(failure);
      }
      if (step === undefined) return Reflect.apply(handleError, this, arguments);
      const wrapper = frameworks.stepNext(step, next as LayerFn);
      if (arguments.length === 4) return callError(this, error, req, res, wrapper);
      const args = [error, req, res, wrapper];
      for (let i = 4; i < arguments.length; i++) args.push(arguments[i]);
      return Reflect.apply(handleError, this, args);
    }));
  }

  /**
   * A layer about to run its function, not a route's dispatch (routeOf, onRoute): a step.
   * Small enough, with what TurboFan inlines into it (stepsOf, start, write, routeRides), to be
   * inlined into the layer wrapper on Node 24 (V8 13 counts a callee's inlined bytecode in the
   * caller's budget, 1.2 times): the route's dispatch is the wrapper's, the steps' fields are
   * on the request's state (no Steps made at the first step), `write` catches nothing of its
   * own, a call a visit less (BENCHMARKS.md "Web: the HTTP server's and Express's part on Node 24").
   */
  private onLayer(info: LayerInfo, fn: { name?: unknown }, req: object, res: unknown, kind: "middleware" | "error"): Step | undefined {
    const steps = this.stepsOf(req, res as object);
    if (steps === undefined) return undefined;
    const nameId = info.nameId !== 0 ? info.nameId : this.nameIdOf(info, fn);
    // `=== true`: a boolean field, which V8's optimized code does not know as one (see Groups).
    const handler = info.handler === true;
    return this.start(steps, nameId, handler && kind === "middleware" ? "handler" : kind, handler ? steps.routeId : 0);
  }

  /** The string id of a layer's function's name, read once a layer (kept in its LayerInfo). */
  private nameIdOf(info: LayerInfo, fn: { name?: unknown }): number {
    const name = fn.name;
    const nameId = this.recorder.str(typeof name === "string" && name !== "" ? name : "<anonymous>");
    info.nameId = nameId;
    return nameId;
  }

  /** A route's dispatch layer: the route (`req.baseUrl` + its path), no step; its own layers marked as handlers. */
  onRoute(route: { path?: unknown; stack?: unknown }, info: LayerInfo, req: object, res: unknown): undefined {
    const steps = this.stepsOf(req, res as object);
    if (steps === undefined) return undefined;
    const stack = route.stack;
    // The layer's own record of its route, else the route's (a route some other layer
    // dispatched to too), made once per route.
    let seen = info.route === route ? info.seen : undefined;
    if (seen === undefined) {
      seen = this.routesSeen.get(route);
      if (seen === undefined) {
        seen = { stackLength: -1, base: "", path: undefined, pattern: "", patternId: 0 };
        this.routesSeen.set(route, seen);
      }
      info.route = route;
      info.seen = seen;
    }
    if (Array.isArray(stack) && seen.stackLength !== stack.length) {
      seen.stackLength = stack.length;
      for (const inner of stack) {
        if (inner === null || typeof inner !== "object") continue;
        // The route's own layers are handlers: marked in their LayerInfo (kept when the function changes).
        const handle = (inner as LayerLike).handle;
        const known = layerInfos.get(inner as object);
        if (known !== undefined) known.handler = true;
        else layerInfos.set(inner as object, { fn: undefined, arity: typeof handle === "function" ? handle.length : 0, nameId: 0, handler: true, route: undefined, seen: undefined });
      }
    }
    const data = protoData(req, "baseUrl");
    const base = typeof data === "string" ? data : "";
    // The same pattern string while the route's path (a string) and the mount point stay:
    // no string built (and hashed for the string table's look-up) per request.
    if (typeof route.path !== "string" || seen.path !== route.path || seen.base !== base || seen.pattern === "") {
      seen.path = route.path;
      seen.base = base;
      seen.pattern = `${base}${patternOf(route.path)}`;
      seen.patternId = 0;
    }
    seen.patternId = this.route(steps, seen.pattern, this.kindId("express"), seen.patternId);
    return undefined;
  }

  /** Express's `next` for a step: records the step's end (failed when given an error), then calls it. */
  private stepNext(step: Step, next: LayerFn): LayerFn {
    const frameworks = this;
    // Express's and router's own is `function next(err)`: the same name and length without
    // redefining them (two defineProperty calls a step otherwise).
    const wrapper = function next(this: unknown, error?: unknown) {
      if (step.ended !== true) {
        try {
          // 'route' and 'router' skip the rest of a route or router: no error.
          if (error && error !== "route" && error !== "router") {
            step.error = error;
          }
          frameworks.end(step);
        } catch (failure) {
          frameworks.recorder.fail(failure);
        }
      }
      // A plain call (`next()`, `next(err)`: no receiver) calls Express's the same way, without Reflect.apply's generic path.
      const n = arguments.length;
      if (this === undefined && n <= 1) return n === 0 ? nextFn() : nextFn(error);
      return Reflect.apply(nextFn, this, arguments);
    };
    const nextFn = next;
    return this.plainNext(next) ? wrapper : renamed(next, wrapper);
  }

  /**
   * Whether `next` is named "next" with length 1 (Express's and router's own), so the step's
   * wrapper needs neither redefined. A function's `name` and `length` are read through V8's
   * accessors (~650 instructions the pair on Node 24); Express hands one `next` to every
   * layer of a router a request passes (3 of the web workload's 4 steps while Express 4's own
   * two layers were steps; one of its 2 now, the other the route's), so the last answer
   * is kept with its function (held until the next step's look-up), but it makes its `next`s
   * anew each request (the router's and the route's: two a request). So a function found
   * "next"/1 is proved to scope.node (codeProve: its map and SharedFunctionInfo held), and a
   * later closure of the same literal with an unchanged map is known to have that name and
   * length by one Fast API call (codeHeld) instead of the two accessors; any other function
   * (a map changed by a redefined name or length, another literal) is read as before.
   */
  private plainNext(next: LayerFn): boolean {
    if (next === this.lastNext) return this.lastNextPlain;
    const held = this.codeHeld;
    // The accessors' path a call of its own: not taken once Express's `next`s are proved, and
    // out of the layer wrapper's inlining budget (onLayer fits in it: BENCHMARKS.md "Web:
    // Express's layer visit, instruction by instruction, on Node 24").
    const plain = held !== undefined && held(next) ? true : this.namedNext(next);
    this.lastNext = next;
    this.lastNextPlain = plain;
    return plain;
  }

  /** plainNext by `next`'s name and length (V8's accessors), proving a plain one to scope.node. */
  private namedNext(next: LayerFn): boolean {
    const plain = next.name === "next" && next.length === 1;
    if (plain && this.codeProve !== undefined && this.proves < 64) {
      this.proves++;
      this.codeProve(next);
    }
    return plain;
  }

  private lastNext: LayerFn | undefined;
  private lastNextPlain = false;

  /**
   * Fastify's request hooks (onRequest, preValidation, preHandler), each a step of kind
   * `hook` named "function (hook)". Fastify publishes nothing for them: its hook runners
   * (lib/hooks.js exports, destructured by route.js and handle-request.js after this file
   * loaded, so they get these) are given, per list of hooks, a list of wrappers (cached
   * by list) that record the step and call the hook with the same arguments but `next`.
   * A hook ends when it calls `next` or its native promise settles (a failed step when it
   * passes an error, throws or rejects), else when the response ends. Added at run time,
   * after Fastify checked each hook's arity and kind at `addHook`.
   */
  private hookFastifyHooks(exports: unknown): void {
    if (exports === null || typeof exports !== "object") return;
    const hooks = exports as Record<string, unknown>;
    for (const [name, type] of [["onRequestHookRunner", "onRequest"], ["preValidationHookRunner", "preValidation"], ["preHandlerHookRunner", "preHandler"]] as const) {
      const runner = hooks[name];
      if (typeof runner !== "function") continue;
      assignPatch(hooks, name, this.wrapHookRunner(runner as HookRunner, type));
    }
  }

  private wrapHookRunner(runner: HookRunner, type: string): HookRunner {
    const frameworks = this;
    const wrappedLists = new WeakMap<object, { length: number; list: Hook[] }>();
    return renamed(runner, function (this: unknown, functions: unknown, request: unknown, reply: unknown, cb: unknown) {
      if (!Array.isArray(functions) || !frameworks.recorder.groups.http) return Reflect.apply(runner, this, arguments);
      let wrapped = wrappedLists.get(functions);
      if (wrapped === undefined || wrapped.length !== functions.length) {
        wrapped = { length: functions.length, list: functions.map((fn: unknown) => (typeof fn === "function" ? frameworks.wrapHook(fn as Hook, type) : (fn as Hook))) };
        wrappedLists.set(functions, wrapped);
      }
      return Reflect.apply(runner, this, [wrapped.list, request, reply, cb]);
    });
  }

  private wrapHook(fn: Hook, type: string): Hook {
    const frameworks = this;
    const recorder = this.recorder;
    const bound = typeof fn.name === "string" ? fn.name : "";
    const name = `${bound.startsWith("bound ") ? bound.slice(6) || "<anonymous>" : bound || "<anonymous>"} (${type})`;
    return renamed(fn, function (this: unknown, request: unknown, reply: unknown, next: unknown) {
      let step: Step | undefined;
      try {
        const raw = (request as { raw?: unknown } | null)?.raw;
        const res = (reply as { raw?: unknown } | null)?.raw;
        const steps = raw !== null && typeof raw === "object" ? frameworks.stepsOf(raw, res as object) : undefined;
        if (steps !== undefined) step = frameworks.start(steps, recorder.str(name), "hook", 0);
      } catch (error) {
        recorder.fail(error);
      }
      if (step === undefined) return Reflect.apply(fn, this, arguments);
      const current = step;
      const args = Array.prototype.slice.call(arguments);
      if (typeof next === "function") args[2] = frameworks.stepNext(current, next as LayerFn);
      let result: unknown;
      try {
        result = Reflect.apply(fn, this, args);
      } catch (error) {
        recorder.safe(() => {
          current.error = error;
          frameworks.end(current);
        });
        throw error;
      }
      // Only a native promise gets a reaction of ours (a thenable's then could have effects).
      return result instanceof Promise ? frameworks.endOnSettle(current, result) : result;
    });
  }

  /**
   * Fastify 5 publishes its route handler on the tracing channel `fastify.request.handler`
   * (start/end around the handler's call, asyncEnd when its promise settled, error before
   * that): the route and a handler step. Fastify builds the message only while someone
   * subscribes, so this subscribes when Fastify loads.
   */
  private hookFastify(): void {
    if (this.fastifySubscribed) return;
    this.fastifySubscribed = true;
    this.hookResponses();
    const channels = require("node:diagnostics_channel") as typeof import("node:diagnostics_channel");
    if (typeof channels.tracingChannel !== "function") return;
    const recorder = this.recorder;
    const stores = this.fastifyStores;
    const frameworks = this;
    const guard = (fn: (store: FastifyStore) => void) => (store: unknown) => {
      try {
        if (store !== null && typeof store === "object") fn(store as FastifyStore);
      } catch (error) {
        recorder.fail(error);
      }
    };
    const tracing = channels.tracingChannel("fastify.request.handler");
    // Bun's TracingChannel has no `hasSubscribers` (Node 20.13+ has), and Fastify publishes
    // only when it is true: Node's getter is added to Bun's prototype, same meaning.
    const proto = Object.getPrototypeOf(tracing) as object | null;
    if (proto !== null && !("hasSubscribers" in proto)) {
      definePatch(proto, "hasSubscribers", {
        configurable: true,
        enumerable: false,
        get(this: Record<"start" | "end" | "asyncStart" | "asyncEnd" | "error", { hasSubscribers?: boolean }>) {
          return this.start.hasSubscribers === true || this.end.hasSubscribers === true || this.asyncStart.hasSubscribers === true || this.asyncEnd.hasSubscribers === true || this.error.hasSubscribers === true;
        },
      });
    }
    const handlers = {
      start: guard((store) => {
        if (!recorder.groups.http) return;
        const raw = store.request?.raw;
        if (raw === null || typeof raw !== "object") return;
        const steps = frameworks.stepsOf(raw, store.reply?.raw as object);
        if (steps === undefined) return;
        const url = store.route?.url;
        if (typeof url === "string") frameworks.route(steps, url, recorder.str("fastify"));
        if (steps.hookFailed) return frameworks.flushRoute(steps);
        // routeOptions: Fastify's own getter (a frozen copy of the route's options).
        const handler = (store.request as { routeOptions?: { handler?: { name?: unknown } } }).routeOptions?.handler;
        // Fastify binds the handler to its instance: "bound getUser" is named "getUser".
        const bound = typeof handler?.name === "string" ? handler.name : "";
        const name = bound.startsWith("bound ") ? bound.slice(6) || "<anonymous>" : bound || "<anonymous>";
        stores.set(store, frameworks.start(steps, recorder.str(name), "handler", typeof url === "string" ? recorder.str(url) : 0));
        frameworks.flushRoute(steps);
      }),
      end: guard((store) => {
        if (store.async === true) return;
        const step = stores.get(store);
        if (step !== undefined) frameworks.endWithInner(step);
      }),
      asyncStart: () => {},
      asyncEnd: guard((store) => {
        const step = stores.get(store);
        // A step the handler began (NestJS's pipeline, which ends with the handler) ends first.
        if (step !== undefined) frameworks.endWithInner(step);
      }),
      error: guard((store) => {
        const step = stores.get(store);
        if (step === undefined) return;
        step.error = store.error;
      }),
    };
    tracing.subscribe(handlers);
    undoLater(() => tracing.unsubscribe(handlers));
  }
}

type HookRunner = (this: unknown, functions: unknown, request: unknown, reply: unknown, cb: unknown) => unknown;
type Hook = (this: unknown, request: unknown, reply: unknown, next: unknown) => unknown;

interface FastifyStore {
  request?: { raw?: unknown };
  reply?: { raw?: unknown };
  route?: { url?: unknown };
  async?: boolean;
  error?: unknown;
}

/** A route's path as written: a string, a RegExp, or a list of them. */
function patternOf(path: unknown): string {
  if (typeof path === "string") return path;
  if (Array.isArray(path)) return path.map(patternOf).join(",");
  if (path instanceof RegExp) return String(path);
  return "";
}

