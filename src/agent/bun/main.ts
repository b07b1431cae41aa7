/**
 * Entry of the Bun agent, preloaded with `--preload` (BUN_OPTIONS) into every bun
 * process of the traced tree; Bun does not preload into workers, so the agent adds
 * itself to each new Worker's `preload` option. Bundled to one file (target bun).
 */
import { install } from "./install";

install();
