/**
 * Elysia 1.4 (Bun): the route of a request Elysia routes itself. Elysia hands Bun.serve a
 * `routes` object for most of its routes (their requests get the `routes` key as their route,
 * framework `bun`: src/agent/bun/http.ts); the rest (a `*` wildcard route, a method Bun's
 * `routes` do not take, an app with `aot: false`) its generated `fetch` finds in its router,
 * memoirist: `router.find(method, path)` gives `{ store, params }`, `store` being the object
 * Elysia gave the router's `add(method, path, store)` for that route (one per route: the
 * loose and URI-encoded variants of its path come after the path itself).
 *
 * Memoirist ships minified under Bun's "bun" condition, with `find` assigned per instance
 * (its lazy `lazyFind`, then the matcher `build()` makes), so the class comes from the binding
 * elysia/dist/index.mjs imports (the ES builds' registry, src/agent/shared/esm-hooks.ts), and
 * on its prototype: `add` records each store's first path (as a string id), and `find` becomes
 * an accessor whose getter gives a wrapper of the prototype's method, or of the function the
 * instance assigned (kept per instance), which writes the running request's `http_route`
 * (framework `elysia`) when the route it found has a path. Only a request Elysia routes itself
 * pays it (a call and a WeakMap look-up); the outermost `find` of a call writes (lazyFind
 * calls the built one).
 */
import { Kind } from "../shared/kinds";
import { currentRequest } from "../shared/request-context";
import { renamed } from "../shared/reflect";
import { assignPatch, definePatch } from "../shared/patches";
import type { Recorder } from "../shared/recorder";

type Find = (this: unknown, ...args: unknown[]) => unknown;

export function hookMemoirist(recorder: Recorder, Memoirist: unknown, patched: WeakSet<object>): void {
  const proto = typeof Memoirist === "function" ? (Memoirist.prototype as Record<string, unknown> | undefined) : undefined;
  if (proto === undefined || proto === null || patched.has(proto)) return;
  const add = proto.add;
  const find = proto.find;
  if (typeof add !== "function" || typeof find !== "function") return;
  patched.add(proto);
  const paths = new WeakMap<object, number>();
  let elysiaId = 0;
  let depth = 0;
  const onFound = (result: { store?: unknown }) => {
    const store = result.store;
    if (store === null || typeof store !== "object") return;
    const routeId = paths.get(store);
    const id = currentRequest();
    if (routeId === undefined || id === 0) return;
    if (elysiaId === 0) elysiaId = recorder.str("elysia");
    recorder.event(Kind.http_route, id, routeId, elysiaId);
  };
  const wrap = (fn: Find): Find =>
    renamed(fn, function (this: unknown) {
      depth++;
      let result: unknown;
      try {
        result = Reflect.apply(fn, this, arguments);
      } finally {
        depth--;
      }
      if (depth === 0 && result !== null && typeof result === "object" && recorder.groups.http === true) recorder.safe(() => onFound(result as { store?: unknown }));
      return result;
    });
  assignPatch(
    proto,
    "add",
    renamed(add, function (this: unknown, _method: unknown, path: unknown, store: unknown) {
      if (typeof path === "string" && store !== null && typeof store === "object" && !paths.has(store)) recorder.safe(() => paths.set(store, recorder.str(path)));
      return Reflect.apply(add as Find, this, arguments);
    }),
  );
  const protoFind = wrap(find as Find);
  const own = new WeakMap<object, unknown>();
  definePatch(proto, "find", {
    configurable: true,
    enumerable: false,
    get(this: object) {
      return own.has(this) ? own.get(this) : protoFind;
    },
    set(this: object, value: unknown) {
      own.set(this, typeof value === "function" ? wrap(value as Find) : value);
    },
  });
}
