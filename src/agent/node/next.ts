/**
 * Next.js (helper nextjs), `next start` and `next dev` on Node's runtime (the edge runtime is not
 * covered): the route a request rendered, as Next names it (`/cats/[id]`, `/api/cats`), and the
 * error a request's render, route handler or server action threw (a page that throws: Next
 * answers 500 itself, so no error reaches node:http or a framework step).
 *
 * Next publishes both through its own tracing, which records nothing unless an OpenTelemetry
 * SDK is registered, and its `onRequestError` instrumentation hook; scope hooks the two calls
 * where Next hands them over:
 * - Route: `getTracer().setRootSpanAttribute("next.route", route)` (next/dist/server/lib/trace/
 *   tracer.js, the one tracer of the server; taken from the module cache when next-server.js
 *   has loaded), which base-server's renderPageComponent calls once it found the page of the
 *   request, with the app path (what Next's own spans carry as `next.route` / `http.route`).
 *   The app route module calls it again for a route handler with its file's path
 *   (`/api/cats/route`): the first call of a request is recorded, later ones are not. A
 *   request no page matched (Next's not-found page) gets no route, as in Express.
 * - Error: the route module's `onRequestError(req, error, context, routerServerContext)`
 *   (RouteModule's, in Next's prebundled runtimes next/dist/compiled/next-server/
 *   {app-page,app-route,pages,pages-api}*.runtime.{prod,dev}.js), which a page's bundle calls
 *   for every error its render, handler or action threw, before Next's 500 (it logs the error
 *   and runs instrumentation's onRequestError): a step of kind `error` named `onRequestError`
 *   around that call, failed with the error.
 * Both name the request through the running request context (its server request's id); the
 * step its IncomingMessage (a NodeNextRequest's `_req`: `originalRequest` is a getter that writes).
 */
import { Kind } from "../shared/kinds";
import { currentRequest } from "../shared/request-context";
import { renamed } from "../shared/reflect";
import { assignPatch } from "../shared/patches";
import type { Frameworks } from "./frameworks";

/** Next's server (next/dist/server/next-server.js), or one of its prebundled route-module runtimes (next/dist/compiled/next-server/app-page.runtime.prod.js, …). */
export function isNextFile(filename: string): boolean {
  return /[\\/]next[\\/]dist[\\/](?:server[\\/]next-server|compiled[\\/]next-server[\\/](?:app-page|app-route|pages|pages-api)(?:-turbo)?(?:-experimental)?\.runtime\.(?:prod|dev))\.js$/.test(filename);
}

type Fn = (this: unknown, ...args: unknown[]) => unknown;

/** The step's name: the hook of Next's it stands for. */
const ERROR_STEP = "onRequestError";

/**
 * Requests whose route is recorded (their ids): the first `next.route` of a request is its
 * route. Emptied when it reaches ROUTED_LIMIT (a request's calls are a few microtasks apart, so
 * only one in flight across an emptying can be recorded twice).
 */
const routed = new Set<number>();
const ROUTED_LIMIT = 1024;

export function hookNext(frameworks: Frameworks, filename: string, exports: unknown, patched: WeakSet<object>): void {
  if (filename.endsWith("next-server.js")) return hookTracer(frameworks, filename, patched);
  if (exports === null || typeof exports !== "object") return;
  // The runtime's route module classes (AppPageRouteModule, …): the prototype that has onRequestError (RouteModule's).
  for (const key of ["AppPageRouteModule", "AppRouteRouteModule", "PagesRouteModule", "PagesAPIRouteModule"]) {
    // Webpack's export getters (each returns its binding): read as Next's page bundles read them.
    const cls = Object.prototype.hasOwnProperty.call(exports, key) ? (exports as Record<string, unknown>)[key] : undefined;
    let proto = typeof cls === "function" ? (cls.prototype as object | null | undefined) : undefined;
    while (proto !== null && proto !== undefined && !Object.prototype.hasOwnProperty.call(proto, "onRequestError")) proto = Object.getPrototypeOf(proto) as object | null;
    if (proto === null || proto === undefined || patched.has(proto)) continue;
    const descriptorOf = Object.getOwnPropertyDescriptor(proto, "onRequestError");
    if (descriptorOf === undefined || typeof descriptorOf.value !== "function") continue;
    patched.add(proto);
    hookRequestError(frameworks, proto as Record<string, unknown>);
  }
}

/** next-server.js has run: the tracer it loaded (lib/trace/tracer.js beside it, read from the module cache: nothing is loaded here). */
function hookTracer(frameworks: Frameworks, filename: string, patched: WeakSet<object>): void {
  const Module = require("node:module") as { _cache?: Record<string, { exports?: unknown } | undefined> };
  const separator = filename.includes("\\") ? "\\" : "/";
  const tracerFile = filename.slice(0, filename.length - "next-server.js".length) + ["lib", "trace", "tracer.js"].join(separator);
  const tracer = (Module._cache?.[tracerFile]?.exports as { getTracer?: unknown } | undefined)?.getTracer;
  if (typeof tracer !== "function") return;
  const instance = Reflect.apply(tracer as Fn, undefined, []);
  const tracerProto = instance !== null && typeof instance === "object" ? (Object.getPrototypeOf(instance) as Record<string, unknown> | null) : null;
  if (tracerProto === null || patched.has(tracerProto) || typeof tracerProto.setRootSpanAttribute !== "function") return;
  patched.add(tracerProto);
  hookRoute(frameworks, tracerProto);
}
function hookRoute(frameworks: Frameworks, proto: Record<string, unknown>): void {
  const recorder = frameworks.recorder;
  const original = proto.setRootSpanAttribute as Fn;
  let nextId = 0;
  assignPatch(
    proto,
    "setRootSpanAttribute",
    renamed(original, function (this: unknown, key: unknown, value: unknown) {
      if (key === "next.route" && typeof value === "string" && recorder.groups.http === true) {
        recorder.safe(() => {
          const id = currentRequest();
          if (id === 0 || routed.has(id)) return;
          if (routed.size >= ROUTED_LIMIT) routed.clear();
          routed.add(id);
          if (nextId === 0) nextId = recorder.str("next");
          recorder.event(Kind.http_route, id, recorder.str(value), nextId);
        });
      }
      return Reflect.apply(original, this, arguments);
    }),
  );
}

function hookRequestError(frameworks: Frameworks, proto: Record<string, unknown>): void {
  const recorder = frameworks.recorder;
  const original = proto.onRequestError as Fn;
  let nameId = 0;
  assignPatch(
    proto,
    "onRequestError",
    renamed(original, function (this: unknown, request: unknown, error: unknown) {
      if (recorder.groups.http !== true) return Reflect.apply(original, this, arguments);
      let incoming: unknown = request;
      recorder.safe(() => {
        // NodeNextRequest: its IncomingMessage in `_req` (a field; `originalRequest` is a getter that writes).
        const raw = request !== null && typeof request === "object" ? (request as { _req?: unknown })._req : undefined;
        if (raw !== null && typeof raw === "object") incoming = raw;
        if (nameId === 0) nameId = recorder.str(ERROR_STEP);
      });
      return frameworks.aroundReportedError(incoming, nameId, error, original, this, arguments);
    }),
  );
}
