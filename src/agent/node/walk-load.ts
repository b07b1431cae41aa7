/**
 * The preview walk of the Node agent's Recorder, loaded at a thread's first preview (a
 * message's send, a fatal error's message) from its own chunk, dist/agent/node-walk.cjs
 * (chunks.ts, chunk-load.ts), not compiled and run by every thread at its start: a worker
 * thread that only receives (BENCHMARKS.md "Twelfth look") never loads it. The first thread
 * that loads it without an accepted code cache walks a sample value first (`warmWalk`), so
 * the cache it then writes holds the walk compiled, as the core's did before.
 */
import type { TypeChecks } from "../shared/preview";
import type { PreviewWalk } from "../shared/recorder";
import { compileChunk } from "./chunk-load";
import { WALK_FILE } from "./chunks";
import { mapProofsOf } from "../shared/sink";
import { sharedModule } from "./lazy";
import type * as WalkModule from "./walk";

/**
 * Compiles and runs the chunk; throws when it cannot (the Recorder counts one agent error and
 * records without previews). `addon` (scope.node) gives the shape writers their map proofs
 * (preview.ts "Map proofs"), asked for when the thread compiles its first writer; with
 * `commits` (the Recorder's sink is that addon) a send may also be committed by it (commitHeld).
 */
export function loadWalk(addon?: object, commits = false): PreviewWalk {
  // redact.ts: the core's rules (chunks.ts EXTRAS_SHARED).
  const chunk = compileChunk<typeof WalkModule>(WALK_FILE, sharedModule);
  const walk = chunk.exports;
  if (!chunk.cached) {
    try {
      walk.warmWalk(require("node:util").types as TypeChecks);
    } catch {
      // Only a colder cache.
    }
    chunk.saveCache();
  }
  if (addon !== undefined) {
    walk.useMapProofs(() => mapProofsOf(addon), commits);
  }
  // A plain object of the three (the bundled entry's exports are accessors: one call per use on every send).
  return walk.previewWalk;
}
