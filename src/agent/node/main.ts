/**
 * Entry of the Node agent, preloaded with `--require` (NODE_OPTIONS) into every Node
 * process of the traced tree and every worker thread. Bundled to one self-contained
 * CommonJS file (dist/agent/node-bundle.cjs, run by the loader dist/agent/node.cjs). It must
 * never change what the program does: when it cannot attach it leaves at most one line on
 * stderr and does nothing else.
 */
import { loadedBundle, saveCodeCache } from "./cache-write";
import { setAgentFiles } from "./chunk-load";
import { setAgentDirectory } from "../shared/child-env";
import { install, useLoadedAddon } from "./install";

// What the loader hands over (code-cache.ts): the wrapper's sixth argument, an array.
declare const __scopeLoaded: unknown;
const loaded = loadedBundle(__scopeLoaded);
if (loaded !== undefined) {
  // The loader's directory: the lazily loaded chunks are there (chunk-load.ts), read through
  // the addon when the loader read the core so.
  setAgentFiles(loaded[0], loaded[2] ? loaded[1] : undefined);
  // Where the agents are, for a child given an env of its own (shared/child-env.ts).
  setAgentDirectory(loaded[0]);
  // The addon the loader opened to read this bundle: not opened again.
  useLoadedAddon(loaded[1]);
}
install();
// The code cache (cache-write.ts). The preview walk is not in it: it is a chunk of its own
// with its own cache, loaded at a thread's first preview (walk-load.ts).
if (loaded !== undefined) saveCodeCache(loaded);
