/**
 * Hono 4 (Node through @hono/node-server, Bun through Bun.serve or `export default app`):
 * each middleware and handler a step, the matched route's pattern as the request's route
 * (framework `hono`). Hono publishes nothing, and its dispatch (`#dispatch`, `compose`) is
 * private or a module's constant; what every route passes through is its router's `add(method,
 * path, [handler, route])` (hono-base.js `#addRoute`; the five routers: Smart, RegExp, Trie,
 * Linear, Pattern). So each router class's `add` is wrapped, when its file loads (CommonJS:
 * dist/cjs/router/<name>-router/router.js through the loader's step; ES build: the registry,
 * src/agent/shared/esm-hooks.ts), and hands the router `[wrapper, route]` instead: the
 * function the router matches and Hono calls is a wrapper (the same name and length, cached by
 * function) that runs the program's with the same arguments as a step (Frameworks.aroundStep:
 * it ends when its promise settles, after the steps inside it, failed with what it threw or
 * rejected with; Hono then calls app.onError, whose response is the program's, as untraced).
 * `route` (Hono's own record: `app.routes`, `c.req.matchedRoutes`, `routePath`) is untouched,
 * so its `handler` stays the program's function.
 *
 * A route of a method (get, post, on...) is a handler step with the route's path as the
 * request's route; one of `use` or `all` (method ALL) a middleware step. PreparedRegExpRouter
 * (no preset uses it: a program builds its matchers ahead of time and gives it to `new
 * Hono({ router })`) takes its handlers through `add` at run time too, and is hooked the same.
 *
 * app.onError's run is a step of kind `error` (hookHonoBase). scope attach: hookHonoContext.
 */
import { assignPatch } from "../shared/patches";
import { renamed } from "../shared/reflect";
import type { Frameworks } from "./frameworks";

type Fn = (this: unknown, ...args: unknown[]) => unknown;

/** Whether `filename` is one of Hono's CommonJS routers. */
export function isHonoRouterFile(filename: string): boolean {
  return /[\\/]hono[\\/]dist[\\/]cjs[\\/]router[\\/](?:(?:smart|reg-exp|trie|linear|pattern)-router[\\/]router|reg-exp-router[\\/]prepared-router)\.js$/.test(filename);
}

/** Whether `filename` is Hono's CommonJS HonoBase (dist/cjs/hono-base.js). */
export function isHonoBaseFile(filename: string): boolean {
  return /[\\/]hono[\\/]dist[\\/]cjs[\\/]hono-base\.js$/.test(filename);
}

const ROUTER_CLASSES = ["SmartRouter", "RegExpRouter", "TrieRouter", "LinearRouter", "PatternRouter", "PreparedRegExpRouter"];

/** Wrappers made (a router's `add` hands a wrapper on as it is: SmartRouter passes its routes to the routers inside it). */
const wrappers = new WeakSet<object>();
/** Program function → its wrapper, by route kind (the same function added twice gets one wrapper). */
const wrapped = new WeakMap<object, Map<string, Fn>>();
const patchedRouters = new WeakSet<object>();

/** `exports`: a router file's exports (CommonJS) or bindings (ES build). */
export function hookHonoRouters(frameworks: Frameworks, exports: unknown): void {
  if (exports === null || typeof exports !== "object") return;
  for (const name of ROUTER_CLASSES) {
    const Router = (exports as Record<string, unknown>)[name];
    const proto = typeof Router === "function" ? (Router.prototype as Record<string, unknown> | undefined) : undefined;
    if (proto === undefined || patchedRouters.has(proto)) continue;
    // Not `add`: the wrapper's own name would shadow it inside the wrapper.
    const original = proto.add as Fn;
    if (typeof original !== "function") continue;
    patchedRouters.add(proto);
    frameworks.hookResponses();
    assignPatch(
      proto,
      "add",
      renamed(original, function add(this: unknown, method: unknown, path: unknown, handler: unknown) {
        if (!Array.isArray(handler) || typeof handler[0] !== "function" || wrappers.has(handler[0]) || frameworks.recorder.groups.http !== true) return Reflect.apply(original, this, arguments);
        let replaced: unknown[] | undefined;
        frameworks.recorder.safe(() => {
          const route = handler[1] as { method?: unknown; path?: unknown } | null | undefined;
          const kind = route !== null && typeof route === "object" && typeof route.method === "string" && route.method !== "ALL" ? "handler" : "middleware";
          const pattern = kind === "handler" && typeof route!.path === "string" ? route!.path : undefined;
          replaced = [stepOf(frameworks, handler[0] as Fn, kind, pattern), ...handler.slice(1)];
        });
        if (replaced === undefined) return Reflect.apply(original, this, arguments);
        const args = Array.prototype.slice.call(arguments);
        args[2] = replaced;
        return Reflect.apply(original, this, args);
      }),
    );
  }
}

/** The server request and response a Hono context's steps key on (@hono/node-server: `c.env`'s incoming and outgoing; Bun.serve: the Request). */
function requestOf(c: object): [unknown, unknown] {
  const env = (c as { env?: unknown }).env as { incoming?: unknown; outgoing?: unknown } | undefined;
  if (env !== null && typeof env === "object" && env.incoming !== null && typeof env.incoming === "object") return [env.incoming, env.outgoing];
  return [(c as { req?: { raw?: unknown } }).req?.raw, undefined];
}

function stepOf(frameworks: Frameworks, fn: Fn, kind: "middleware" | "handler", pattern: string | undefined): Fn {
  const key = `${kind} ${pattern ?? ""}`;
  let byKind = wrapped.get(fn);
  const known = byKind?.get(key);
  if (known !== undefined) return known;
  const recorder = frameworks.recorder;
  // Hono's `route()` of an app with its own onError adds a function around the route's (its
  // COMPOSED_HANDLER property): the step is named after the program's.
  const inner = (fn as unknown as Record<string, unknown>).__COMPOSED_HANDLER;
  const named = typeof inner === "function" ? inner : fn;
  const name = typeof named.name === "string" && named.name !== "" ? named.name : "<anonymous>";
  let nameId = 0;
  let honoId = 0;
  let patternId = 0;
  const wrapper = renamed(fn, function (this: unknown, c: unknown) {
    if (recorder.groups.http !== true || c === null || typeof c !== "object") return Reflect.apply(fn, this, arguments);
    let req: unknown;
    let res: unknown;
    try {
      [req, res] = requestOf(c);
      if (nameId === 0) nameId = recorder.str(name);
      if (honoId === 0) honoId = frameworks.strId("hono");
      if (patternId === 0 && pattern !== undefined) patternId = recorder.str(pattern);
    } catch (error) {
      recorder.fail(error);
      return Reflect.apply(fn, this, arguments);
    }
    return frameworks.aroundStep(req, res, nameId, kind, pattern, patternId, honoId, fn, this, arguments);
  });
  wrappers.add(wrapper);
  if (byKind === undefined) wrapped.set(fn, (byKind = new Map()));
  byKind.set(key, wrapper);
  return wrapper;
}

/**
 * app.onError's run as a step of kind `error`. Hono keeps the error handler in each app's own
 * `errorHandler` (a class field: a data property every app is made with, holding Hono's
 * default), which its dispatch reads each request (compose's onError, and #handleError on the
 * one-handler path); no router sees it. So each app is seen as it is made: Hono's CommonJS
 * hono-base.js exports `HonoBase`, which hono.js and the presets extend when they load (after
 * it): that export is replaced by a Proxy of the class whose only trap is `construct` (the app
 * made by the class itself, `new.target` kept: the same prototype chain and fields), and the ES
 * build's `Hono` binding the same (the registry's statement assigns it back:
 * src/agent/shared/esm-hooks.ts). Each app made then gets `errorHandler` as an accessor
 * (enumerable as the field was): setting it (app.onError, `#clone`) keeps the program's
 * function; reading it gives, for a function the program set, a wrapper (the same name and
 * length, one per function) that runs it as an error step (Frameworks.aroundStep), and Hono's
 * default as it is (route() tests a sub-app's handler against the default: not wrapped, so it
 * decides as untraced). What a program sees: `app.errorHandler` is that wrapper, the property
 * an accessor, and `Object.getPrototypeOf(Hono)` the Proxy. Not for a class extended before
 * the hook (scope attach: an app made before it keeps its field; ARCHITECTURE.md).
 */
export function hookHonoBase(frameworks: Frameworks, exports: unknown): void {
  if (exports === null || typeof exports !== "object") return;
  const proxy = honoBaseProxy(frameworks, (exports as { HonoBase?: unknown }).HonoBase);
  if (proxy !== undefined) assignPatch(exports, "HonoBase", proxy);
}

/** The ES build's hono-base.js: its `Hono` binding (the class it exports as HonoBase), replaced in `bindings` for the statement to assign back. */
export function hookHonoBaseBindings(frameworks: Frameworks, bindings: Record<string, unknown>): void {
  const proxy = honoBaseProxy(frameworks, bindings.Hono);
  if (proxy !== undefined) bindings.Hono = proxy;
}

const proxies = new WeakSet<object>();
/** Hono's default error handler (the field's value in an app made with no `errorHandler` option). */
const defaults = new WeakSet<object>();
const errorSteps = new WeakMap<object, Fn>();
/** Error step wrapper → the program's function. */
const errorPrograms = new WeakMap<object, Fn>();

function honoBaseProxy(frameworks: Frameworks, HonoBase: unknown): object | undefined {
  if (typeof HonoBase !== "function" || proxies.has(HonoBase)) return undefined;
  const recorder = frameworks.recorder;
  const proxy: object = new Proxy(HonoBase, {
    construct(target, args, newTarget): object {
      // `new` of the Proxy itself: made by the class (hookHonoContext: V8 has no initial map for a Proxy as new.target).
      const app = Reflect.construct(target, args, newTarget === proxy ? target : newTarget) as object;
      recorder.safe(() => watchErrorHandler(frameworks, app, args[0]));
      return app;
    },
  });
  proxies.add(proxy);
  return proxy;
}

function watchErrorHandler(frameworks: Frameworks, app: object, options: unknown): void {
  const own = Object.getOwnPropertyDescriptor(app, "errorHandler");
  if (own === undefined || own.configurable !== true || own.writable !== true || typeof own.value !== "function") return;
  const fromOptions = options !== null && typeof options === "object" && Object.prototype.hasOwnProperty.call(options, "errorHandler");
  if (!fromOptions) defaults.add(own.value as object);
  const recorder = frameworks.recorder;
  let current: unknown = own.value;
  // What the last read gave for `current` (Hono's compose path reads it each request): two compares a read.
  let read: unknown = current;
  let gives: unknown = current;
  Object.defineProperty(app, "errorHandler", {
    configurable: true,
    enumerable: own.enumerable,
    get() {
      if (recorder.groups.http !== true) return current;
      if (current === read) return gives;
      read = current;
      gives = current;
      if (typeof current === "function" && !defaults.has(current)) {
        try {
          gives = errorStep(frameworks, current as Fn);
        } catch (error) {
          recorder.fail(error);
        }
      }
      return gives;
    },
    set(value: unknown) {
      // A wrapper read from an app (Hono's #clone copies it): its program's function.
      current = (value !== null && typeof value === "function" && errorPrograms.get(value)) || value;
    },
  });
}

function errorStep(frameworks: Frameworks, fn: Fn): Fn {
  const known = errorSteps.get(fn);
  if (known !== undefined) return known;
  const recorder = frameworks.recorder;
  const name = typeof fn.name === "string" && fn.name !== "" ? fn.name : "<anonymous>";
  let nameId = 0;
  const wrapper = renamed(fn, function (this: unknown, _error: unknown, c: unknown) {
    if (recorder.groups.http !== true || c === null || typeof c !== "object") return Reflect.apply(fn, this, arguments);
    let req: unknown;
    let res: unknown;
    try {
      [req, res] = requestOf(c);
      if (nameId === 0) nameId = recorder.str(name);
    } catch (error) {
      recorder.fail(error);
      return Reflect.apply(fn, this, arguments);
    }
    return frameworks.aroundStep(req, res, nameId, "error", undefined, 0, 0, fn, this, arguments);
  });
  errorSteps.set(fn, wrapper);
  errorPrograms.set(wrapper, fn);
  return wrapper;
}

/** Whether `filename` is Hono's CommonJS Context (dist/cjs/context.js: what hono-base.js makes a request's context with). */
export function isHonoContextFile(filename: string): boolean {
  return /[\\/]hono[\\/]dist[\\/]cjs[\\/]context\.js$/.test(filename);
}

/**
 * scope attach, for apps whose routes went into their routers before it (the routers' `add`
 * then saw nothing): Hono's CommonJS hono-base.js makes each request's Context as `new
 * require_context.Context(request, { matchResult, ... })`, reading context.js's export at
 * each request, before it calls what the router matched. So, only where context.js was loaded
 * before the attach, that export is replaced by a Proxy of the class whose only trap is
 * `construct` (the context made by the class itself, `new.target` kept): it looks at the
 * match's handler tuples (`[handler, route]`, the ones the app gave its router's `add`, shared
 * by every request that matches them) and puts in each, once, the step wrapper scope run's
 * `add` would have put there (stepOf: the same kinds, names and routes), a patch the detach
 * takes back. A wrapper is kept as it is. Per request while attached: the trap and a look at
 * each matched tuple. `require("hono").Context` (index.js copied it at load) stays the class.
 */
export function hookHonoContext(frameworks: Frameworks, exports: unknown): void {
  if (exports === null || typeof exports !== "object") return;
  const Context = (exports as { Context?: unknown }).Context;
  if (typeof Context !== "function" || contextProxies.has(Context)) return;
  const recorder = frameworks.recorder;
  const proxy: object = new Proxy(Context, {
    construct(target, args, newTarget): object {
      if (recorder.groups.http === true) {
        const options = args[1] as { matchResult?: unknown } | null | undefined;
        if (options !== null && typeof options === "object") recorder.safe(() => stepMatched(frameworks, options.matchResult));
      }
      // `new` of the Proxy itself: made by the class (the same prototype), not with the Proxy as
      // new.target, for which V8 finds no initial map and makes a map a context.
      return Reflect.construct(target, args, newTarget === proxy ? target : newTarget) as object;
    },
  });
  contextProxies.add(proxy);
  assignPatch(exports, "Context", proxy);
}

const contextProxies = new WeakSet<object>();

/** A match's handler tuples given their step wrappers (hookHonoContext). */
function stepMatched(frameworks: Frameworks, matchResult: unknown): void {
  const matched = Array.isArray(matchResult) ? matchResult[0] : undefined;
  if (!Array.isArray(matched)) return;
  for (const entry of matched) {
    const tuple = Array.isArray(entry) ? entry[0] : undefined;
    if (!Array.isArray(tuple)) continue;
    const fn = tuple[0];
    if (typeof fn !== "function" || wrappers.has(fn)) continue;
    const route = tuple[1] as { method?: unknown; path?: unknown } | null | undefined;
    const kind = route !== null && typeof route === "object" && typeof route.method === "string" && route.method !== "ALL" ? "handler" : "middleware";
    const pattern = kind === "handler" && typeof route!.path === "string" ? route!.path : undefined;
    assignPatch(tuple, 0, stepOf(frameworks, fn as Fn, kind, pattern));
  }
}
