/**
 * dist/agent/node.cjs is a small loader that compiles the agent bundle (dist/agent/
 * node-bundle.cjs, next to it) through a V8 code cache. Every Node worker thread runs the
 * agent at its start, and parsing and compiling the ~140 KB bundle was most of what a traced
 * worker start cost (BENCHMARKS.md, "Worker start: a V8 code cache"). The loader:
 *
 * - reads the bundle from its own file: Node's CommonJS loader reads, decodes and compiles
 *   only the small loader, and the bundle file is already the wrapped function source
 *   (escaped to ASCII and read as `latin1`: a one-byte string, no copy or concatenation).
 *   Holding the bundle in node.cjs itself (as a string literal, later as a block comment at
 *   its end) cost every thread a read, decode and scan of it on top of the loader's own
 *   read (BENCHMARKS.md, "Worker start: the bundle in its own file");
 * - takes both files from scope.node (`sharedFile`, zig/shared_files.zig) when SCOPE_ADDON
 *   names it: read by the process's first thread, the same bytes handed to every later one
 *   (the bundle as an external one-byte string, the cache as an external buffer), so a worker
 *   reads nothing and compiles none of node:fs's functions for it (BENCHMARKS.md "Tenth
 *   look"); the addon is then handed to the agent (in `__scopeLoaded`, below), which
 *   attaches with it instead of opening it again. Without the addon (Bun, no SCOPE_ADDON) node:fs reads them.
 *   The exports object it hands to the addon carries `lean`: the addon's init then makes
 *   only the functions every thread uses, the rest at `fullApi()` (zig/napi.zig
 *   lean_exports_table; BENCHMARKS.md "Thirteenth look");
 * - compiles it with `vm.Script` and `cachedData` read from `<node.cjs>.<V8 version>-<arch>.v8cache`
 *   next to it (V8 rejects a cache made by another V8 build or other flags: then it
 *   compiles from source, as without a cache);
 * - hands the bundle what it needs to write the cache (an array, the wrapper's sixth
 *   argument `__scopeLoaded`, not an object: no new shape in each worker; the script, the
 *   cache it was given, the cache's path, the addon; cache-write.ts Loaded), which src/agent/node/
 *   cache-write.ts does after the agent's install: in a main thread that found no usable
 *   cache, and once more in the first worker that ends on an accepted one. That part was in
 *   the loader until the tenth look: Node compiles the loader from source in every thread,
 *   and it was most of the loader's source (BENCHMARKS.md "Tenth look").
 *
 * Nothing here may throw into the program: any failure (the bundle file missing included)
 * falls back to compiling the same source without a cache, or to the agent's usual silence.
 */

/** The bundle's file name, next to node.cjs. */
export const BUNDLE_FILE = "node-bundle.cjs";

/**
 * The wrapper Node's CommonJS loader puts around a module (same parameters), as strict code:
 * the agent is written as ES modules (strict by definition) and bundled to CommonJS, which
 * Bun emits without the directive. Sloppy, every wrapper's `arguments` was a mapped object
 * that Reflect.apply copies in the runtime, and a wrapper called with an undefined or
 * primitive `this` handed the original the global object or a boxed primitive instead
 * (BENCHMARKS.md "Strict bundles; a stamp's own code").
 */
const WRAP_START = '(function (exports, require, module, __filename, __dirname, __scopeLoaded) {"use strict";';
const WRAP_END = "\n})";

/** `text` with every character outside ASCII written as a \u escape (valid in strings, templates and regular expressions alike). */
export function asciiOnly(text: string): string {
  return text.replace(/[^\x00-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The contents of node-bundle.cjs for `bundle` (the CommonJS agent bundle Bun.build wrote): the wrapped function, ASCII only. */
export function wrappedBundle(bundle: string): string {
  return WRAP_START + asciiOnly(bundle) + WRAP_END;
}

/**
 * The contents of node.cjs, the loader of node-bundle.cjs. Node compiles it from source in
 * every thread (its CommonJS loader has no cache for it), so it is kept to one straight body:
 * no inner function (a function V8 compiles lazily is scanned twice: once
 * pre-parsed with the file, once compiled at its first call), no comment past its header, the
 * path separator from `process.platform` rather than node:path (BENCHMARKS.md "Eleventh
 * look").
 */
export function codeCacheLoader(): string {
  return `"use strict";
// scope's Node agent (src/agent/node): compiles ${BUNDLE_FILE} through a V8 code cache (src/agent/node/code-cache.ts).
let vm, source, cachedData, script, addon, shared = false;
const filename = __dirname + (process.platform === "win32" ? "\\\\" : "/") + ${JSON.stringify(BUNDLE_FILE)};
const file = __filename + "." + process.versions.v8 + "-" + process.arch + ".v8cache";
const path = process.env.SCOPE_ADDON;
try {
  vm = require("node:vm");
  if (!process.versions.bun && typeof path === "string" && path.startsWith("/")) {
    const holder = { exports: { lean: true } };
    try {
      process.dlopen(holder, path);
      if (typeof holder.exports.sharedFile === "function") addon = holder.exports;
    } catch {}
  }
  if (addon !== undefined) {
    source = addon.sharedFile(filename, true);
    shared = typeof source === "string";
    const bytes = shared ? addon.sharedFile(file) : undefined;
    if (bytes !== undefined) cachedData = new Uint8Array(bytes);
  }
  if (!shared) {
    source = undefined;
    cachedData = undefined;
    const fs = require("node:fs");
    const bytes = fs.readFileSync(filename);
    source = typeof bytes.latin1Slice === "function" ? bytes.latin1Slice() : bytes.toString("latin1");
    try {
      cachedData = fs.readFileSync(file);
    } catch {}
  }
  script = new vm.Script(source, { filename, cachedData });
} catch {
  script = undefined;
  if (source !== undefined) {
    try {
      script = new vm.Script(source, { filename });
    } catch {}
  }
  cachedData = undefined;
}
let agent;
if (script !== undefined) {
  try {
    agent = script.runInThisContext();
  } catch {}
}
if (agent !== undefined) {
  agent.call(exports, exports, require, module, __filename, __dirname, [__dirname, addon, shared, script, cachedData, file]);
}
`;
}
