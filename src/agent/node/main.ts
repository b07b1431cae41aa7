/**
 * Entry of the Node agent, preloaded with `--require` (NODE_OPTIONS) into every Node
 * process of the traced tree and every worker thread. Bundled to one self-contained
 * CommonJS file (dist/agent/node-bundle.cjs, run by the loader dist/agent/node.cjs). It must
 * never change what the program does: when it cannot attach it leaves at most one line on
 * stderr and does nothing else.
 */
import { warmWalk } from "../shared/preview";
import { loadedBundle, saveCodeCache } from "./cache-write";
import { install, useLoadedAddon } from "./install";
import { setAgentDirectory } from "./lazy";

declare const module: { exports: Record<string, unknown> };
// What the loader hands over (code-cache.ts): taken off the preload's exports at once.
const loaded = loadedBundle(module.exports.loaded);
delete module.exports.loaded;
if (loaded !== undefined) {
  // The loader's directory: the second chunk is there (lazy.ts).
  setAgentDirectory(loaded.directory);
  // The addon the loader opened to read this bundle: not opened again.
  useLoadedAddon(loaded.addon);
}
install();
// The code cache (cache-write.ts). `warm` runs in a main thread just before it makes the
// cache, so the cache also holds the preview walk compiled (every worker's first message
// runs it; compiling it lazily cost each worker ~1 ms).
if (loaded !== undefined) saveCodeCache(loaded, () => warmWalk(require("node:util").types));
