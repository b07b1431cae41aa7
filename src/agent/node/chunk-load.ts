/**
 * Compiling one of the Node agent's lazily loaded chunks (chunks.ts: node-extras.cjs for
 * HTTP, frameworks and databases, lazy.ts; node-walk.cjs for the preview walk, walk-load.ts)
 * the way the loader compiles the core (code-cache.ts): `vm.Script` over the wrapped,
 * ASCII source read as a one-byte string, with the V8 code cache next to it
 * (`<chunk>.<V8 version>-<arch>.v8cache`). When the loader took the core from scope.node
 * (`sharedFile`), the chunk and its cache come from there too: read once per process, no
 * node:fs in a worker; a cache a thread writes is handed back (`shareFile`).
 */
import type * as Fs from "node:fs";
import { lateNative } from "../shared/sink";

interface SharedFiles {
  sharedFile(path: string, latin1?: boolean): ArrayBuffer | string | undefined;
}

/** Hands `data`, just written to `path`, to the addon for the process's later threads (its `shareFile`, made at this first ask in a lean init). */
export function shareFile(addon: SharedFiles | undefined, path: string, data: Uint8Array): void {
  const share = lateNative(addon, "shareFile");
  if (share !== undefined) Reflect.apply(share, addon, [path, data]);
}

/** The loader's directory (node.cjs's: the chunks are there) and the addon it read the core through, if it did. */
let agentDirectory: unknown;
let sharedFiles: SharedFiles | undefined;

/** Set by main.ts from what the loader hands over; `addon` only when the core came from its `sharedFile`. */
export function setAgentFiles(directory: unknown, addon: unknown): void {
  agentDirectory = directory;
  const candidate = addon as Partial<SharedFiles> | null | undefined;
  if (candidate !== null && typeof candidate === "object" && typeof candidate.sharedFile === "function") sharedFiles = candidate as SharedFiles;
}

export interface Chunk<Exports> {
  exports: Exports;
  /** The chunk was compiled with an accepted code cache (then saveCache does nothing). */
  cached: boolean;
  /** Writes the code cache when there was no accepted one; call it once the chunk's functions that every thread runs have run. */
  saveCache(): void;
}

/**
 * Compiles and runs the chunk `name` (a file next to node.cjs); `shared(id)` answers the
 * chunk's `require` of an id the core provides (undefined: Node's own `require`). Throws
 * when the chunk cannot be read or run.
 */
export function compileChunk<Exports>(name: string, shared?: (id: string) => unknown): Chunk<Exports> {
  const vm = require("node:vm") as typeof import("node:vm");
  if (typeof agentDirectory !== "string") throw new Error("the agent's directory is unknown");
  const directory = agentDirectory;
  const filename = directory + (process.platform === "win32" ? "\\" : "/") + name;
  const cacheFile = `${filename}.${process.versions.v8}-${process.arch}.v8cache`;
  let fs: typeof Fs | undefined;
  const files = () => (fs ??= require("node:fs") as typeof Fs);
  const addon = sharedFiles;
  let source: string | undefined;
  let cachedData: Uint8Array | undefined;
  if (addon !== undefined) {
    const text = addon.sharedFile(filename, true);
    if (typeof text === "string") {
      source = text;
      const bytes = addon.sharedFile(cacheFile);
      if (bytes instanceof ArrayBuffer) cachedData = new Uint8Array(bytes);
    }
  }
  if (source === undefined) {
    source = files().readFileSync(filename, "latin1");
    try {
      cachedData = files().readFileSync(cacheFile);
    } catch {
      // None yet: compiled from source, and written by saveCache.
    }
  }
  let script: import("node:vm").Script;
  try {
    script = new vm.Script(source, { filename, cachedData });
  } catch {
    script = new vm.Script(source, { filename });
    cachedData = undefined;
  }
  const cached = cachedData !== undefined && !script.cachedDataRejected;
  const wrapper = script.runInThisContext() as (this: unknown, ...args: unknown[]) => void;
  const chunkModule = { exports: {} as Exports };
  const chunkRequire = (id: string) => {
    const answer = shared?.(id);
    return answer === undefined ? require(id) : answer;
  };
  wrapper.call(chunkModule.exports, chunkModule.exports, chunkRequire, chunkModule, filename, directory);
  return {
    exports: chunkModule.exports,
    cached,
    saveCache() {
      if (cached || (process.versions as { bun?: string }).bun) return;
      const temporary = `${cacheFile}.${process.pid}-${require("node:worker_threads").threadId}.tmp`;
      try {
        const data = script.createCachedData();
        files().writeFileSync(temporary, data, { mode: 0o600 });
        files().renameSync(temporary, cacheFile);
        // Later threads of this process take it from the addon (not read again).
        shareFile(addon, cacheFile, data);
      } catch {
        // A read-only directory, a full disk: no cache, the chunk works the same.
        try {
          files().unlinkSync(temporary);
        } catch {
          // Never written.
        }
      }
    },
  };
}
