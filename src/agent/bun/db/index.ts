/**
 * Database tracing in a Bun thread. pg (CommonJS) loads through `Module._extensions[".js"]`
 * in Bun too: the Node integrations' loader (src/agent/node/db/loader.ts) hooks it. Bun
 * resolves `postgres` to its ES module build (the "bun" export condition), which no
 * CommonJS step sees: the agent's plugin of ES builds (src/agent/bun/esm-plugin.ts) hands its
 * `Query` class to the same integration (bunPostgresQuery). bun:sqlite: sqlite.ts.
 */
import { makeDbRecorder, type DbRecorder } from "../../shared/db";
import type { TypeChecks } from "../../shared/preview";
import type { Recorder } from "../../shared/recorder";
import { hookDatabaseLibraries } from "../../node/db/loader";

export function startBunDatabaseTracing(recorder: Recorder, types: TypeChecks): DbRecorder {
  const db = makeDbRecorder(recorder, (value) => types.isProxy(value));
  hookDatabaseLibraries(db, require("node:module"));
  recorder.safe(() => (require("./sqlite") as typeof import("./sqlite")).hookBunSqlite(db));
  return db;
}

/** postgres.js's `Query` class from its ES build (esm-plugin.ts). */
export function bunPostgresQuery(db: DbRecorder, Query: unknown): void {
  (require("../../node/db/postgres") as typeof import("../../node/db/postgres")).hookPostgresQuery(db, Query);
}
