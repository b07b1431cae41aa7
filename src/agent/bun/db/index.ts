/**
 * Database tracing in a Bun thread. pg's and the other clients' CommonJS files are handed to
 * the Node integrations (src/agent/node/db/loader.ts databaseFiles) as they load, by the
 * agent's `require` hook (../library-files.ts, install.ts), not by a `Module._extensions`
 * wrapper (Bun then runs every CommonJS file through a path whose frames show). Bun
 * resolves `postgres` to its ES module build (the "bun" export condition), which no
 * CommonJS step sees: the agent's plugin of ES builds (src/agent/bun/esm-plugin.ts) hands its
 * `Query` class to the same integration (bunPostgresQuery). bun:sqlite: sqlite.ts.
 */
import { makeDbRecorder, type DbRecorder } from "../../shared/db";
import type { TypeChecks } from "../../shared/preview";
import type { Recorder } from "../../shared/recorder";

export function startBunDatabaseTracing(recorder: Recorder, types: TypeChecks): DbRecorder {
  const db = makeDbRecorder(recorder, (value) => types.isProxy(value));
  recorder.safe(() => (require("./sqlite") as typeof import("./sqlite")).hookBunSqlite(db));
  return db;
}

/** postgres.js's `Query` class from its ES build (esm-plugin.ts). */
export function bunPostgresQuery(db: DbRecorder, Query: unknown): void {
  (require("../../node/db/postgres") as typeof import("../../node/db/postgres")).hookPostgresQuery(db, Query);
}
