/**
 * Database tracing in a Bun thread. pg (CommonJS) loads through `Module._extensions[".js"]`
 * in Bun too: the Node integrations' loader (src/agent/node/db/loader.ts) hooks it. Bun
 * resolves `postgres` to its ES module build (the "bun" export condition), which no
 * CommonJS step sees: a runtime plugin (Bun.plugin, onLoad for postgres.js's src/query.js
 * only) hands its `Query` class to the same integration. bun:sqlite: sqlite.ts.
 */
import { makeDbRecorder, type DbRecorder } from "../../shared/db";
import type { TypeChecks } from "../../shared/preview";
import type { Recorder } from "../../shared/recorder";
import { POSTGRES_QUERY_STATEMENT, postgresQueryFile, postgresReachable, setPostgresQueryHandler } from "../../shared/postgres-esm";
import { hookDatabaseLibraries } from "../../node/db/loader";

export function startBunDatabaseTracing(recorder: Recorder, types: TypeChecks): DbRecorder {
  const db = makeDbRecorder(recorder, (value) => types.isProxy(value));
  hookDatabaseLibraries(db, require("node:module"));
  recorder.safe(() => {
    const { dirname } = require("node:path") as typeof import("node:path");
    if (postgresReachable([typeof Bun.main === "string" ? dirname(Bun.main) : undefined, process.cwd()])) hookPostgresModule(db);
  });
  recorder.safe(() => (require("./sqlite") as typeof import("./sqlite")).hookBunSqlite(db));
  return db;
}

/**
 * postgres.js's ES module src/query.js, as Bun loads it, with one statement appended that
 * hands its `Query` class to the agent (src/agent/shared/postgres-esm.ts, shared with Node);
 * nothing else in the file changes, lines included. Registered only when the program can
 * import postgres.js (postgresReachable).
 */
function hookPostgresModule(db: DbRecorder): void {
  setPostgresQueryHandler((Query) => db.recorder.safe(() => (require("../../node/db/postgres") as typeof import("../../node/db/postgres")).hookPostgresQuery(db, Query)));
  Bun.plugin({
    name: "scope-db-postgres",
    setup(build) {
      // Synchronous: an async onLoad makes the module async, and require() refuses those.
      build.onLoad({ filter: postgresQueryFile() }, ({ path }) => {
        const source = (require("node:fs") as typeof import("node:fs")).readFileSync(path, "utf8");
        return {
          contents: source + POSTGRES_QUERY_STATEMENT,
          loader: "js",
        };
      });
    },
  });
}
