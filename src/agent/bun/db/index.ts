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
import { hookDatabaseLibraries } from "../../node/db/loader";

const postgresQueryKey = Symbol.for("scope.db.postgres.query");

export function startBunDatabaseTracing(recorder: Recorder, types: TypeChecks): DbRecorder {
  const db = makeDbRecorder(recorder, (value) => types.isProxy(value));
  hookDatabaseLibraries(db, require("node:module"));
  recorder.safe(() => {
    if (postgresReachable()) hookPostgresModule(db);
  });
  recorder.safe(() => (require("./sqlite") as typeof import("./sqlite")).hookBunSqlite(db));
  return db;
}

/**
 * Whether the program can import postgres.js (resolvable from its entry's directory or the
 * working directory): only then is the plugin registered, so other programs run without
 * one (a few stat calls at start instead).
 */
function postgresReachable(): boolean {
  const { dirname } = require("node:path") as typeof import("node:path");
  const from = [typeof Bun.main === "string" ? dirname(Bun.main) : undefined, process.cwd()];
  for (const dir of from) {
    if (!dir) continue;
    try {
      Bun.resolveSync("postgres", dir);
      return true;
    } catch {
      // Not from here.
    }
  }
  return false;
}

/**
 * postgres.js's ES module src/query.js, as Bun loads it, with one statement appended that
 * hands its `Query` class to the agent (a function kept on the global under a registered
 * symbol, not enumerable); nothing else in the file changes, lines included.
 */
function hookPostgresModule(db: DbRecorder): void {
  Object.defineProperty(globalThis, postgresQueryKey, {
    value: (Query: unknown) => db.recorder.safe(() => (require("../../node/db/postgres") as typeof import("../../node/db/postgres")).hookPostgresQuery(db, Query)),
    configurable: true,
    enumerable: false,
    writable: false,
  });
  Bun.plugin({
    name: "scope-db-postgres",
    setup(build) {
      // Synchronous: an async onLoad makes the module async, and require() refuses those.
      build.onLoad({ filter: /[\\/]node_modules[\\/]postgres[\\/]src[\\/]query\.js$/ }, ({ path }) => {
        const source = (require("node:fs") as typeof import("node:fs")).readFileSync(path, "utf8");
        return {
          contents: `${source}\n;globalThis[Symbol.for("scope.db.postgres.query")]?.(typeof Query === "function" ? Query : undefined);\n`,
          loader: "js",
        };
      });
    },
  });
}
