/**
 * The Node agent's preview-walk chunk (dist/agent/node-walk.cjs): src/agent/shared/preview.ts,
 * loaded by a thread at its first preview (src/agent/node/walk-load.ts), not at its start. A
 * worker that never sends (or never fails fatally) never compiles or runs it.
 */
export { previewWalk, useMapProofs, warmWalk } from "../shared/preview";
