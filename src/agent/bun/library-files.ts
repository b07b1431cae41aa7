/**
 * The library files the integrations hook (frameworks, database clients: triggers.ts
 * `isHookedFile`), seen as they load in a Bun thread, with Bun's own `.js` loader step left
 * in place. Replacing `Module._extensions[".js"]` (as Node's integrations' loaders do) makes
 * Bun run every CommonJS file through a JavaScript path whose frames (`<anonymous>
 * (native:1:11)`, `unknown`, `anonymous (unknown)`) show in `error.stack` at every module's
 * top level: tracing changed what a program that prints such a stack printed (helper
 * bunframes). A runtime plugin cannot take the file instead (Bun runs no CommonJS text an
 * onLoad returns: src/instrument/bun-plugin.ts).
 *
 * So the hook is on `Module.prototype.require`, which Bun's CommonJS `require` calls when it
 * is replaced (as http.ts and websocket.ts already do): every hooked file is reached by a
 * `require` (a package's own relative require, or a program's require of the package: pg's
 * lib/client.js, express's lib/router/layer.js, fastify's lib/hooks.js, ...). For an id whose
 * last segment is one a hooked file is required by (`REQUIRED_AS`), from a module under
 * node_modules or naming a package, the wrapper resolves it as Bun's require does
 * (`Module._resolveFilename`, Bun's, taken at start) and, for a hooked file, hands its
 * exports over once its module has loaded (not inside a require cycle: the outer require
 * hands it over: its outermost require, as Bun reads `loaded` true inside a cycle) and not
 * before for the same module object. Every other call returns the
 * original's call in tail position (shared/patches.ts tailCall): no frame of scope's under
 * the required module's top level. What stays: a hooked file's own top level (and what it
 * requires while it runs) has the wrapper's frame under it, as it had the `.js` wrapper's.
 * Not seen, as before: a hooked file an ES module imports directly (Bun runs it without
 * `require` or `_extensions`): fastify.js (its lib/hooks.js is required), koa's
 * lib/application.js through koa's dist/koa.mjs.
 */
import { renamed } from "../shared/reflect";

type Require = (this: unknown, id: string) => unknown;
interface ModuleClass {
  prototype: { require: Require };
  _resolveFilename?: (request: string, parent: unknown) => unknown;
  _cache?: Record<string, { loaded?: unknown; exports?: unknown } | undefined>;
}

/**
 * The last segment (without `.js`) of the ids hooked files are required by: their own
 * names, `router` (express 4's lib/router/index.js, @koa/router) and the packages whose
 * entry is hooked (fastify, koa, pg-pool). Made at the first require, not at start.
 */
let requiredAs: Set<string> | undefined;
const REQUIRED_AS = "layer router index fastify hooks application hono-base prepared-router router-explorer router-proxy routes-resolver client query pool connection database Redis linked-list commands-queue koa pg-pool next-server collectFields locatedError Pool connection-manager types large";

/** Whether a require of `id` from `parent` may load a hooked file (before any resolution). */
export function mayBeHooked(id: string, parent: unknown): boolean {
  let end = id.length;
  if (end > 3 && id.charCodeAt(end - 3) === 46 && id.charCodeAt(end - 2) === 106 && id.charCodeAt(end - 1) === 115) end -= 3;
  const slash = id.lastIndexOf("/", end - 1);
  const name = id.slice(slash + 1, end);
  // A directory ("..", "../..", "./"): its package's entry or its index.js.
  // Next.js's route-module runtimes: next/dist/compiled/next-server/<kind>[-turbo][-experimental].runtime.<prod|dev>.
  if (!(requiredAs ??= new Set(REQUIRED_AS.split(" "))).has(name) && name !== "" && name !== "." && name !== ".." && !name.includes(".runtime.")) return false;
  const first = id.charCodeAt(0);
  // A relative id reaches node_modules only from a module there (or through it by name).
  if (first === 46) return (typeof (parent as { filename?: unknown })?.filename === "string" && (parent as { filename: string }).filename.includes("node_modules")) || id.includes("node_modules");
  if (first === 47) return id.includes("node_modules");
  return true;
}

/**
 * Hands `onFile` each hooked file's exports once it loaded (`wanted`: the file is one the
 * enabled groups hook, triggers.ts isHookedFile, read at each file). false: Bun's Module lacks what this needs.
 */
export function hookBunLibraryFiles(Module: ModuleClass, wanted: (filename: string) => boolean, onFile: (filename: string, exports: unknown) => void, safe: (fn: () => void) => void): boolean {
  const original = Module.prototype?.require;
  const resolve = Module._resolveFilename;
  const cache = Module._cache;
  if (typeof original !== "function" || typeof resolve !== "function" || cache === undefined) return false;
  const handed = new WeakSet<object>();
  // Hooked files whose outermost require is running: Bun sets `module.loaded` before a
  // require cycle comes back to the file (ioredis: built/Redis.js → ./cluster → ../Redis
  // reads it true), so a file is handed over only when its outermost require returns.
  const loading = new Set<string>();
  const hooked = (id: unknown, parent: unknown): string | undefined => {
    if (typeof id !== "string" || id.length === 0 || !mayBeHooked(id, parent)) return undefined;
    let filename: unknown;
    try {
      filename = Reflect.apply(resolve, Module, [id, parent]);
    } catch {
      return undefined; // The original throws the same, in tail position.
    }
    return typeof filename === "string" && wanted(filename) ? filename : undefined;
  };
  Module.prototype.require = renamed(original, function (this: unknown, id: string) {
    const filename = hooked(id, this);
    // Any other module: the original in tail position (tailCall in shared/patches.ts).
    if (filename === undefined || loading.has(filename)) return Reflect.apply(original, this, arguments);
    loading.add(filename);
    let exports: unknown;
    try {
      exports = Reflect.apply(original, this, arguments);
    } finally {
      loading.delete(filename);
    }
    safe(() => {
      const module = cache[filename];
      // Still loading (a require cycle): handed over when the require that loads it returns.
      if (module === undefined || module === null || module.loaded !== true || handed.has(module)) return;
      handed.add(module);
      onFile(filename, module.exports);
    });
    return exports;
  });
  return true;
}
