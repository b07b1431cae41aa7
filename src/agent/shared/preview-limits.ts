/**
 * The preview walk's default and largest budgets (preview.ts re-exports them). A module of
 * its own so that what only needs the numbers (the Recorder's scratch size) does not pull
 * the walk into the Node agent's core: there the walk is a chunk of its own, loaded at a
 * thread's first preview (src/agent/node/walk.ts).
 */
export const PREVIEW_MAX_CHARS = 96;
/** How many values a default preview walks (the node budget grows with the text budget). */
export const PREVIEW_MAX_NODES = 48;
export const PREVIEW_MAX_DEPTH = 3;
/** The most a caller may ask for (function tracing's `previewDepth` / `previewChars` settings). */
export const PREVIEW_LIMIT_DEPTH = 16;
export const PREVIEW_LIMIT_CHARS = 4096;
/** The bytes a default preview's UTF-8 can take (3 per UTF-16 unit, and an ellipsis), in the sink's scratch. */
export const SCRATCH_PREVIEW_BYTES = 3 * PREVIEW_MAX_CHARS + 8;
