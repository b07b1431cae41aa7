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
 *   look"); the addon is then handed to the agent (`module.exports.addon`), which attaches
 *   with it instead of opening it again. Without the addon (Bun, no SCOPE_ADDON) node:fs reads them;
 * - compiles it with `vm.Script` and `cachedData` read from `<node.cjs>.<V8 version>-<arch>.v8cache`
 *   next to it (V8 rejects a cache made by another V8 build or other flags: then it
 *   compiles from source, as without a cache);
 * - in a main thread that found no usable cache, writes one after the agent's install
 *   (`createCachedData()` then also holds the functions install compiled, and the preview
 *   walk, run first by the bundle's `warmForCodeCache`), to a temporary
 *   name then renamed, so a concurrent reader never sees half a file. A directory it cannot
 *   write to only means no cache.
 * - in the first worker that ends (after its trace_stop) on an accepted cache, writes it
 *   once more: the main thread made it before any worker-only function ran (the worker's
 *   start, its message and exit paths), and every later worker compiled those lazily. A
 *   marker file (`<cache>.workers`) says it was done; a main thread that writes a new cache
 *   removes it.
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
const WRAP_START = '(function (exports, require, module, __filename, __dirname) {"use strict";';
const WRAP_END = "\n})";

/** `text` with every character outside ASCII written as a \u escape (valid in strings, templates and regular expressions alike). */
export function asciiOnly(text: string): string {
  return text.replace(/[^\x00-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The contents of node-bundle.cjs for `bundle` (the CommonJS agent bundle Bun.build wrote): the wrapped function, ASCII only. */
export function wrappedBundle(bundle: string): string {
  return WRAP_START + asciiOnly(bundle) + WRAP_END;
}

/** The contents of node.cjs, the loader of node-bundle.cjs. */
export function codeCacheLoader(): string {
  return `"use strict";
// scope's Node agent (src/agent/node): this loader compiles ${BUNDLE_FILE}, next to it, through a
// V8 code cache (src/agent/node/code-cache.ts).
(function load() {
  let fs, vm, file, cachedData, script, source, filename, addon, shared;
  try {
    vm = require("node:vm");
    // The separator, not path.join: join and normalize would be compiled in every thread for this.
    filename = __dirname + require("node:path").sep + ${JSON.stringify(BUNDLE_FILE)};
    file = __filename + "." + process.versions.v8 + "-" + process.arch + ".v8cache";
    // The bundle and its cache from scope.node: read once per process, the same bytes for
    // every thread (no node:fs function compiled, no read, no copy in a worker).
    addon = sharedFiles();
    if (addon !== undefined) {
      source = addon.sharedFile(filename, true);
      const bytes = addon.sharedFile(file);
      if (bytes !== undefined) cachedData = new Uint8Array(bytes);
    }
    shared = typeof source === "string";
    if (!shared) {
      source = undefined;
      cachedData = undefined;
      fs = require("node:fs");
      // Buffer's own latin1Slice, not readFileSync's "latin1" (its option check and toString
      // run Node's encoding parsers: four more of Node's functions compiled in every thread).
      const bytes = fs.readFileSync(filename);
      source = typeof bytes.latin1Slice === "function" ? bytes.latin1Slice() : bytes.toString("latin1");
      try {
        cachedData = fs.readFileSync(file);
      } catch {
        // No cache yet: compiled from source, and written below by a main thread.
      }
    }
    script = new vm.Script(source, { filename, cachedData });
  } catch {
    if (source === undefined) return;
    try {
      script = new vm.Script(source, { filename });
    } catch {
      return;
    }
    cachedData = undefined;
  }
  let agent;
  try {
    agent = script.runInThisContext();
  } catch {
    return;
  }
  // Where the bundle finds its second chunk (the bundler fixes __dirname at build time).
  module.exports.agentDirectory = __dirname;
  // The addon this loader opened: the agent attaches with it instead of opening it again.
  if (addon !== undefined) module.exports.addon = addon;
  agent.call(exports, exports, require, module, __filename, __dirname);
  if (file === undefined || process.versions.bun) return;
  const accepted = cachedData !== undefined && !script.cachedDataRejected;
  // Present once a worker rewrote the cache (removed when a main thread writes a new one).
  const marker = file + ".workers";
  let threads;
  try {
    threads = require("node:worker_threads");
  } catch {
    return;
  }
  const files = () => (fs ??= require("node:fs"));
  const write = (data) => {
    const fs = files();
    const temporary = file + "." + process.pid + "-" + threads.threadId + ".tmp";
    try {
      fs.writeFileSync(temporary, data, { mode: 0o600 });
      fs.renameSync(temporary, file);
      // Later threads of this process take it from the addon (not read again).
      if (shared) addon.shareFile(file, data);
      return true;
    } catch {
      // A read-only directory, a full disk: no cache, the agent works the same.
      try {
        fs.unlinkSync(temporary);
      } catch {
        // Never written.
      }
      return false;
    }
  };
  if (!threads.isMainThread) {
    // A worker compiles what the main thread had not run when it made the cache (the
    // worker's own start, its messages, its end). The first worker to end on an accepted
    // cache writes it again: V8 serialises what it deserialised plus what the worker compiled.
    if (!accepted || (shared ? addon.sharedFile(marker) !== undefined : files().existsSync(marker))) return;
    const onThreadEnd = module.exports && module.exports.onThreadEnd;
    if (typeof onThreadEnd !== "function") return;
    onThreadEnd(() => {
      try {
        // First, so that a directory it cannot write to costs no serialising.
        files().writeFileSync(marker, "", { mode: 0o600 });
        if (shared) addon.shareFile(marker, new Uint8Array(0));
        const data = script.createCachedData();
        // Smaller: V8 dropped the bytecode of functions a long worker did not use; keep the old one.
        if (data.length >= cachedData.length) write(data);
      } catch {
        // No rewrite: the main thread's cache stays.
      }
    });
    return;
  }
  if (accepted) return;
  // The code every worker runs soon after its start, compiled now so the cache holds it.
  const warm = module.exports && module.exports.warmForCodeCache;
  if (typeof warm === "function") {
    try {
      warm();
    } catch {
      // Only a colder cache.
    }
  }
  let data;
  try {
    data = script.createCachedData();
  } catch {
    return;
  }
  if (!write(data)) return;
  try {
    files().unlinkSync(marker);
  } catch {
    // None yet.
  }
})();

// scope.node (SCOPE_ADDON, an absolute path, opened with process.dlopen as the agent opens it)
// when it shares files between threads; undefined otherwise (Bun, an older addon, no addon).
function sharedFiles() {
  const path = process.env.SCOPE_ADDON;
  if (process.versions.bun || typeof path !== "string" || !path.startsWith("/")) return undefined;
  const holder = { exports: {} };
  try {
    process.dlopen(holder, path);
  } catch {
    // The agent reports it (not attached) when it tries again.
    return undefined;
  }
  const addon = holder.exports;
  return typeof addon.sharedFile === "function" && typeof addon.shareFile === "function" ? addon : undefined;
}
`;
}
