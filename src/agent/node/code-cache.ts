/**
 * dist/agent/node.cjs is the agent bundle wrapped in a small loader that compiles it
 * through a V8 code cache. Every Node worker thread runs the agent at its start, and
 * parsing and compiling the ~130 KB bundle was most of what a traced worker start cost
 * (BENCHMARKS.md, "Worker start: a V8 code cache"). The loader:
 *
 * - holds the bundle as one string literal (escaped to ASCII: a one-byte string, which V8
 *   scans faster than a two-byte one), so no second file is read and no asset is added;
 * - compiles it with `vm.Script` and `cachedData` read from `<node.cjs>.<V8 version>-<arch>.v8cache`
 *   next to it (V8 rejects a cache made by another V8 build or other flags: then it
 *   compiles from source, as without a cache);
 * - in a main thread that found no usable cache, writes one after the agent's install
 *   (`createCachedData()` then also holds the functions install compiled, and the preview
 *   walk, run first by the bundle's `warmForCodeCache`), to a temporary
 *   name then renamed, so a concurrent reader never sees half a file. A directory it cannot
 *   write to only means no cache. Workers never write: the main thread starts first.
 *
 * Nothing here may throw into the program: any failure falls back to compiling the same
 * source without a cache, and a failure of that to the agent's usual silence.
 */

/** The wrapper Node's CommonJS loader puts around a module (same parameters). */
const WRAP_START = "(function (exports, require, module, __filename, __dirname) {";
const WRAP_END = "\n})";

/** `text` with every character outside ASCII written as a \u escape (valid in strings, templates and regular expressions alike). */
export function asciiOnly(text: string): string {
  return text.replace(/[^\x00-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** The contents of node.cjs for `bundle` (the CommonJS agent bundle Bun.build wrote). */
export function withCodeCache(bundle: string): string {
  const source = JSON.stringify(WRAP_START + asciiOnly(bundle) + WRAP_END);
  return `"use strict";
// scope's Node agent (src/agent/node), compiled through a V8 code cache: src/agent/node/code-cache.ts.
(function load(source) {
  let fs, vm, file, cachedData, script;
  try {
    fs = require("node:fs");
    vm = require("node:vm");
    file = __filename + "." + process.versions.v8 + "-" + process.arch + ".v8cache";
    try {
      cachedData = fs.readFileSync(file);
    } catch {
      // No cache yet: compiled from source, and written below by a main thread.
    }
    script = new vm.Script(source, { filename: __filename, cachedData });
  } catch {
    try {
      script = new vm.Script(source, { filename: __filename });
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
  agent.call(exports, exports, require, module, __filename, __dirname);
  if (file === undefined || process.versions.bun || (cachedData !== undefined && !script.cachedDataRejected)) return;
  const temporary = file + "." + process.pid + ".tmp";
  try {
    if (!require("node:worker_threads").isMainThread) return;
    // The code every worker runs soon after its start, compiled now so the cache holds it.
    const warm = module.exports && module.exports.warmForCodeCache;
    if (typeof warm === "function") {
      try {
        warm();
      } catch {
        // Only a colder cache.
      }
    }
    fs.writeFileSync(temporary, script.createCachedData(), { mode: 0o600 });
    fs.renameSync(temporary, file);
  } catch {
    // A read-only directory, a full disk: no cache, the agent works the same.
    try {
      fs.unlinkSync(temporary);
    } catch {
      // Never written.
    }
  }
})(${source});
`;
}
