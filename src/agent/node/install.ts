/**
 * Attaches this thread to the ring through the Node-API addon and installs the hooks.
 * Skips Node's internal threads (the module-loader hooks thread runs preloads too).
 */
import type { FunctionRuntime } from "../../instrument/runtime";
import type { TypeChecks } from "../shared/preview";
import { disabledByFile, recordingEnded } from "../shared/disable";
import { useNativeGc } from "../shared/loop";
import { Recorder } from "../shared/recorder";
import { currentRequest, requestsBegin } from "../shared/request-context";
import { parseGroups, type Sink } from "../shared/sink";
import { asyncLevelOf, startAsyncTracking } from "./async";
import { loadFunctionsAgent } from "./functions-agent";
import { startTracing } from "./hooks";
import { workerThreads } from "./builtins";
import { loadWalk } from "./walk-load";

interface Addon extends Sink {
  attach(ringPath: string, tid: number): boolean;
  /**
   * The loader's lean load (code-cache.ts) makes only what every thread uses; this makes the
   * rest on the same object (function tracing's batches, clock and prefault: zig/napi.zig
   * full_exports_table). Absent where the addon was loaded whole.
   */
  fullApi?(): unknown;
  /** Maps a typed array's pages [from, to) on a libuv thread (zig/napi.zig js_prefault). */
  prefault?(view: Uint8Array, from: number, to: number): boolean;
}

const attachedKey = Symbol.for("scope.agent.attached");

/** scope.node as the loader opened it (SCOPE_ADDON: code-cache.ts), if it did. */
let loadedAddon: Addon | undefined;

/** The addon the loader opened (an object with `attach`), so that install does not open it a second time. */
export function useLoadedAddon(addon: unknown): void {
  if (addon !== null && typeof addon === "object" && typeof (addon as Addon).attach === "function") loadedAddon = addon as Addon;
}

export function install(): void {
  const env = process.env;
  const host = globalThis as Record<symbol, unknown>;
  if (host[attachedKey]) return; // preloaded twice (e.g. --require given twice)
  host[attachedKey] = true;
  if (disabledByFile(env)) return;
  let threads: typeof import("node:worker_threads");
  try {
    threads = workerThreads();
  } catch {
    return;
  }
  // Internal workers (the ESM loader hooks thread) get no parentPort: not a program thread.
  if (!threads.isMainThread && threads.parentPort == null) return;
  const tid = threads.isMainThread ? 0 : threads.threadId;
  let addon: Addon;
  try {
    const ringPath = env.SCOPE_RING;
    const addonPath = env.SCOPE_ADDON;
    if (!ringPath || !addonPath) throw new Error("SCOPE_RING or SCOPE_ADDON is not set");
    // process.dlopen, not require: require first resolves the path (the package scope of
    // the preload's directory, a realpath walk: ~10 syscalls and their JavaScript in every
    // thread; BENCHMARKS.md "Worker start: the bundle in its own file"). scope sets an
    // absolute SCOPE_ADDON, and nothing else in the thread loads it.
    if (loadedAddon !== undefined) addon = loadedAddon;
    else if (addonPath.startsWith("/")) {
      const holder = { exports: {} as Addon };
      process.dlopen(holder, addonPath);
      addon = holder.exports;
    } else addon = require(addonPath) as Addon;
    if (!addon.attach(ringPath, tid)) throw new Error(`cannot attach to ${ringPath}`);
    useNativeGc(addon);
  } catch (error) {
    if (threads.isMainThread && !recordingEnded(process.env.SCOPE_RING)) {
      try {
        process.stderr.write(`scope: agent not attached in pid ${process.pid} (${(error as Error)?.message}); running untraced\n`);
      } catch {
        // stderr may be closed; stay silent.
      }
    }
    return;
  }
  // Function tracing (scope run --functions) buffers its events: the agent's own go through
  // runtime.orderedSink(), which flushes them first, and both share the Recorder's string ids.
  let runtime: FunctionRuntime | undefined;
  let functionsError: unknown;
  let recorder: Recorder | undefined;
  if (env.SCOPE_FUNCTIONS) {
    try {
      // Its own bundle (parser, transform): only processes traced with --functions load it.
      if (!env.SCOPE_FUNCTIONS_AGENT) throw new Error("SCOPE_FUNCTIONS is set without SCOPE_FUNCTIONS_AGENT");
      if (typeof addon.fullApi === "function") addon.fullApi();
      const functions = loadFunctionsAgent(env.SCOPE_FUNCTIONS_AGENT);
      runtime = functions.startFunctionTracing({
        sink: addon,
        str: (text, intern) => recorder?.str(text, intern) ?? 0,
        stringId: () => recorder?.reserveId() ?? 0,
        types: (require("node:util") as { types: TypeChecks }).types,
        runtime: "node",
        esmLoader: env.SCOPE_ESM_LOADER,
        request: currentRequest,
        requestsBegin,
        prefault: typeof addon.prefault === "function" ? addon.prefault : undefined,
      });
    } catch (error) {
      functionsError = error;
    }
  }
  // The preview walk from its own chunk at this thread's first preview (walk-load.ts).
  // The walk commits a send itself (commitHeld) only where the Recorder's sink is the addon.
  const active = new Recorder(runtime ? runtime.orderedSink() : addon, parseGroups(env.SCOPE_EVENTS), () => loadWalk(addon, runtime === undefined));
  recorder = active;
  if (functionsError !== undefined) active.fail(functionsError);
  active.safe(() => startTracing(active, threads, tid));
  // scope run --async: off by default, and then nothing of it runs.
  const asyncLevel = asyncLevelOf(env.SCOPE_ASYNC);
  if (asyncLevel !== undefined) active.safe(() => startAsyncTracking(active, asyncLevel));
}
