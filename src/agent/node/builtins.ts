/**
 * Whether one of Node's built-in modules was already loaded in this thread, read from
 * Node's own list without loading anything. `ifUnknown`: the answer where the list is not
 * there (another runtime, a future Node).
 */
export function builtinLoaded(id: string, ifUnknown = false): boolean {
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
  return Array.isArray(list) ? list.includes(`NativeModule ${id}`) : ifUnknown;
}

let threadsModule: typeof import("node:worker_threads") | undefined;
let channelsModule: typeof import("node:diagnostics_channel") | undefined;

/**
 * node:worker_threads and node:diagnostics_channel, each required once a thread: a `require`
 * of a built-in runs Node's Module.prototype.require and Module._load (the agent's wait for
 * node:child_process wraps it in a worker) and its BuiltinModule checks, whose calls at a
 * worker's start made Node give canBeRequiredByUsers a feedback vector and a Sparkplug compile
 * in every worker (BENCHMARKS.md "Worker start: the 'child_process' channel when made").
 * Throws what require throws.
 */
export function workerThreads(): typeof import("node:worker_threads") {
  return (threadsModule ??= require("node:worker_threads") as typeof import("node:worker_threads"));
}

export function diagnosticsChannel(): typeof import("node:diagnostics_channel") {
  return (channelsModule ??= require("node:diagnostics_channel") as typeof import("node:diagnostics_channel"));
}
