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
 *   write to only means no cache.
 * - in the first worker that ends (after its trace_stop) on an accepted cache, writes it
 *   once more: the main thread made it before any worker-only function ran (the worker's
 *   start, its message and exit paths), and every later worker compiled those lazily. A
 *   marker file (`<cache>.workers`) says it was done; a main thread that writes a new cache
 *   removes it.
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

/** Opens the comment at the end of node.cjs that holds the bundle (written split in the loader's own code). */
const BUNDLE_START = "/*scope-agent-bundle\n";
const BUNDLE_END = "\n*/\n";

/**
 * `text` (ASCII) made safe inside a block comment: \x01 starts an escape, "\x01a" for
 * itself and "\x01b" for "*\/". The loader undoes it with two split/joins.
 */
export function commentSafe(text: string): string {
  return text.replaceAll("\x01", "\x01a").replaceAll("*/", "\x01b");
}

/** The contents of node.cjs for `bundle` (the CommonJS agent bundle Bun.build wrote). */
export function withCodeCache(bundle: string): string {
  return `"use strict";
// scope's Node agent (src/agent/node), compiled through a V8 code cache: src/agent/node/code-cache.ts.
// The bundle is the comment at the end of this file: Node's loader skips a comment far faster
// than it scans and interns a string literal of the same size.
(function load() {
  let fs, vm, file, cachedData, script, source;
  try {
    fs = require("node:fs");
    vm = require("node:vm");
    const text = fs.readFileSync(__filename, "latin1");
    const start = text.indexOf(${JSON.stringify(BUNDLE_START.slice(0, 2))} + ${JSON.stringify(BUNDLE_START.slice(2))});
    if (start < 0 || !text.endsWith(${JSON.stringify(BUNDLE_END)})) return;
    let bundle = text.slice(start + ${BUNDLE_START.length}, text.length - ${BUNDLE_END.length}).split("\\x01b").join("*/");
    if (bundle.includes("\\x01")) bundle = bundle.split("\\x01a").join("\\x01");
    source = ${JSON.stringify(WRAP_START)} + bundle + ${JSON.stringify(WRAP_END)};
    file = __filename + "." + process.versions.v8 + "-" + process.arch + ".v8cache";
    try {
      cachedData = fs.readFileSync(file);
    } catch {
      // No cache yet: compiled from source, and written below by a main thread.
    }
    script = new vm.Script(source, { filename: __filename, cachedData });
  } catch {
    if (source === undefined) return;
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
  const write = (data) => {
    const temporary = file + "." + process.pid + "-" + threads.threadId + ".tmp";
    try {
      fs.writeFileSync(temporary, data, { mode: 0o600 });
      fs.renameSync(temporary, file);
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
    if (!accepted || fs.existsSync(marker)) return;
    const onThreadEnd = module.exports && module.exports.onThreadEnd;
    if (typeof onThreadEnd !== "function") return;
    onThreadEnd(() => {
      try {
        // First, so that a directory it cannot write to costs no serialising.
        fs.writeFileSync(marker, "", { mode: 0o600 });
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
    fs.unlinkSync(marker);
  } catch {
    // None yet.
  }
})();
${BUNDLE_START}${commentSafe(asciiOnly(bundle))}${BUNDLE_END}`;
}
