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
          const config = (this as { config?: unknown } | null | undefined)?.config;
          // A connection that ran `USE other` (none in most programs: one test a query).
          const system = used === undefined ? configConnection(db, config) : (used.get(this as object) ?? configConnection(db, config));
          id = started(db, args, system);
          hasCallback = startedWithCallback;
          if (startedText !== undefined && typeof this === "object" && this !== null) followUse(db, this, config, system, args);
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
  // changeUser: the server starts the connection over on the database it names (or the config's), so a `USE` before it no longer holds; mysql2 writes the new database and user into the config, which configConnection compares.
  wrapMethod(proto, "changeUser", (original) =>
    function changeUser(this: unknown) {
      if (used !== undefined && typeof this === "object" && this !== null) used.delete(this);
      return Reflect.apply(original, this, arguments);
    },
  );
}

/** Connections that ran `USE db` → the value their queries are recorded with (made at the first USE). */
let used: WeakMap<object, number> | undefined;

/** A `USE db` statement's database (backquoted or plain), else undefined: a first-letter test before the pattern. */
function usedDatabase(text: string): string | undefined {
  let at = 0;
  while (at < text.length && text.charCodeAt(at) <= 32) at++;
  if ((text.charCodeAt(at) | 32) !== 117) return undefined;
  const match = /^\s*use\s+(?:`((?:[^`]|``)+)`|([\w$]+))\s*;?\s*$/i.exec(text);
  if (match === null) return undefined;
  return match[1] !== undefined ? match[1].replaceAll("``", "`") : match[2];
}

/**
 * `USE other` on a connection: the queries it runs after (mysql2 runs them in order) are on
 * `other` (the server's, not the config's); back to what it was if the server refuses it.
 */
function followUse(db: DbRecorder, connection: object, config: unknown, before: number, args: unknown[]): void {
  const database = usedDatabase(startedText!);
  if (database === undefined || typeof config !== "object" || config === null || db.isProxy(config)) return;
  const socket = dataProperty(config, "socketPath");
  const local = typeof socket === "string" && socket !== "";
  const after = db.connection(DbSystem.mysql2, database, local ? socket : dataProperty(config, "host"), local ? 0 : dataProperty(config, "port"), dataProperty(config, "user"));
  used ??= new WeakMap<object, number>();
  used.set(connection, after);
  // The callback started() put in (the program's, or a Query command's onResult).
  const revert = (error: unknown) => {
    if (error !== null && error !== undefined && used!.get(connection) === after) used!.set(connection, before);
  };
  const [sql] = args;
  if (sql !== null && typeof sql === "object" && typeof (sql as { onResult?: unknown }).onResult === "function") {
    const onResult = (sql as { onResult: Fn }).onResult;
    (sql as { onResult: Fn }).onResult = function (this: unknown, error: unknown) {
      revert(error);
      return Reflect.apply(onResult, this, arguments);
    };
    return;
  }
  const at = typeof args[1] === "function" ? 1 : typeof args[2] === "function" ? 2 : -1;
  if (at < 0) return;
  const callback = args[at] as Fn;
  args[at] = function (this: unknown, error: unknown) {
    revert(error);
    return Reflect.apply(callback, this, arguments);
  };
}

/**
 * A connection's ConnectionConfig (its `config`; a pool's connections share the pool's
 * `config.connectionConfig`) → the `system` its queries are recorded with: DbSystem.mysql2 and
 * its db_connection (database, host or socket path, port, user: db.ts `connection`). The last
 * config asked is compared first (most programs have one), then a WeakMap. `config` is read
 * directly (a data field mysql2's constructor makes): no descriptor per query.
 */
interface ConfigTarget {
  system: number;
  database: unknown;
  user: unknown;
}
const configs = new WeakMap<object, ConfigTarget>();
// An object no connection has, so an undefined config never takes the fast path (whose loads need an object).
let lastConfig: object = {};
let lastTarget: ConfigTarget = { system: DbSystem.mysql2, database: undefined, user: undefined };

function configConnection(db: DbRecorder, config: unknown): number {
  // changeUser writes its database and user into the config (a pool's connections share one): compared too.
  if (config === lastConfig && (config as ConfigRecord).database === lastTarget.database && (config as ConfigRecord).user === lastTarget.user) return lastTarget.system;
  if (typeof config !== "object" || config === null || db.isProxy(config)) return DbSystem.mysql2;
  const database = dataProperty(config, "database");
  const user = dataProperty(config, "user");
  let target = configs.get(config);
  if (target === undefined || target.database !== database || target.user !== user) {
    const socket = dataProperty(config, "socketPath");
    const local = typeof socket === "string" && socket !== "";
    target = { system: db.connection(DbSystem.mysql2, database, local ? socket : dataProperty(config, "host"), local ? 0 : dataProperty(config, "port"), user), database, user };
    configs.set(config, target);
  }
  lastConfig = config;
  lastTarget = target;
  return target.system;
}

type ConfigRecord = { database?: unknown; user?: unknown };

/** Whether the last start found a callback to record its end (no object returned per query). */
let startedWithCallback = false;
/** The last start's text when it may be a `USE` (its first letter u, or a space), else undefined. */
let startedText: string | undefined;

/** A query's or execute's start (its id); its callback (in `args`, or a Query command's onResult) replaced by one that records the end. */
function started(db: DbRecorder, args: unknown[], system: number): number {
  startedWithCallback = false;
  startedText = undefined;
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
  startedText = typeof text === "string" && ((text.charCodeAt(0) | 32) === 117 || text.charCodeAt(0) <= 32) ? text : undefined;
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
