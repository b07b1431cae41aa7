/**
 * `postgres` (postgres.js), in Node (its CommonJS build, through loader.ts) and in Bun
 * (its ES module build, through the Bun agent's plugin): no diagnostics channel, so the
 * one class every query is, `Query` (a Promise subclass), is hooked at its prototype:
 *
 * - `Query.prototype.handle`, the first time (postgres.js runs a query when it is first
 *   awaited, then'd or executed, in the program's context): the start, with the text as
 *   written (a tagged template's parts joined by `$1`, `$2`, ...; `sql.unsafe`'s text) and
 *   the number of values, and its own `resolve`/`reject` (closures postgres.js keeps on the
 *   query) replaced by ones that record the end first and then call them, so the program's
 *   promise settles with the same value or error, in the same tick.
 *
 * A cursor or async iterator replaces resolve/reject per batch: its end is not recorded.
 *
 * Which database and server (db.ts `connection`): a query holds no reference to the options
 * `postgres()` parsed (they live in its closure), only its `handler`, the function of the
 * `sql` (or of a transaction's or reserved connection's `sql`) that made it. The connection
 * that runs it passes both to types.js's `stringify(query, ..., options)` as it builds the
 * query, so that function is wrapped (the CommonJS build: its export, which connection.js
 * takes at its load; the ES build: its binding, replaced by the statement esm-hooks.ts
 * appends to src/types.js) and learns handler → connection once per handler. A query whose
 * handler is known names it at its start; one that is not yet (a `sql`'s first queries, a
 * transaction's first) names it at its end (db.ts `queryEndOn`).
 */
import { ChannelKind, DbSystem } from "../../shared/kinds";
import { dataProperty, renamed, wrapMethod, type DbRecorder } from "../../shared/db";
import { assignPatch, definePatch } from "../../shared/patches";
import { PubSubReceives } from "../../shared/pubsub";

const hooked = new WeakSet<object>();

function textOf(strings: unknown): string | undefined {
  if (typeof strings === "string") return strings;
  if (!Array.isArray(strings)) return undefined;
  let text = "";
  for (let i = 0; i < strings.length; i++) text += (i > 0 ? `$${i}` : "") + String(strings[i]);
  return text;
}

function rowsOf(result: unknown): number | undefined {
  const count = dataProperty(result, "count");
  if (typeof count === "number") return count;
  return Array.isArray(result) ? result.length : undefined;
}

/** A query's handler (its `sql`'s function) → the `system` value its queries name (DbSystem.postgresJs with its db_connection). */
const handlers = new WeakMap<object, number>();
/** The last handler learned or looked up, and its value: most programs have one `sql`. */
let lastHandler: unknown;
let lastTarget: number = DbSystem.postgresJs;
/** Parsed options (one object per `postgres()`) → the value. */
const targets = new WeakMap<object, number>();

/** The connection a query's handler names, known once a query of it was built (DbSystem.postgresJs: not yet). */
function targetOf(handler: unknown): number {
  if (handler === lastHandler) return lastTarget;
  const known = typeof handler === "function" ? handlers.get(handler) : undefined;
  if (known === undefined) return DbSystem.postgresJs;
  lastHandler = handler;
  lastTarget = known;
  return known;
}

/** The database, server, port and user postgres.js resolved (parseOptions: env and defaults applied; `host`/`port` arrays, `path` a unix socket). */
function optionsTarget(db: DbRecorder, options: object): number {
  const known = targets.get(options);
  if (known !== undefined) return known;
  const path = dataProperty(options, "path");
  const hosts = dataProperty(options, "host");
  const ports = dataProperty(options, "port");
  let server: unknown = hosts;
  let port: unknown = ports;
  if (typeof path === "string" && path !== "") {
    server = path;
    port = undefined;
  } else {
    if (Array.isArray(hosts)) server = hosts.length === 1 ? hosts[0] : hosts.join(",");
    // Several hosts: one port when they share it.
    if (Array.isArray(ports)) port = ports.every((p) => p === ports[0]) ? ports[0] : undefined;
  }
  const target = db.connection(DbSystem.postgresJs, dataProperty(options, "database"), server, port, dataProperty(options, "user"));
  targets.set(options, target);
  return target;
}

/**
 * types.js's `stringify(query, string, value, parameters, types, options)` (connection.js's
 * `build` calls it for every query it sends, with the connection's options): learns the
 * query's handler's connection, then calls postgres.js's with the same arguments.
 */
export function postgresStringify(db: DbRecorder, original: unknown): unknown {
  if (typeof original !== "function" || hooked.has(original)) return original;
  const wrapped = renamed(original as (...args: unknown[]) => unknown, function stringify(this: unknown, query: unknown, _string: unknown, _value: unknown, _parameters: unknown, _types: unknown, options: unknown) {
    if (query !== null && typeof query === "object" && options !== null && typeof options === "object") {
      const handler = (query as { handler?: unknown }).handler;
      if (handler !== lastHandler && typeof handler === "function" && !handlers.has(handler)) {
        try {
          handlers.set(handler, optionsTarget(db, options));
          const max = dataProperty(options, "max");
          if (typeof max === "number") sizes.set(handler, max);
        } catch (error) {
          db.recorder.fail(error);
        }
      }
      // A query that waited for a connection is handed one (its build): the wait's end.
      if (waiting > 0) db.recorder.safe(() => waitHandedOver(db, query, options));
    }
    return Reflect.apply(original as (...args: unknown[]) => unknown, this, arguments);
  });
  hooked.add(wrapped);
  return wrapped;
}

/** The CommonJS build's cjs/src/types.js: its `stringify` export replaced (connection.js destructures it at its own load, after this). */
export function hookPostgresTypes(db: DbRecorder, exports: unknown, late = false): void {
  // Loaded before `scope attach`: connection.js took the original, so no hand-over would end a wait.
  if (late) waitsSeen = false;
  if (exports === null || typeof exports !== "object") return;
  const descriptor = Object.getOwnPropertyDescriptor(exports, "stringify");
  if (!descriptor || !descriptor.writable || typeof descriptor.value !== "function") return;
  // A patch scope attach gives back at its detach (attached after connection.js loaded, which took the original already: no names then).
  assignPatch(exports, "stringify", postgresStringify(db, descriptor.value));
}

/** The ES build's handed bindings (esm-hooks.ts): src/query.js's `Query`, src/types.js's `stringify` (replaced in `bindings`, which the statement assigns back), src/large.js's `largeObject`. */
export function hookPostgresEsm(db: DbRecorder, bindings: Record<string, unknown>): void {
  if (bindings.Query !== undefined) hookPostgresQuery(db, bindings.Query);
  if (typeof bindings.stringify === "function") bindings.stringify = postgresStringify(db, bindings.stringify);
  if (bindings.largeObject !== undefined) hookPostgresLarge(db, bindings.largeObject);
}

/**
 * LISTEN/NOTIFY (`sql.listen(channel, fn)`): postgres.js runs LISTEN on a connection of its own
 * (`listen.sql`, made inside index.js with an `onnotify` closure that calls each listener's `fn`
 * with the payload), and neither that closure nor the connection (which reads `onnotify` once, as
 * it is made) is reachable from outside index.js. What is: the `sql` itself, handed by each
 * `postgres()` call to large.js's function (`largeObject.bind(null, sql)`, in the object whose
 * properties `Object.assign` then puts on `sql`, `listen` among them). So that function gets
 * an own `bind` (Function.prototype.bind's behaviour, same result) that puts a one-time
 * accessor `listen` on that `sql`: `Object.assign`'s assignment runs its setter, which defines
 * the data property `Object.assign` would have (writable, enumerable, configurable) holding a
 * `listen` that passes postgres.js a listener recording each notification (shared/pubsub.ts)
 * before calling the program's `fn` with the same `this` and arguments. The CommonJS build's
 * cjs/src/large.js export (loader.ts), the ES build's src/large.js binding (esm-hooks.ts). What
 * a program can see: `listen` first among `sql`'s own keys (it is defined before the others),
 * its listener is not `fn` (postgres.js never hands it back).
 */
export function hookPostgresLarge(db: DbRecorder, largeObject: unknown): void {
  if (typeof largeObject !== "function" || hooked.has(largeObject)) return;
  hooked.add(largeObject);
  const receives = new PubSubReceives(db.recorder, ChannelKind.pg_notify);
  const functionBind = Function.prototype.bind;
  definePatch(largeObject, "bind", {
    value: renamed(functionBind as (...args: unknown[]) => unknown, function bind(this: unknown, _thisArg: unknown, sql: unknown): unknown {
      if (typeof sql === "function" && !Object.prototype.hasOwnProperty.call(sql, "listen")) db.recorder.safe(() => watchListen(db, receives, sql));
      return Reflect.apply(functionBind, this, arguments);
    }),
    writable: true,
    enumerable: false,
    configurable: true,
  });
}

/** The accessor `Object.assign` meets on `sql` (hookPostgresLarge): defines `listen` as the data property it would have, wrapped. */
function watchListen(db: DbRecorder, receives: PubSubReceives, sql: object): void {
  Object.defineProperty(sql, "listen", {
    configurable: true,
    enumerable: false,
    get: () => undefined,
    set(listen: unknown) {
      const value = typeof listen === "function" ? recordingListen(db, receives, sql, listen as (...args: unknown[]) => unknown) : listen;
      Object.defineProperty(sql, "listen", { value, writable: true, enumerable: true, configurable: true });
    },
  });
}

function recordingListen(db: DbRecorder, receives: PubSubReceives, sql: object, listen: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  return renamed(listen, function listenRecorded(this: unknown, name: unknown, fn: unknown) {
    if (typeof fn === "function") {
      const program = fn as (...args: unknown[]) => unknown;
      arguments[1] = renamed(program, function (this: unknown, payload: unknown) {
        try {
          receives.receive(sql, name, payload);
        } catch (error) {
          db.recorder.fail(error);
        }
        return Reflect.apply(program, this, arguments);
      });
    }
    return Reflect.apply(listen, this, arguments);
  });
}

export function hookPostgresQuery(db: DbRecorder, Query: unknown): void {
  const proto = (Query as { prototype?: object } | undefined)?.prototype;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  wrapMethod(proto, "handle", (original) =>
    function handle(this: Record<string, unknown>) {
      if (this.executed !== true) {
        // Its handler in front (one comparison, a store): waitingHandler.
        const handler = this.handler;
        if (handler === lastOwn) this.handler = lastWaiting;
        else if (typeof handler === "function" && waitsSeen) db.recorder.safe(() => (this.handler = waitingHandler(db, handler as Handler)));
        db.recorder.safe(() => onStart(db, this));
      }
      return Reflect.apply(original, this, arguments);
    },
  );
}

type Handler = (this: unknown, query: Record<string, unknown>) => unknown;

/**
 * A query's wait for a connection (db_pool_wait, as pg-pool's and mysql2's). postgres.js hands
 * a query to its `sql`'s handler (index.js: an idle connection, a closed one it opens, a busy
 * one with pipeline room, else its `queries` queue; a transaction's or reserved connection's
 * handler: its connection, or its own queue while that connection's pipeline is full) one
 * microtask after the query's `handle`; a connection that takes it runs `execute(query)`,
 * which sets the query's `state` (its backend) before it returns. So each handler gets a
 * wrapper, made once and put on its queries in the handler's place (`query.handler`, which
 * postgres.js reads only to call it and for its `debug`, copied): after the handler returned, a
 * query whose `state` is still null (and that it did not reject) waits: queued, or on a
 * connection being opened. The wait ends when a connection builds it (types.js's `stringify`,
 * wrapped already for the connection: one comparison a query while nothing waits) or when it
 * is rejected (the connection ended, a cancel while queued). open: the `sql`'s `max` once known
 * (every connection busy or being opened), idle 0.
 */
const waitingHandlers = new WeakMap<Handler, Handler>();
const ownHandlers = new WeakSet<Handler>();
let lastOwn: unknown;
let lastWaiting: Handler | undefined;
/** Handler → its `sql`'s `max` (learned with its connection, stringify). */
const sizes = new WeakMap<object, number>();
/** Queries waiting → their wait id; `waiting` its size (WeakMap has none). */
const waits = new WeakMap<object, number>();
let waiting = 0;
/** False when types.js loaded before `scope attach` (its `stringify`, which ends a wait, not wrapped where connection.js calls it): no waits. */
let waitsSeen = true;
/** The query the recorded reject ran for last: one rejected inside its handler does not wait. */
let lastRejected: unknown;

/** `original`'s wrapper (made at its first query), remembered as the last one asked. */
function waitingHandler(db: DbRecorder, original: Handler): Handler {
  // A query made with one of ours already (a retry): its handler stays.
  if (ownHandlers.has(original)) return original;
  const known = waitingHandlers.get(original);
  if (known !== undefined) {
    lastOwn = original;
    lastWaiting = known;
    return known;
  }
  const wrapped: Handler = renamed(original, function handler(this: unknown, query: Record<string, unknown>): unknown {
    const result = Reflect.apply(original, this, arguments);
    if (query.state === null && lastRejected !== query) db.recorder.safe(() => startWait(db, wrapped, query));
    return result;
  });
  (wrapped as unknown as { debug?: unknown }).debug = (original as unknown as { debug?: unknown }).debug;
  ownHandlers.add(wrapped);
  waitingHandlers.set(original, wrapped);
  lastOwn = original;
  lastWaiting = wrapped;
  return wrapped;
}

function startWait(db: DbRecorder, handler: Handler, query: object): void {
  if (waits.has(query)) return;
  waits.set(query, db.waitStart(targetOf(handler), sizes.get(handler) ?? 0, 0));
  waiting++;
}

function waitHandedOver(db: DbRecorder, query: object, options: object): void {
  const id = waits.get(query);
  if (id === undefined) return;
  waits.delete(query);
  waiting--;
  db.waitEndOn(id, optionsTarget(db, options));
}

function waitFailed(db: DbRecorder, query: object, error: unknown): void {
  const id = waits.get(query);
  if (id === undefined) return;
  waits.delete(query);
  waiting--;
  db.waitEnd(id, error, true);
}

function onStart(db: DbRecorder, query: Record<string, unknown>): void {
  const resolve = dataProperty(query, "resolve");
  const reject = dataProperty(query, "reject");
  if (typeof resolve !== "function" || typeof reject !== "function") return;
  const args = dataProperty(query, "args");
  const handler = query.handler;
  const target = targetOf(handler);
  const id = db.queryStart(target, textOf(dataProperty(query, "strings")), Array.isArray(args) ? args.length : 0);
  let ended = false;
  query.resolve = function (this: unknown, value: unknown) {
    if (!ended) {
      ended = true;
      db.recorder.safe(() => (target === DbSystem.postgresJs ? db.queryEndOn(id, targetOf(handler), rowsOf(value)) : db.queryEnd(id, rowsOf(value))));
    }
    return Reflect.apply(resolve, this, arguments);
  };
  query.reject = function (this: unknown, error: unknown) {
    if (!ended) {
      ended = true;
      lastRejected = query;
      if (waiting > 0) db.recorder.safe(() => waitFailed(db, query, error));
      db.recorder.safe(() => (target === DbSystem.postgresJs ? db.queryEndOn(id, targetOf(handler), undefined, error, true) : db.queryEnd(id, undefined, error, true)));
    }
    return Reflect.apply(reject, this, arguments);
  };
}
