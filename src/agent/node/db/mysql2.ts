/**
 * `mysql2` (MySQL and MariaDB), in Node and Bun: hooked at its prototypes when its own files
 * load (loader.ts), nothing at a thread's start. mysql2 3.x publishes diagnostics channels
 * (`mysql2:query`, ...) but only in recent versions, and a subscriber makes it wrap every
 * callback in `traceCallback` (another frame in the program's stacks, AsyncLocalStorage
 * stores bound): the prototypes are hooked instead, as pg's are.
 *
 * - `BaseConnection.prototype.query` / `execute` (in older versions `Connection.prototype`):
 *   the start, with the text as the program wrote it (placeholders `?`, before mysql2 formats
 *   the values into it client-side), the number of values, and the request. The end is taken
 *   from the callback mysql2 calls when the command is done (the program's, or the one the
 *   promise API and `pool.query` pass): the callback is wrapped (same `this`, arguments and
 *   result) and records the end first: rows (a result set's length, `affectedRows` for a
 *   write, summed over a multi-statement query's results) or the server's error (its `code`,
 *   ER_NO_SUCH_TABLE, and message). A `Query` command handed in whole (`pool.query` does)
 *   has its `onResult` wrapped the same way. A query run without a callback (the event
 *   emitter API, `.stream()`) ends at the command's 'end' event, rows and error unknown.
 * - `BasePool.prototype.getConnection` (also inside `pool.query` / `pool.execute`): the wait
 *   for a connection, with the pool's open and idle counts; its callback records the end.
 *
 * A callback the program passes runs in the request context of the call that passed it
 * (scope's own context only: the program's AsyncLocalStorage sees what it saw untraced):
 * mysql2 calls it from the socket's events, whose context is whoever opened the connection,
 * and a pool hands a connection out from whoever released it.
 */
import { DbSystem } from "../../shared/kinds";
import { dataProperty, wrapMethod, type DbRecorder } from "../../shared/db";
import { runInRequest } from "../../shared/request-context";

type Fn = (...args: unknown[]) => unknown;

const hooked = new WeakSet<object>();

/** Values bound: an array's length, a named-placeholders object's keys, one scalar, none. */
function valuesCount(values: unknown): number {
  if (values === undefined || values === null || typeof values === "function") return 0;
  if (Array.isArray(values)) return values.length;
  if (typeof values === "object") return Object.getPrototypeOf(values) === Object.prototype ? Object.keys(values).length : 1;
  return 1;
}

/**
 * Rows of a result mysql2 handed its callback: a result set (an array of rows) its length, a
 * write's ResultSetHeader its `affectedRows`; a multi-statement query (its `fields` an array
 * holding one entry per statement: an array of columns, or undefined for a write) the sum.
 */
function rowsOf(rows: unknown, fields: unknown): number | undefined {
  if (Array.isArray(rows)) {
    if (Array.isArray(fields) && fields.length > 0 && fields.length === rows.length && (fields[0] === undefined || Array.isArray(fields[0]))) {
      let total: number | undefined;
      for (const one of rows) {
        const count = rowsOfOne(one);
        if (count !== undefined) total = (total ?? 0) + count;
      }
      return total;
    }
    return rows.length;
  }
  return rowsOfOne(rows);
}

function rowsOfOne(result: unknown): number | undefined {
  if (Array.isArray(result)) return result.length;
  const affected = dataProperty(result, "affectedRows");
  return typeof affected === "number" ? affected : undefined;
}

/** The callback mysql2 calls when the command is done, wrapped: the end recorded, then `callback` in the request's context. */
function ending(db: DbRecorder, id: number, request: number, callback: Fn): Fn {
  let ended = false;
  return function (this: unknown, error: unknown, rows: unknown, fields: unknown) {
    if (!ended) {
      ended = true;
      try {
        if (error !== null && error !== undefined) db.queryEnd(id, undefined, error, true);
        else db.queryEnd(id, rowsOf(rows, fields));
      } catch (failure) {
        db.recorder.fail(failure);
      }
    }
    return request !== 0 ? runInRequest(request, callback, this, arguments) : Reflect.apply(callback, this, arguments);
  };
}

/** A command run without a callback: its end at 'end' (rows and error not known). */
function endAtEvent(db: DbRecorder, id: number, command: unknown): void {
  const once = dataProperty(command, "once");
  if (typeof once !== "function") return db.queryEnd(id, undefined);
  Reflect.apply(once, command, ["end", () => db.queryEnd(id, undefined)]);
}

/** Connection.prototype (mysql2/lib/base/connection, or mysql2/lib/connection in older versions): query and execute. */
export function hookMysql2Connection(db: DbRecorder, Connection: unknown): void {
  const proto = (Connection as { prototype?: object } | undefined)?.prototype;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  for (const method of ["query", "execute"] as const) {
    wrapMethod(proto, method, (original) =>
      function (this: unknown) {
        const args = Array.prototype.slice.call(arguments) as unknown[];
        let id = 0;
        let hasCallback = false;
        try {
          id = started(db, args, configConnection(db, (this as { config?: unknown } | null | undefined)?.config));
          hasCallback = startedWithCallback;
        } catch (error) {
          db.recorder.fail(error);
        }
        let result: unknown;
        try {
          result = Reflect.apply(original, this, args);
        } catch (error) {
          // Refused before it was sent (execute's undefined values): ended where it failed.
          db.queryEnd(id, undefined, error, true);
          throw error;
        }
        if (id !== 0 && !hasCallback) {
          try {
            endAtEvent(db, id, result);
          } catch (error) {
            db.recorder.fail(error);
          }
        }
        return result;
      },
    );
  }
}

/**
 * A connection's ConnectionConfig (its `config`; a pool's connections share the pool's
 * `config.connectionConfig`) → the `system` its queries are recorded with: DbSystem.mysql2 and
 * its db_connection (database, host or socket path, port, user: db.ts `connection`). The last
 * config asked is compared first (most programs have one), then a WeakMap. `config` is read
 * directly (a data field mysql2's constructor makes): no descriptor per query.
 */
const configs = new WeakMap<object, number>();
let lastConfig: object | undefined;
let lastSystem: number = DbSystem.mysql2;

function configConnection(db: DbRecorder, config: unknown): number {
  if (config === lastConfig) return lastSystem;
  if (typeof config !== "object" || config === null || db.isProxy(config)) return DbSystem.mysql2;
  let system = configs.get(config);
  if (system === undefined) {
    const socket = dataProperty(config, "socketPath");
    const local = typeof socket === "string" && socket !== "";
    system = db.connection(DbSystem.mysql2, dataProperty(config, "database"), local ? socket : dataProperty(config, "host"), local ? 0 : dataProperty(config, "port"), dataProperty(config, "user"));
    configs.set(config, system);
  }
  lastConfig = config;
  lastSystem = system;
  return system;
}

/** Whether the last start found a callback to record its end (no object returned per query). */
let startedWithCallback = false;

/** A query's or execute's start (its id); its callback (in `args`, or a Query command's onResult) replaced by one that records the end. */
function started(db: DbRecorder, args: unknown[], system: number): number {
  startedWithCallback = false;
  const [sql, values] = args;
  const request = db.request();
  let text: unknown;
  let params: number;
  // A Query command handed in whole (pool.query): its text, values and onResult.
  const command = sql !== null && typeof sql === "object" && Object.prototype.hasOwnProperty.call(sql, "onResult") && dataProperty(sql, "next") !== undefined;
  if (typeof sql === "string") {
    text = sql;
    params = valuesCount(values);
  } else {
    text = dataProperty(sql, "sql");
    const own = dataProperty(sql, "values");
    params = own !== undefined ? valuesCount(own) : valuesCount(values);
  }
  // MySQL's lexical rules for its text (backslash escapes, "strings", # comments: sql.ts).
  const id = db.queryStartWith(system, db.mysqlText(text), params, request);
  if (command) {
    const onResult = dataProperty(sql, "onResult");
    if (typeof onResult === "function") {
      (sql as { onResult: Fn }).onResult = ending(db, id, request, onResult as Fn);
      startedWithCallback = true;
    }
    return id;
  }
  const at = typeof values === "function" ? 1 : typeof args[2] === "function" ? 2 : -1;
  if (at < 0) return id;
  args[at] = ending(db, id, request, args[at] as Fn);
  startedWithCallback = true;
  return id;
}

/** Pool.prototype (mysql2/lib/base/pool, or mysql2/lib/pool in older versions): getConnection. */
export function hookMysql2Pool(db: DbRecorder, Pool: unknown): void {
  const proto = (Pool as { prototype?: object } | undefined)?.prototype;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  wrapMethod(proto, "getConnection", (original) =>
    function getConnection(this: Record<string, unknown>, callback: unknown) {
      if (typeof callback !== "function") return Reflect.apply(original, this, arguments);
      let wrapped = callback as Fn;
      try {
        const request = db.request();
        const system = configConnection(db, dataProperty(dataProperty(this, "config"), "connectionConfig"));
        const id = db.waitStart(system, countOf(this._allConnections), countOf(this._freeConnections), request);
        let ended = false;
        wrapped = function (this: unknown, error: unknown) {
          if (!ended) {
            ended = true;
            db.waitEnd(id, error, error !== null && error !== undefined);
          }
          return request !== 0 ? runInRequest(request, callback as Fn, this, arguments) : Reflect.apply(callback as Fn, this, arguments);
        };
      } catch (error) {
        db.recorder.fail(error);
      }
      const args = Array.prototype.slice.call(arguments) as unknown[];
      args[0] = wrapped;
      return Reflect.apply(original, this, args);
    },
  );
}

/** A pool's connection list (mysql2's ring queue, or an array in older versions): its length. */
function countOf(list: unknown): number {
  if (Array.isArray(list)) return list.length;
  const length = list !== null && typeof list === "object" ? (list as { length?: unknown }).length : undefined;
  return typeof length === "number" ? length : 0;
}
