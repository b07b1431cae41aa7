/**
 * Koa's routes (helper auditfw): @koa/router (its CommonJS build: dist/index.js of 14 and
 * later, lib/router.js before) is hooked when that file ran, by its Router's `match(path,
 * method)`, which the router's dispatch calls once a request, in the request's context. When
 * it matched a route, the pattern of the last layer with methods (what @koa/router itself puts
 * in `ctx._matchedRoute`, prefixes included) is the request's route: an `http_route` record
 * (framework `koa`) for `currentRequest()`. No steps: Koa's middleware are one composed
 * function, and @koa/router publishes nothing.
 */
import { Kind } from "../shared/kinds";
import type { Recorder } from "../shared/recorder";
import { currentRequest } from "../shared/request-context";
import { renamed } from "../shared/reflect";
import { assignPatch } from "../shared/patches";

/** What `match` returns: the layers that matched the path and the method, and whether one was a route. */
interface MatchResult {
  pathAndMethod?: unknown;
  route?: unknown;
}

/** Whether `filename` is @koa/router's CommonJS entry (dist/index.js) or its router (lib/router.js). */
export function isKoaRouterFile(filename: string): boolean {
  return /[\\/]@koa[\\/]router[\\/](?:dist[\\/]index|lib[\\/]router)\.js$/.test(filename);
}

export function hookKoaRouter(recorder: Recorder, exports: unknown, patched: WeakSet<object>): void {
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
}
