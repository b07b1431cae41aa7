/**
 * knex's pool waits (knex 3, lib/client.js; its pool is tarn's): every connection a query or a
 * transaction takes is asked for in `Client.prototype.acquireConnection`, whose synchronous
 * part calls `this.pool.acquire()` (tarn's Pool) before its first await. Its wrapper marks
 * the knex client's DbSystem for that synchronous part; tarn's `Pool.prototype.acquire`
 * (hooked at a client's first ask, from the pool's prototype: knex requires tarn itself)
 * records the wait with the pool's connections at the ask (used + free + being created, free) and puts
 * recording ends in front of the pending operation's `deferred` resolve/reject, which tarn
 * calls when it hands a connection over, and on a timeout or abort (its own closures, never
 * the program's: no promise or tick added). The queries themselves are the driver's (pg,
 * mysql2, better-sqlite3). Drivers scope does not record (sqlite3, mysql, tedious, oracledb)
 * get no waits. A pool tarn used outside knex is left alone (no system marked).
 */
import { DbSystem } from "../../shared/kinds";
import { wrapMethod, type DbRecorder } from "../../shared/db";
import { endWaitOnSettle, lengthOf } from "./deferred-wait";


const hooked = new WeakSet<object>();
const systems: Record<string, number> = { pg: DbSystem.pg, mysql2: DbSystem.mysql2, "better-sqlite3": DbSystem.betterSqlite3 };

/** The knex client's DbSystem while its acquireConnection's synchronous part runs (0: none). */
let asking = 0;

export function hookKnexClient(db: DbRecorder, Client: unknown): void {
  const proto = (Client as { prototype?: object } | undefined)?.prototype;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  wrapMethod(proto, "acquireConnection", (original) =>
    function acquireConnection(this: Record<string, unknown>) {
      const system = systems[String(this.driverName)] ?? 0;
      const pool = this.pool as object | null | undefined;
      if (system === 0 || pool === null || typeof pool !== "object") return Reflect.apply(original, this, arguments);
      db.recorder.safe(() => hookTarnPool(db, Object.getPrototypeOf(pool)));
      const outer = asking;
      asking = system;
      try {
        return Reflect.apply(original, this, arguments);
      } finally {
        asking = outer;
      }
    },
  );
}

/** tarn's Pool.prototype, up the chain from the pool's class (knex 3.3's KnexPool extends it); not an adapter of a driver's own pool (`connectionPool`: pg-pool's waits are pg's). */
function hookTarnPool(db: DbRecorder, start: unknown): void {
  let proto = start;
  while (proto !== null && typeof proto === "object" && !Object.prototype.hasOwnProperty.call(proto, "acquire")) proto = Object.getPrototypeOf(proto);
  if (proto === null || typeof proto !== "object" || hooked.has(proto)) return;
  const tarn = proto as { acquire?: unknown; _tryAcquireOrCreate?: unknown; numFree?: unknown };
  if (typeof tarn.acquire !== "function" || typeof tarn._tryAcquireOrCreate !== "function" || typeof tarn.numFree !== "function") return;
  hooked.add(proto);
  wrapMethod(proto, "acquire", (original) =>
    function acquire(this: Record<string, unknown>) {
      const system = asking;
      asking = 0;
      if (system === 0) return Reflect.apply(original, this, arguments);
      let id = 0;
      try {
        id = db.waitStart(system, lengthOf(this.used) + lengthOf(this.free) + lengthOf(this.pendingCreates), lengthOf(this.free), db.request());
      } catch (error) {
        db.recorder.fail(error);
      }
      const operation = Reflect.apply(original, this, arguments);
      if (id !== 0) db.recorder.safe(() => endWith(db, id, operation));
      return operation;
    },
  );
}

/** Ends the wait when tarn settles the operation's deferred (handed a connection, timed out, aborted). */
function endWith(db: DbRecorder, id: number, operation: unknown): void {
  const deferred = (operation as { deferred?: Record<string, unknown> } | null)?.deferred;
  if (deferred !== null && typeof deferred === "object") endWaitOnSettle(db, id, deferred, "resolve", "reject");
}
