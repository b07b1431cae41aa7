/**
 * Sequelize 6's pool waits (its own pool, the sequelize-pool package): every query and
 * transaction asks `this.pool.acquire()` in the connection manager's `getConnection`, after
 * awaiting the program's beforePoolAcquire hooks, so the ask knows no driver. The connection
 * manager's `initPools` (sequelize/lib/dialects/abstract/connection-manager.js, run by its
 * constructor) files each Pool it made (one; a replicated setup's `read` and `write`) with
 * the dialect's DbSystem (postgres: pg, mysql: mysql2; the other dialects' drivers record no
 * queries: no waits) and its database, host, port and user (db.ts `connection`).
 * sequelize-pool's `Pool.prototype.acquire` (lib/Pool.js) of a filed pool records the wait
 * with the pool's connections at the ask (open: its count, idle: its available ones) in the
 * asking request, and marks it for the Deferred the call makes: `Deferred.prototype.registerTimeout`
 * (lib/Deferred.js, which acquire calls on the new Deferred before anything settles it) puts
 * recording ends in front of that Deferred's own `_resolve`/`_reject` (closures it keeps,
 * called when the pool hands a connection over, the acquire times out or the pool is drained):
 * no promise or tick added. A pool sequelize-pool serves outside Sequelize is left alone.
 */
import { createRequire } from "node:module";
import { DbSystem } from "../../shared/kinds";
import { dataProperty, wrapMethod, type DbRecorder } from "../../shared/db";
import { endWaitOnSettle, lengthOf } from "./deferred-wait";


const hooked = new WeakSet<object>();
/** A filed pool → the `system` value its waits are recorded with. */
const pools = new WeakMap<object, number>();
const systems: Record<string, { system: number; port: number }> = { postgres: { system: DbSystem.pg, port: 5432 }, mysql: { system: DbSystem.mysql2, port: 3306 } };

/** The wait an acquire of a filed pool started, for the Deferred it makes (0: none). */
let asking = 0;

/** sequelize/lib/dialects/abstract/connection-manager.js: its class's `initPools` files the pools it makes. */
export function hookSequelizeConnectionManager(db: DbRecorder, ConnectionManager: unknown): void {
  const proto = (ConnectionManager as { prototype?: object } | null | undefined)?.prototype;
  if (proto === null || typeof proto !== "object" || hooked.has(proto)) return;
  hooked.add(proto);
  wrapMethod(proto, "initPools", (original) =>
    function initPools(this: Record<string, unknown>) {
      const result = Reflect.apply(original, this, arguments);
      try {
        filePools(db, this);
      } catch (error) {
        db.recorder.fail(error);
      }
      return result;
    },
  );
}

function filePools(db: DbRecorder, manager: Record<string, unknown>): void {
  const dialect = systems[String(manager.dialectName)];
  const pool = manager.pool;
  const config = manager.config;
  if (dialect === undefined || pool === null || typeof pool !== "object" || config === null || typeof config !== "object") return;
  const named = (of: unknown) => {
    if (of === null || typeof of !== "object") return dialect.system;
    return db.connection(dialect.system, dataProperty(of, "database"), dataProperty(of, "host") ?? "localhost", dataProperty(of, "port") ?? dialect.port, dataProperty(of, "username"));
  };
  const read = dataProperty(pool, "read");
  const write = dataProperty(pool, "write");
  if (read === undefined && write === undefined) {
    pools.set(pool, named(config));
    return;
  }
  // Replication: the write pool's server; the read pool's when it has one (else its database alone).
  const replication = dataProperty(config, "replication") as Record<string, unknown> | undefined;
  const reads = replication !== null && typeof replication === "object" ? dataProperty(replication, "read") : undefined;
  if (write !== null && typeof write === "object") pools.set(write, named(replication !== null && typeof replication === "object" ? dataProperty(replication, "write") : config));
  if (read !== null && typeof read === "object") {
    const one = Array.isArray(reads) && reads.length === 1 ? reads[0] : undefined;
    pools.set(read, one !== undefined ? named(one) : db.connection(dialect.system, dataProperty(config, "database"), undefined, undefined, dataProperty(config, "username")));
  }
}

/** sequelize-pool's lib/Pool.js (at `filename`): Pool.prototype.acquire, and its Deferred's registerTimeout. */
export function hookSequelizePool(db: DbRecorder, filename: string, exports: unknown): void {
  const proto = (exports as { Pool?: { prototype?: Record<string, unknown> } } | null)?.Pool?.prototype;
  if (proto === null || typeof proto !== "object" || typeof proto.acquire !== "function" || hooked.has(proto)) return;
  // Pool.js's own Deferred, as its `require("./Deferred")` found it (loaded already: nothing runs).
  const deferred = (createRequire(filename)("./Deferred") as { Deferred?: { prototype?: Record<string, unknown> } } | null)?.Deferred?.prototype;
  if (deferred === null || typeof deferred !== "object" || typeof deferred.registerTimeout !== "function") return;
  hooked.add(proto);
  wrapMethod(proto, "acquire", (original) =>
    function acquire(this: Record<string, unknown>) {
      const system = pools.get(this);
      if (system === undefined) return Reflect.apply(original, this, arguments);
      let id = 0;
      try {
        id = db.waitStart(system, typeof this._count === "number" ? this._count : 0, lengthOf(this._availableObjects), db.request());
      } catch (error) {
        db.recorder.fail(error);
      }
      const outer = asking;
      asking = id;
      try {
        return Reflect.apply(original, this, arguments);
      } finally {
        asking = outer;
      }
    },
  );
  wrapMethod(deferred, "registerTimeout", (original) =>
    function registerTimeout(this: Record<string, unknown>) {
      const id = asking;
      if (id !== 0) {
        asking = 0;
        try {
          endWith(db, id, this);
        } catch (error) {
          db.recorder.fail(error);
        }
      }
      return Reflect.apply(original, this, arguments);
    },
  );
}

/** Ends the wait when the pool settles the Deferred (a connection handed over, a timeout, a drain). */
function endWith(db: DbRecorder, id: number, deferred: Record<string, unknown>): void {
  if (!endWaitOnSettle(db, id, deferred, "_resolve", "_reject")) db.waitEnd(id);
}
