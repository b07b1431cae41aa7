/**
 * Database tracing in a Bun thread. pg's and the other clients' CommonJS files are handed to
 * the Node integrations (src/agent/node/db/loader.ts databaseFiles) as they load, by the
 * agent's `require` hook (../library-files.ts, install.ts), not by a `Module._extensions`
 * wrapper (Bun then runs every CommonJS file through a path whose frames show). Bun
 * resolves `postgres` to its ES module build (the "bun" export condition), which no
 * CommonJS step sees: the agent's plugin of ES builds (src/agent/bun/esm-plugin.ts) hands its
 * `Query` class to the same integration (bunPostgres). bun:sqlite: sqlite.ts. Bun's own
 * SQL and Redis clients (Bun.sql, Bun.SQL, Bun.redis, Bun.RedisClient): stand-ins on `Bun`
 * (stand-in.ts) hook them at the program's first touch (bun-sql.ts, bun-redis.ts).
 */
import { makeDbRecorder, type DbRecorder } from "../../shared/db";
import type { TypeChecks } from "../../shared/preview";
import type { Recorder } from "../../shared/recorder";
import { standIn, standsFor } from "./stand-in";
import { withoutSqlEnvironment } from "./sql-environment";

export function startBunDatabaseTracing(recorder: Recorder, types: TypeChecks): DbRecorder {
  const db = makeDbRecorder(recorder, (value) => types.isProxy(value));
  recorder.safe(() => (require("./sqlite") as typeof import("./sqlite")).hookBunSqlite(db));
  recorder.safe(() => standInBunSql(db));
  recorder.safe(() => standInBunRedis(db));
  return db;
}

type BunClients = { sql: unknown; SQL: unknown; postgres: unknown; redis: unknown; RedisClient: unknown };

/**
 * `Bun.sql` and `Bun.SQL` become stand-ins (nothing of Bun's SQL is made at start: reading
 * Bun.SQL loads its JavaScript, ~5–9 ms). At the first touch of either, the real ones come
 * from `Bun.postgres` (the same object as Bun.sql, made by its own lazy property, left as
 * Bun has it: the one way to Bun's that the stand-ins do not close) and its `constructor`,
 * the library is hooked. The stand-ins stay on `Bun` (forwarding): a program that kept one
 * (`import { sql } from "bun"`) finds `Bun.sql === sql` as untraced.
 */
function standInBunSql(db: DbRecorder): void {
  const bun = Bun as unknown as BunClients;
  let sql: object | undefined;
  let SQL: object | undefined;
  let failure: { error: unknown } | undefined;
  const load = (): void => {
    if (SQL !== undefined || failure !== undefined) return;
    try {
      sql = bun.postgres as object;
      SQL = (sql as { constructor: object }).constructor;
    } catch (error) {
      // The default client's options (DATABASE_URL and the like) are refused: reading Bun.sql
      // throws this, which the sql stand-in throws at each touch; Bun.SQL is still Bun's.
      failure = { error };
      try {
        SQL = withoutSqlEnvironment(() => (bun.postgres as { constructor: object }).constructor);
      } catch (again) {
        db.recorder.fail(again);
      }
    }
    if (SQL === undefined) return;
    standsFor(classStandIn, SQL);
    db.recorder.safe(() => (require("./bun-sql") as typeof import("./bun-sql")).hookBunSql(db, SQL));
  };
  bun.sql = standIn(function () {}.bind(null), () => {
    load();
    if (failure !== undefined) throw failure.error;
    return sql!;
  });
  const classStandIn = standIn(function SQL() {}, () => {
    load();
    // No way to Bun's class (Bun refused its default client even without the environment's
    // defaults): the stand-in throws what Bun threw.
    if (SQL === undefined) throw failure?.error;
    return SQL;
  });
  bun.SQL = classStandIn;
}

/**
 * `Bun.redis` and `Bun.RedisClient` become stand-ins. Bun's class is read here (+0.35 ms CPU a Bun worker: no
 * other way leads to it once both are replaced), its 200 methods wrapped at the first touch
 * of either stand-in; `Bun.redis`'s real client is then made as Bun makes it, `new
 * RedisClient()` (REDIS_URL, VALKEY_URL, else localhost). The stand-ins stay, forwarding.
 */
function standInBunRedis(db: DbRecorder): void {
  const bun = Bun as unknown as BunClients;
  const RedisClient = bun.RedisClient as new () => object;
  let client: object | undefined;
  let done = false;
  const hook = (): void => {
    if (done) return;
    done = true;
    db.recorder.safe(() => (require("./bun-redis") as typeof import("./bun-redis")).hookBunRedis(db, RedisClient));
  };
  const classStandIn = standIn(function RedisClient() {}, () => {
    hook();
    return RedisClient;
  });
  standsFor(classStandIn, RedisClient);
  bun.RedisClient = classStandIn;
  bun.redis = standIn(
    {},
    () => {
      hook();
      client ??= new RedisClient();
      return client;
    },
    true,
  );
}

/** postgres.js's `Query` class from its ES build (esm-plugin.ts). */
export function bunPostgres(db: DbRecorder, bindings: Record<string, unknown>): void {
  (require("../../node/db/postgres") as typeof import("../../node/db/postgres")).hookPostgresEsm(db, bindings);
}
