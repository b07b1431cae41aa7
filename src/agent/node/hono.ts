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
 * request's route; one of `use` or `all` (method ALL) a middleware step. app.onError's run is
 * no step of its own: the failed step carries the error (Hono keeps its error handler in a
 * private path of the app: ARCHITECTURE.md "Hono").
 */
import { assignPatch } from "../shared/patches";
import { renamed } from "../shared/reflect";
import type { Frameworks } from "./frameworks";

type Fn = (this: unknown, ...args: unknown[]) => unknown;

/** Whether `filename` is one of Hono's CommonJS routers. */
export function isHonoRouterFile(filename: string): boolean {
  return /[\\/]hono[\\/]dist[\\/]cjs[\\/]router[\\/](?:smart|reg-exp|trie|linear|pattern)-router[\\/]router\.js$/.test(filename);
}

const ROUTER_CLASSES = ["SmartRouter", "RegExpRouter", "TrieRouter", "LinearRouter", "PatternRouter"];

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
      // @hono/node-server: env { incoming, outgoing }; Bun.serve: the Request (its state's key).
      const env = (c as { env?: unknown }).env as { incoming?: unknown; outgoing?: unknown } | undefined;
      if (env !== null && typeof env === "object" && env.incoming !== null && typeof env.incoming === "object") {
        req = env.incoming;
        res = env.outgoing;
      } else req = (c as { req?: { raw?: unknown } }).req?.raw;
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
