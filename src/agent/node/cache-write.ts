/**
 * Writing the agent bundle's V8 code cache (the loader, dist/agent/node.cjs, reads it:
 * src/agent/node/code-cache.ts). Here in the bundle, not in the loader: Node compiles the
 * loader from source in every thread (its CommonJS loader has no cache for it), and this
 * part, which one or two threads of a run need, was most of its source (BENCHMARKS.md
 * "Tenth look"); in the bundle it is in the cache like the rest.
 *
 * - A main thread that found no usable cache (none, or one V8 rejected: another build,
 *   other V8 flags) writes one after the agent's install (`createCachedData()` then holds
 *   what install compiled; the preview walk is a chunk of its own, walk-load.ts), to a temporary name
 *   then renamed, so a concurrent reader never sees half a file; it removes the marker below.
 * - The first worker that ends (after its trace_stop) on an accepted cache writes it once
 *   more: the main thread made it before any worker-only function ran (the worker's start,
 *   its message and exit paths), and every later worker compiled those lazily. A marker file
 *   (`<cache>.workers`) says it was done.
 * - When the loader took the files from scope.node (`sharedFile`), what is written is also
 *   handed to it (`shareFile`), so the process's later threads get it without reading.
 *
 * A directory it cannot write to only means no cache; nothing here throws into the program.
 */
import type * as Fs from "node:fs";
import { workerThreads } from "./builtins";
import { shareFile } from "./chunk-load";
import { onThreadEnd } from "./hooks";

/**
 * What the loader hands the bundle: an array, the wrapper's sixth argument `__scopeLoaded`
 * (code-cache.ts), not an object (an object's keys are a new shape in every worker,
 * ~6 K instructions each: BENCHMARKS.md "Fourteenth look"). In order: the loader's
 * directory (the chunks are there: lazy.ts), scope.node as the loader opened it (when it
 * did), whether the bundle and its cache came from the addon's `sharedFile`, the script,
 * the cache it was compiled with (if any), the cache's path.
 */
export type Loaded = readonly [
  directory: string,
  addon: SharedFiles | undefined,
  shared: boolean,
  script: { createCachedData(): Uint8Array; cachedDataRejected?: boolean },
  cachedData: Uint8Array | undefined,
  file: string,
];

interface SharedFiles {
  sharedFile(path: string, latin1?: boolean): ArrayBuffer | string | undefined;
}

/** The loader's array, checked (undefined where nothing was handed over: a chunk, an older loader). */
export function loadedBundle(value: unknown): Loaded | undefined {
  if (!Array.isArray(value) || value.length !== 6 || typeof value[5] !== "string") return undefined;
  const script = value[3] as Partial<Loaded[3]> | null | undefined;
  if (script === null || typeof script !== "object" || typeof script.createCachedData !== "function") return undefined;
  return value as unknown as Loaded;
}

/** Writes or rewrites the cache when this thread should (see above). */
export function saveCodeCache(loaded: Loaded): void {
  if ((process.versions as { bun?: string }).bun) return;
  const script = loaded[3];
  const cachedData = loaded[4];
  const file = loaded[5];
  const addon = loaded[2] ? loaded[1] : undefined;
  const accepted = cachedData !== undefined && !script.cachedDataRejected;
  // Present once a worker rewrote the cache (removed when a main thread writes a new one).
  const marker = `${file}.workers`;
  let threads: typeof import("node:worker_threads");
  try {
    threads = workerThreads();
  } catch {
    return;
  }
  let fs: typeof Fs | undefined;
  const files = () => (fs ??= require("node:fs") as typeof Fs);
  const write = (data: Uint8Array): boolean => {
    const temporary = `${file}.${process.pid}-${threads.threadId}.tmp`;
    try {
      files().writeFileSync(temporary, data, { mode: 0o600 });
      files().renameSync(temporary, file);
      // Later threads of this process take it from the addon (not read again).
      shareFile(addon, file, data);
      return true;
    } catch {
      // A read-only directory, a full disk: no cache, the agent works the same.
      try {
        files().unlinkSync(temporary);
      } catch {
        // Never written.
      }
      return false;
    }
  };
  if (!threads.isMainThread) {
    if (!accepted || (addon !== undefined ? addon.sharedFile(marker) !== undefined : files().existsSync(marker))) return;
    onThreadEnd(() => {
      try {
        // First, so that a directory it cannot write to costs no serialising.
        files().writeFileSync(marker, "", { mode: 0o600 });
        shareFile(addon, marker, new Uint8Array(0));
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
  let data: Uint8Array;
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
}
