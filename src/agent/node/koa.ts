/**
 * Koa's routes (helper auditfw): @koa/router (its CommonJS build: dist/index.js of 14 and
 * later, lib/router.js before) is hooked when that file ran, by its Router's `match(path,
 * method)`, which the router's dispatch calls once a request, in the request's context. When
 * it matched a route, the pattern of the last layer with methods (what @koa/router itself puts
 * in `ctx._matchedRoute`, prefixes included) is the request's route: an `http_route` record
 * (framework `koa`) for `currentRequest()`. Its ES build (dist/index.mjs, what an `import`
 * of it loads) hands its Router class over as it loads (src/agent/shared/esm-hooks.ts) and is
 * hooked the same.
 *
 * Koa's middleware (koa/lib/application.js, which Koa's ES entry re-exports): each a
 * middleware step (hookKoaApplication).
 */
import { Kind } from "../shared/kinds";
import { currentRequest } from "../shared/request-context";
import { renamed } from "../shared/reflect";
import { assignPatch } from "../shared/patches";
import type { Frameworks } from "./frameworks";

/** What `match` returns: the layers that matched the path and the method, and whether one was a route. */
interface MatchResult {
  pathAndMethod?: unknown;
  route?: unknown;
}

/** Whether `filename` is @koa/router's CommonJS entry (dist/index.js) or its router (lib/router.js). */
export function isKoaRouterFile(filename: string): boolean {
  return /[\\/]@koa[\\/]router[\\/](?:dist[\\/]index|lib[\\/]router)\.js$/.test(filename);
}

export function hookKoaRouter(frameworks: Frameworks, exports: unknown, patched: WeakSet<object>): void {
  const recorder = frameworks.recorder;
  const proto = typeof exports === "function" ? (exports.prototype as Record<string, unknown> | undefined) : undefined;
  if (proto === undefined || patched.has(proto)) return;
  // Not named `match`: the wrapper's own name would shadow it inside the wrapper.
  const original = proto.match;
  if (typeof original !== "function" || typeof proto.routes !== "function") return;
  patched.add(proto);
  // The last pattern and its string id: one router's few routes, no string-table look-up a request.
  let lastPath: unknown;
  let lastId = 0;
  let koaId = 0;
  const onMatch = (result: MatchResult) => {
    const id = currentRequest();
    const layers = result.pathAndMethod;
    if (id === 0 || !Array.isArray(layers)) return;
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i] as { methods?: unknown; path?: unknown } | null;
      const methods = layer?.methods;
      if (!Array.isArray(methods) || methods.length === 0) continue;
      const path = layer!.path;
      if (path !== lastPath || lastId === 0) {
        lastPath = path;
        lastId = recorder.str(typeof path === "string" ? path : String(path));
      }
      if (koaId === 0) koaId = recorder.str("koa");
      recorder.event(Kind.http_route, id, lastId, koaId);
      return;
    }
  };
  assignPatch(
    proto,
    "match",
    renamed(original, function match(this: unknown) {
      const result = Reflect.apply(original as (...args: unknown[]) => unknown, this, arguments) as MatchResult | null;
      if (recorder.groups.http === true && result !== null && typeof result === "object" && result.route === true) recorder.safe(() => onMatch(result));
      return result;
    }),
  );
  hookRouteChain(frameworks, proto);
}

/** A matched layer of @koa/router: its methods (none: a `router.use`), path and functions. */
interface KoaLayer {
  methods?: unknown;
  path?: unknown;
  stack?: unknown;
}

/** A layer's functions as last seen and their steps' wrappers (one a function). */
interface LayerSteps {
  functions: unknown[];
  wrappers: unknown[];
}

const layerSteps = new WeakMap<object, LayerSteps>();

/**
 * The route's own functions as steps (@koa/router 15: its Router's `_buildMiddlewareChain(
 * matchedLayers, path)`, which the router's dispatch calls once a matched request, and whose
 * list it composes at once: a list made anew each request, which nothing else sees). The list
 * is, for each layer it runs, @koa/router's own function (it sets `ctx.params`, no step) and
 * then the layer's `stack`; each function of the stack is replaced, in that list only, by a
 * wrapper (the same name and length, one per layer and function) that runs it as a step
 * (Frameworks.aroundStep): a `handler` with the layer's path as its route where the layer has
 * methods (router.get('/x', auth, handler): both), a `middleware` where it has none
 * (router.use). `layer.stack` is untouched. Not hooked where the Router has no such method
 * (before 15): there the router's one step holds the route.
 */
function hookRouteChain(frameworks: Frameworks, proto: Record<string, unknown>): void {
  const original = proto._buildMiddlewareChain as Fn;
  if (typeof original !== "function") return;
  const recorder = frameworks.recorder;
  assignPatch(
    proto,
    "_buildMiddlewareChain",
    renamed(original, function _buildMiddlewareChain(this: unknown, matched: unknown) {
      const chain = Reflect.apply(original, this, arguments);
      if (recorder.groups.http === true && Array.isArray(chain) && Array.isArray(matched)) recorder.safe(() => stepChain(frameworks, chain, matched));
      return chain;
    }),
  );
}

/** Replaces, in `chain`, each matched layer's functions by their steps' wrappers (hookRouteChain). */
function stepChain(frameworks: Frameworks, chain: unknown[], matched: unknown[]): void {
  let at = 0;
  for (const item of matched) {
    if (item === null || typeof item !== "object") continue;
    const layer = item as KoaLayer;
    const stack = layer.stack;
    if (!Array.isArray(stack) || !sameAt(chain, at + 1, stack)) continue;
    const wrappers = layerWrappers(frameworks, layer, stack);
    for (let i = 0; i < wrappers.length; i++) chain[at + 1 + i] = wrappers[i];
    at += 1 + stack.length;
  }
}

/** Whether `chain` holds `stack`'s functions from `from` on (a layer the exclusive option left out does not). */
function sameAt(chain: unknown[], from: number, stack: unknown[]): boolean {
  if (from + stack.length > chain.length) return false;
  for (let i = 0; i < stack.length; i++) if (chain[from + i] !== stack[i]) return false;
  return true;
}

/** The wrappers of a layer's functions, made once a layer (remade when its stack changed: a param middleware added). */
function layerWrappers(frameworks: Frameworks, layer: KoaLayer, stack: unknown[]): unknown[] {
  const known = layerSteps.get(layer);
  if (known !== undefined && known.functions.length === stack.length && sameAt(known.functions, 0, stack)) return known.wrappers;
  const handler = Array.isArray(layer.methods) && layer.methods.length > 0;
  const route = handler && typeof layer.path === "string" ? layer.path : undefined;
  const wrappers = stack.map((fn) => (typeof fn === "function" ? routeStep(frameworks, fn as Fn, route) : fn));
  layerSteps.set(layer, { functions: stack.slice(), wrappers });
  return wrappers;
}

/** A route's function as a step: a handler of `route`, or (no route: a router.use layer) a middleware. */
function routeStep(frameworks: Frameworks, fn: Fn, route: string | undefined): Fn {
  // A router.param() middleware (@koa/router's arrow function): named after the program's.
  const original = (fn as unknown as { _originalFn?: unknown })._originalFn;
  const name = koaName(typeof original === "function" ? (original as Fn) : fn);
  return ctxStep(frameworks, fn, name, route);
}

/**
 * `fn(ctx, next)` run as a step named `name` (Frameworks.aroundStep): a `handler` of `route`
 * when it has one, else a `middleware`. The route rides on no start: the router's match wrote
 * it (onMatch); the start names it.
 */
function ctxStep(frameworks: Frameworks, fn: Fn, name: string, route: string | undefined): Fn {
  const recorder = frameworks.recorder;
  let nameId = 0;
  let routeId = 0;
  return renamed(fn, function (this: unknown, ctx: unknown) {
    if (recorder.groups.http !== true || ctx === null || typeof ctx !== "object") return Reflect.apply(fn, this, arguments);
    let req: unknown;
    let res: unknown;
    try {
      req = (ctx as { req?: unknown }).req;
      res = (ctx as { res?: unknown }).res;
      if (nameId === 0) nameId = recorder.str(name);
      if (routeId === 0 && route !== undefined) routeId = recorder.str(route);
    } catch (error) {
      recorder.fail(error);
      return Reflect.apply(fn, this, arguments);
    }
    return frameworks.aroundStep(req, res, nameId, route !== undefined ? "handler" : "middleware", undefined, routeId, 0, fn, this, arguments);
  });
}

/** Whether `filename` is Koa's Application (koa/lib/application.js). */
export function isKoaApplicationFile(filename: string): boolean {
  return /[\\/]koa[\\/]lib[\\/]application\.js$/.test(filename);
}

type Fn = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Koa's middleware as steps: Application's `callback()` (what `listen()` calls: it composes
 * `this.middleware` once, with `this.compose`, koa-compose or the app's own) runs with the
 * app's `compose` given the list of the program's middleware each in a wrapper (the same name
 * and length, one per function) that runs it as a middleware step named after it
 * (Frameworks.aroundStep: it ends when its promise settles, after the middleware inside it;
 * failed with what it threw or rejected with). The app's own `compose` is put back before
 * `callback()` returns, and `app.middleware` is the program's list, untouched. Not done
 * where `compose` is not the app's own writable data property (nothing is then replaced).
 * @koa/router's routes() middleware is one step (named `router`: its function is a bound
 * one without a name, marked with its `router`): the route's own handlers run in its own
 * composition, not as steps; its allowedMethods() is an arrow function (`<anonymous>`).
 */
export function hookKoaApplication(frameworks: Frameworks, exports: unknown, loadedBefore = false): void {
  const proto = typeof exports === "function" ? (exports.prototype as Record<string, unknown> | undefined) : undefined;
  if (proto === undefined || koaPatched.has(proto)) return;
  // Not `callback`: the wrapper's own name would shadow it inside the wrapper.
  const original = proto.callback as Fn;
  if (typeof original !== "function") return;
  koaPatched.add(proto);
  frameworks.hookResponses();
  if (loadedBefore) hookHandleRequest(frameworks, proto);
  hookUse(frameworks, proto);
  const recorder = frameworks.recorder;
  assignPatch(
    proto,
    "callback",
    renamed(original, function callback(this: unknown) {
      if (recorder.groups.http !== true || this === null || typeof this !== "object") return Reflect.apply(original, this, arguments);
      const app = this as { compose?: unknown };
      const own = Object.getOwnPropertyDescriptor(app, "compose");
      const compose = own?.value;
      if (own === undefined || own.writable !== true || typeof compose !== "function") return Reflect.apply(original, this, arguments);
      app.compose = function (this: unknown, middleware: unknown) {
        let list = middleware;
        recorder.safe(() => {
          if (Array.isArray(middleware)) list = middleware.map((fn) => (typeof fn === "function" ? koaStep(frameworks, fn as Fn) : fn));
        });
        const composed = Reflect.apply(compose as Fn, this, [list, ...Array.prototype.slice.call(arguments, 1)]);
        if (list !== middleware) {
          // Its middleware are steps already: handleRequest's wrapper (scope attach) passes it on.
          if (typeof composed === "function") stepsComposed.add(composed);
          // koa-compose reads the list it was given at each request: a middleware the app's `use` adds after listen() goes into this one too (hookUse).
          if (middleware === (app as { middleware?: unknown }).middleware) stepLists(app).push({ middleware: middleware as unknown[], list: list as unknown[] });
        }
        return composed;
      };
      try {
        return Reflect.apply(original, this, arguments);
      } finally {
        app.compose = compose;
      }
    }),
  );
}

/**
 * scope attach: an app listening before the attach composed its middleware already (its
 * `callback()` ran), so Application's `handleRequest(ctx, fnMiddleware)`, which the handler
 * `callback()` returned calls once a request with that composition, is wrapped too (only where
 * koa/lib/application.js was loaded before the attach): it is given, instead, the app's
 * `compose` of its middleware each in its step wrapper (koaStep), made once per app and made
 * again when `app.middleware` changed (koa-compose reads the list it was given at each
 * request, so a middleware added after listen() runs untraced too: the list's functions are
 * compared, a few compares a request). Not where `compose` is not the app's own function
 * property (nothing replaced), nor for a composition callback()'s wrapper made (stepsComposed).
 */
function hookHandleRequest(frameworks: Frameworks, proto: Record<string, unknown>): void {
  const original = proto.handleRequest as Fn;
  if (typeof original !== "function") return;
  const recorder = frameworks.recorder;
  assignPatch(
    proto,
    "handleRequest",
    renamed(original, function handleRequest(this: unknown, _ctx: unknown, fnMiddleware: unknown) {
      if (recorder.groups.http !== true || this === null || typeof this !== "object" || typeof fnMiddleware !== "function" || stepsComposed.has(fnMiddleware)) return Reflect.apply(original, this, arguments);
      let composed: unknown;
      try {
        composed = appSteps(frameworks, this);
      } catch (error) {
        recorder.fail(error);
      }
      if (composed === undefined) return Reflect.apply(original, this, arguments);
      const args = Array.prototype.slice.call(arguments);
      args[1] = composed;
      return Reflect.apply(original, this, args);
    }),
  );
}

/** An app's middleware as steps, composed by its own `compose` (hookHandleRequest), and the list it was made from. */
interface AppSteps {
  compose: unknown;
  functions: unknown[];
  composed: unknown;
}

const appsSteps = new WeakMap<object, AppSteps>();

function appSteps(frameworks: Frameworks, app: object): unknown {
  const { middleware, compose } = app as { middleware?: unknown; compose?: unknown };
  if (!Array.isArray(middleware) || typeof compose !== "function") return undefined;
  const known = appsSteps.get(app);
  if (known !== undefined && known.compose === compose && known.functions.length === middleware.length && sameAt(known.functions, 0, middleware)) return known.composed;
  const own = Object.getOwnPropertyDescriptor(app, "compose");
  if (own === undefined || own.value !== compose) return undefined;
  const composed = Reflect.apply(compose as Fn, app, [middleware.map((fn) => (typeof fn === "function" ? koaStep(frameworks, fn as Fn) : fn))]);
  if (typeof composed !== "function") return undefined;
  appsSteps.set(app, { compose, functions: middleware.slice(), composed });
  return composed;
}

/** An app's middleware list and the list of their steps callback() composed instead (what koa-compose reads at each request). */
interface StepList {
  middleware: unknown[];
  list: unknown[];
}

const appStepLists = new WeakMap<object, StepList[]>();

function stepLists(app: object): StepList[] {
  let lists = appStepLists.get(app);
  if (lists === undefined) appStepLists.set(app, (lists = []));
  return lists;
}

/**
 * Application's `use`: untraced, koa-compose reads `app.middleware` itself at each request, so
 * a middleware added after listen() runs; the composition callback()'s wrapper made reads its
 * list of steps instead, which `use` brings up to date with `app.middleware` after it added
 * (nothing a request). A program that changes `app.middleware` itself after listen() (not
 * through `use`) is not followed.
 */
function hookUse(frameworks: Frameworks, proto: Record<string, unknown>): void {
  const original = proto.use as Fn;
  if (typeof original !== "function") return;
  const recorder = frameworks.recorder;
  assignPatch(
    proto,
    "use",
    renamed(original, function use(this: unknown) {
      const result = Reflect.apply(original, this, arguments);
      const lists = this !== null && typeof this === "object" ? appStepLists.get(this) : undefined;
      if (lists !== undefined) {
        recorder.safe(() => {
          for (const { middleware, list } of lists) {
            list.length = 0;
            for (const fn of middleware) list.push(typeof fn === "function" ? koaStep(frameworks, fn as Fn) : fn);
          }
        });
      }
      return result;
    }),
  );
}

const koaPatched = new WeakSet<object>();
/** Compositions whose middleware are steps (made in callback()'s wrapper). */
const stepsComposed = new WeakSet<object>();
const koaSteps = new WeakMap<object, Fn>();

function koaStep(frameworks: Frameworks, fn: Fn): Fn {
  const known = koaSteps.get(fn);
  if (known !== undefined) return known;
  const wrapper = ctxStep(frameworks, fn, koaName(fn), undefined);
  koaSteps.set(fn, wrapper);
  return wrapper;
}

/** A middleware's step name: its function's, without "bound "; @koa/router's routes() (a nameless bound function with its `router`): "router". */
function koaName(fn: Fn): string {
  const own = typeof fn.name === "string" ? fn.name : "";
  const name = own.startsWith("bound ") ? own.slice(6) : own;
  if (name !== "") return name;
  const router = (fn as unknown as { router?: unknown }).router;
  return router !== null && typeof router === "object" ? "router" : "<anonymous>";
}
