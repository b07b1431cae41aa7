/**
 * Entry of the Node agent, preloaded with `--require` (NODE_OPTIONS) into every Node
 * process of the traced tree and every worker thread. Bundled to one self-contained
 * CommonJS file (dist/agent/node.cjs). It must never change what the program does:
 * when it cannot attach it leaves at most one line on stderr and does nothing else.
 */
import { warmWalk } from "../shared/preview";
import { onThreadEnd } from "./hooks";
import { install, useLoadedAddon } from "./install";
import { setAgentDirectory } from "./lazy";

declare const module: { exports: Record<string, unknown> };
// The loader's directory (code-cache.ts): the second chunk is there (lazy.ts).
setAgentDirectory(module.exports.agentDirectory);
// The addon the loader opened to read this bundle (code-cache.ts): not opened again.
useLoadedAddon(module.exports.addon);
delete module.exports.addon;
install();

// For the loader (code-cache.ts): called in a main thread just before it makes the V8 code
// cache, so the cache also holds the preview walk compiled (every worker's first message
// runs it; compiling it lazily cost each worker ~1 ms). Not seen by the program: this is the
// preload's own module.
module.exports.warmForCodeCache = () => warmWalk(require("node:util").types);
// For the loader: a worker rewrites the cache once at its end, with what it compiled too.
module.exports.onThreadEnd = onThreadEnd;
