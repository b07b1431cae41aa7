/**
 * Attaches this thread to the ring through the Node-API addon and installs the hooks.
 * Skips Node's internal threads (the module-loader hooks thread runs preloads too).
 */
import { Recorder } from "../shared/recorder";
import { parseGroups, type Sink } from "../shared/sink";
import { startTracing } from "./hooks";

interface Addon extends Sink {
  attach(ringPath: string, tid: number): boolean;
}

const attachedKey = Symbol.for("scope.agent.attached");

export function install(): void {
  const env = process.env;
  const host = globalThis as Record<symbol, unknown>;
  if (host[attachedKey]) return; // preloaded twice (e.g. --require given twice)
  host[attachedKey] = true;
  let threads: typeof import("node:worker_threads");
  try {
    threads = require("node:worker_threads");
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
    addon = require(addonPath) as Addon;
    if (!addon.attach(ringPath, tid)) throw new Error(`cannot attach to ${ringPath}`);
  } catch (error) {
    if (threads.isMainThread) {
      try {
        process.stderr.write(`scope: agent not attached in pid ${process.pid} (${(error as Error)?.message}); running untraced\n`);
      } catch {
        // stderr may be closed; stay silent.
      }
    }
    return;
  }
  const recorder = new Recorder(addon, parseGroups(env.SCOPE_EVENTS));
  recorder.safe(() => startTracing(recorder, threads, tid));
}
