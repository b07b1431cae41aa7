/**
 * Entry of the Node agent, preloaded with `--require` (NODE_OPTIONS) into every Node
 * process of the traced tree and every worker thread. Bundled to one self-contained
 * CommonJS file (dist/agent/node.cjs). It must never change what the program does:
 * when it cannot attach it leaves at most one line on stderr and does nothing else.
 */
import { install } from "./install";

install();
