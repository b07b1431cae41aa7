/**
 * The functions agent (functions.cjs: parser glue, transform, print, runtime; ~850 KB),
 * compiled in Node through a V8 code cache next to it, as node.cjs compiles the agent's
 * bundle (code-cache.ts). Loaded by `require`, Node compiled the whole file at every traced
 * start with `--functions`, and a first start compiled lazily every function of the walk,
 * the handlers and print on top: one cold `instrument()` pass over the transform corpus
 * counted 3.59 G instructions without a cache, 3.26 G with one (BENCHMARKS.md "Start-up:
 * the functions agent from a code cache").
 *
 * - The cache file's name holds the V8 version, the architecture and the bundle's size and
 *   mtime: V8 checks a cache's version and flags but, of the source, only its length, so a
 *   rebuilt functions.cjs of the same length must not find the old cache.
 * - A main thread writes it at its 'exit' (temporary name, then rename): when it found none
 *   (or V8 rejected it: other flags), and once more when it was made by a process that
 *   transformed nothing and this one transformed a file (a marker file says so), so the
 *   cache holds the walk and the handlers a first start runs. Workers only read it.
 * - Anything failing falls back to `require`, as before; Bun always `require`s (JavaScriptCore).
 */
import type * as FunctionsAgent from "../../instrument/agent";

type Agent = typeof FunctionsAgent;

/** The wrapper Node's CommonJS loader puts around a module (same parameters), on the first line: lines stay the file's. */
const WRAP_START = "(function (exports, require, module, __filename, __dirname) {";
const WRAP_END = "\n})";

/** The functions agent at `path`: from a code cache in Node's main thread and workers, else by `require`. */
export function loadFunctionsAgent(path: string): Agent {
  if (process.versions.bun !== undefined) return require(path) as Agent;
  try {
    return compiled(path);
  } catch {
    return require(path) as Agent;
  }
}

function compiled(path: string): Agent {
  const fs = require("node:fs") as typeof import("node:fs");
  const vm = require("node:vm") as typeof import("node:vm");
  const { dirname, basename, join } = require("node:path") as typeof import("node:path");
  const { createRequire } = require("node:module") as typeof import("node:module");
  const threads = require("node:worker_threads") as typeof import("node:worker_threads");
  const source = fs.readFileSync(path, "utf8");
  const stat = fs.statSync(path);
  const prefix = `${basename(path)}.${process.versions.v8}-${process.arch}.`;
  const file = join(dirname(path), `${prefix}${stat.size}-${Math.trunc(stat.mtimeMs)}.v8cache`);
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(file);
  } catch {
    // None yet: compiled from source, written at the main thread's exit.
  }
  const script = new vm.Script(`${WRAP_START}${source}${WRAP_END}`, { filename: path, cachedData });
  const module = { exports: {} as Agent, id: path, filename: path, loaded: false };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(path), module, path, dirname(path));
  module.loaded = true;
  const agent = module.exports;
  if (!threads.isMainThread) return agent;
  const accepted = cachedData !== undefined && !script.cachedDataRejected;
  const marker = `${file}.transformed`;
  process.on("exit", () => {
    try {
      const transformed = typeof agent.transformedCount === "function" && agent.transformedCount() > 0;
      if (accepted && (!transformed || fs.existsSync(marker))) return;
      if (!writeFile(fs, file, script.createCachedData())) return;
      if (transformed) fs.writeFileSync(marker, "", { mode: 0o600 });
      else fs.rmSync(marker, { force: true });
      removeOthers(fs, dirname(path), prefix, basename(file));
    } catch {
      // No cache this time: the next start compiles from source, as with `require`.
    }
  });
  return agent;
}

/** Written under a temporary name and renamed: a concurrent reader never sees half a file. */
function writeFile(fs: typeof import("node:fs"), file: string, data: Buffer): boolean {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temporary, data, { mode: 0o600 });
    fs.renameSync(temporary, file);
    return true;
  } catch {
    // A read-only directory, a full disk: no cache, the agent works the same.
    fs.rmSync(temporary, { force: true });
    return false;
  }
}

/** Caches (and markers) of earlier builds of the bundle in the same directory. */
function removeOthers(fs: typeof import("node:fs"), directory: string, prefix: string, kept: string): void {
  for (const name of fs.readdirSync(directory)) {
    if (name.startsWith(prefix) && !name.startsWith(kept) && !name.endsWith(".tmp")) fs.rmSync(`${directory}/${name}`, { force: true });
  }
}
