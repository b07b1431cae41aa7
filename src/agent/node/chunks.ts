/**
 * The Node agent in chunks (ARCHITECTURE.md "Worker start: the second chunk"): the core,
 * node-bundle.cjs, which every thread compiles at start (ring, thread and process records,
 * message hooks), node-extras.cjs, loaded by a thread only when it first needs HTTP,
 * a framework or a database (src/agent/node/lazy.ts), and node-walk.cjs, the preview walk,
 * loaded at a thread's first preview (a message's send: src/agent/node/walk-load.ts).
 * Read by the build (src/core/assets.ts) and by the core; constants only.
 */

/** The second chunk's file, next to node.cjs, and its entry. */
export const EXTRAS_FILE = "node-extras.cjs";
export const EXTRAS_ENTRY = "src/agent/node/extras.ts";

/**
 * Modules with state that the core and the lazily loaded chunks use: the chunks' builds
 * leave them out and take the core's own instances (one request context, one loop monitor,
 * the redaction rules the core read from SCOPE_REDACT at the thread's start, not again when a
 * chunk loads: a program may have changed its environment by then; the thread's WebSocket
 * channels, whose sub-id counters undici's client in the core and `ws` in the chunk share), asking for them by these
 * ids (repository paths behind EXTRAS_SHARED_PREFIX). The other modules they use hold
 * constants and pure functions: each chunk has its own copy.
 */
export const EXTRAS_SHARED_PREFIX = "scope-core:";
export const EXTRAS_SHARED = ["src/agent/shared/request-context.ts", "src/agent/shared/loop.ts", "src/agent/shared/redact.ts", "src/agent/shared/websocket.ts"] as const;

/** The preview walk's chunk, next to node.cjs, and its entry (it takes redact.ts from the core: EXTRAS_SHARED). */
export const WALK_FILE = "node-walk.cjs";
export const WALK_ENTRY = "src/agent/node/walk.ts";
