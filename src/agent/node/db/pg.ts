/**
 * `pg` (node-postgres), in Node and Bun: it publishes nothing (no diagnostics channel), so
 * three methods are wrapped at their prototypes when pg's own files load (loader.ts):
 *
 * - `Client.prototype.query`: the query's start (text, parameter count, request), after pg
 *   queued it; the Query object it made is found where pg put it (the client's queue, its
 *   active query, or the pipeline's sent queue), never by changing arguments or result.
 * - `Query.prototype.handleReadyForQuery` / `handleError`: the end, recorded before pg
 *   calls back or settles the program's promise, with the same result or error object.
 * - `Pool.prototype.connect` (also inside `pool.query`): the wait for a connection. A
 *   callback is wrapped (same `this` and arguments); a promise is pg-pool's own, made while
 *   `pool.Promise` briefly is a constructor that builds the same native promise with
 *   resolve/reject that record first (same promise type, same reactions, same ticks).
 *
 * A client handed out by a pool remembers the request that asked for it, so its queries
 * belong to that request even when pg runs the pool's callback from another request's
 * release (the pool serves waiters from whoever releases). A callback the program passes
 * (to query or connect) runs in the request context of the call that passed it (scope's
 * own context only: the program's AsyncLocalStorage sees what it saw untraced), since pg
 * calls it from the socket's events, whose context is that of whoever opened the connection.
 */
import { ChannelKind, DbSystem } from "../../shared/kinds";
import { dataProperty, wrapMethod, type DbRecorder } from "../../shared/db";
import { PubSubReceives } from "../../shared/pubsub";
import { callerOf } from "../../shared/reflect";
import { runInRequest } from "../../shared/request-context";
import { makeStamp } from "../../shared/stamp";

type Fn = (...args: unknown[]) => unknown;

/**
 * Query object → its query id, between start and end (undefined after): a stamp
 * (stamp.ts), not a WeakMap, as a Query lives for one query (an ephemeron entry each
 * costs V8's GC more).
 */
const started = makeStamp<number | undefined>(true);

/**
 * Queries started on an idle client (queryStarted's fast path: pg's own new Query, running at
 * once) and their ids, until their end: a few slots scanned by identity instead of a stamp on
 * each new Query (adding a private field is a construct, an object allocated and discarded
 * and a define, ~330 instructions a query on Node 24, and its end's look-up and clear ~130
 * more: BENCHMARKS.md "Web: pg's part of a request"). An idle client runs one query at a
 * time, so a process has about as many in the slots as clients with a query running (a
 * pool's size); when all are taken, the oldest slot's query moves to the stamp. A query
 * that never ends (pg ends a client's running query with handleError when its connection
 * fails or ends) holds its slot until it is moved so: at most FLIGHT Query objects kept.
 */
const FLIGHT = 8;
const flightQuery: (object | undefined)[] = new Array<object | undefined>(FLIGHT).fill(undefined);
const flightId: number[] = new Array<number>(FLIGHT).fill(0);
let flightNext = 0;

function flightPut(query: object, id: number): void {
  for (let i = 0; i < FLIGHT; i++) {
    if (flightQuery[i] === undefined) {
      flightQuery[i] = query;
      flightId[i] = id;
      return;
    }
  }
  const i = flightNext;
  flightNext = (i + 1) % FLIGHT;
  started.add(flightQuery[i]!, flightId[i]);
  flightQuery[i] = query;
  flightId[i] = id;
}

/** The id of `query` if it holds a slot (the slot freed), else undefined. */
function flightTake(query: unknown): number | undefined {
  // (An empty slot holds undefined: a call without a Query matches none.)
  if (query === undefined) return undefined;
  for (let i = 0; i < FLIGHT; i++) {
    if (flightQuery[i] === query) {
      flightQuery[i] = undefined;
      return flightId[i];
    }
  }
  return undefined;
}

function flightHas(query: unknown): boolean {
  if (query === undefined) return false;
  for (let i = 0; i < FLIGHT; i++) if (flightQuery[i] === query) return true;
  return false;
}
/**
 * Client → the request that checked it out of a pool (0 when none): a stamp, read at each of
 * its queries (a WeakMap's look-up hashed the client each query: ~0.13 k instructions a
 * request, BENCHMARKS.md "Web: scope's added instructions by function"). A client is stamped
 * (with 0) when it connects (hookPgClient), else at its first checkout or query, so that its
 * look-ups find the field: asking an object without it is a call into V8's runtime.
 */
const checkout = makeStamp<number>(true);
const hooked = new WeakSet<object>();

/**
 * Client → the `system` its queries are recorded with: DbSystem.pg and its db_connection
 * (db.ts `connection`: its database, host, port and user, as pg resolved them from its config,
 * the environment and pg's defaults), given at its connect beside the checkout stamp, so a
 * query reads it with one load.
 */
const target = makeStamp<number>(true);

function clientConnection(db: DbRecorder, client: object): number {
  return db.connection(DbSystem.pg, dataProperty(client, "database"), dataProperty(client, "host"), dataProperty(client, "port"), dataProperty(client, "user"));
}

/** A client without the stamp's value (find gave it the field, holding undefined): its value now. */
function lateConnection(db: DbRecorder, client: unknown): number {
  if (typeof client !== "object" || client === null) return DbSystem.pg;
  const system = clientConnection(db, client);
  target.set(client, system);
  return system;
}

/**
 * A pool's waits name the connection of its clients (pg-pool makes each from the pool's
 * options): the first of its clients that has one, kept for the last pool asked (most
 * programs have one). Before the pool made a client (its first waits), none is known.
 */
let lastPool: object | undefined;
let lastPoolSystem: number = DbSystem.pg;

function poolConnection(pool: Record<string, unknown>): number {
  if (pool === lastPool) return lastPoolSystem;
  const clients = pool._clients;
  if (!Array.isArray(clients)) return DbSystem.pg;
  for (let i = 0; i < clients.length; i++) {
    const client: unknown = clients[i];
    const system = typeof client === "object" && client !== null ? target.get(client) : undefined;
    if (system !== undefined && system !== DbSystem.pg) {
      lastPool = pool;
      lastPoolSystem = system;
      return system;
    }
  }
  return DbSystem.pg;
}

/**
 * pg-pool's `query` (text, values, callback or promise) runs as connect(its own callback)
 * → client.query(text, values, its own callback) → the program's callback or promise. Its
 * two callbacks are pg-pool's, not the program's: they need no request context of their
 * own (the client's queries name their request through `checkout`, the program's callback
 * is run in its request by the Pool.query wrapper, and a promise's reactions run in the
 * context of the code that awaits it). So inside pool.query, connect and client.query
 * skip AsyncLocalStorage.run and the closure per callback (BENCHMARKS.md "Web services").
 * `poolInQuery`: the pool whose Pool.query is in its synchronous part (its connect is its
 * own); `poolClient`: the client pg-pool's own connect callback was handed, while that
 * callback runs (its query is pg-pool's own). Anything else (the program's code run in
 * between) is wrapped as before.
 */
let poolInQuery: object | undefined;
let poolQueryRequest = 0;
let poolClient: unknown;

function valuesCount(values: unknown): number {
  return Array.isArray(values) ? values.length : 0;
}

/** Rows returned or changed: Result.rowCount (rows.length when pg has none), summed over a multi-statement query's results. */
function rowsOf(results: unknown, own: boolean): number | undefined {
  if (!Array.isArray(results)) return rowsOfOne(results, own);
  let total: number | undefined;
  for (const result of results) {
    const count = rowsOfOne(result, own);
    if (count !== undefined) total = (total ?? 0) + count;
  }
  return total;
}

/**
 * The prototype of pg's own Result objects, once one was seen whose `rowCount` is an own
 * data property with no `rowCount` along its prototypes: a result of that prototype is
 * read directly (pg's Result constructor makes the field; its class defines no accessor),
 * instead of through property descriptors (a runtime call and an object each).
 */
let plainResult: object | undefined;

/** One Result's rows (module-level: no closure per query); `own`: of a query of pg's own Query class (so a Result pg made). */
function rowsOfOne(result: unknown, own: boolean): number | undefined {
  if (result !== null && typeof result === "object") {
    // A result of pg's own Query: `in` first (it runs no getter), whose map check lets the
    // optimizing tiers read the prototype below off that map; asked of an object whose map
    // they do not know, Object.getPrototypeOf is a call into V8's runtime each query (~170
    // instructions on Node 24: BENCHMARKS.md "Web: pg's wrappers without `arguments`").
    const proto = (own && "rowCount" in result ? Object.getPrototypeOf(result) : Object.getPrototypeOf(result)) as object | null;
    if (proto !== null && proto === plainResult) {
      const count = (result as { rowCount?: unknown }).rowCount;
      if (typeof count === "number") return count;
      if (count === null) return undefined;
      const rows = (result as { rows?: unknown }).rows;
      return Array.isArray(rows) ? rows.length : undefined;
    }
    if (own && proto !== null && plainResult === undefined && isPlainField(result, proto, "rowCount")) plainResult = proto;
  }
  // Out of line (rowsOfOne stays small enough to be inlined with the recorder's end:
  // BENCHMARKS.md "Web: pg's part of a request, the recorder's ends inlined").
  return rowsByDescriptor(result);
}

/** A Result's rows read through property descriptors (no getter run). */
function rowsByDescriptor(result: unknown): number | undefined {
  const count = dataProperty(result, "rowCount");
  if (typeof count === "number") return count;
  // null: a command without a row count (CREATE TABLE).
  if (count === null) return undefined;
  const rows = dataProperty(result, "rows");
  return Array.isArray(rows) ? rows.length : undefined;
}

/** The Query object pg made in this call: new, and where pg keeps queries (no array of candidates per query). */
function queryMadeBy(client: Record<string, unknown>, text: unknown): object | undefined {
  return madeQuery(client._activeQuery, text) ?? madeQuery(lastOf(client._queryQueue), text) ?? madeQuery(lastOf(client._sentQueryQueue), text);
}

function madeQuery(candidate: unknown, text: unknown): object | undefined {
  if (candidate === null || typeof candidate !== "object" || flightHas(candidate) || started.get(candidate) !== undefined) return undefined;
  // pg's own Query (its constructor makes `text` a data field): read directly; anything else (a submittable) by descriptor.
  const own = isQueryProto(Object.getPrototypeOf(candidate));
  return (own ? (candidate as { text?: unknown }).text : dataProperty(candidate, "text")) === text ? candidate : undefined;
}

/** Query.prototype of each pg copy hooked (hookPgQuery): their instances' `text` is a data field. */
const queryProtos: object[] = [];

/** Whether `proto` is one of queryProtos (a loop: Array.prototype.includes is a builtin call each time; mostly one copy). */
function isQueryProto(proto: unknown): boolean {
  for (let i = 0; i < queryProtos.length; i++) if (queryProtos[i] === proto) return true;
  return false;
}

/** `key` an own data property of `object` and on none of its prototypes (so a direct read runs no getter). */
function isPlainField(object: object, proto: object, key: string): boolean {
  const own = Object.getOwnPropertyDescriptor(object, key);
  if (own === undefined || !("value" in own)) return false;
  for (let at: object | null = proto, depth = 0; at !== null && depth < 8; at = Object.getPrototypeOf(at) as object | null, depth++) {
    if (Object.getOwnPropertyDescriptor(at, key) !== undefined) return false;
  }
  return true;
}

/** An array with no elements (pg's queues); false for anything else. */
function isEmptyList(list: unknown): boolean {
  return Array.isArray(list) && list.length === 0;
}

function lastOf(list: unknown): unknown {
  return Array.isArray(list) && list.length > 0 ? list[list.length - 1] : undefined;
}

export function hookPgClient(db: DbRecorder, Client: unknown): void {
  const proto = (Client as { prototype?: object } | undefined)?.prototype;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  // The checkout stamp given where a client starts (its connect, once a client, before pg's
  // own code runs: pg-pool calls it right after the constructor), not at its first checkout
  // or query: pg's Client methods that run while it connects (`_handleReadyForQuery`,
  // `_pulseQueryQueue`) then see one map of the class, as untraced, instead of the map before
  // the private field and the one after (polymorphic sites: BENCHMARKS.md "Web: the whole
  // process's share, compiles and allocation"). A client that already has it keeps its value.
  wrapMethod(proto, "connect", (original) =>
    function connect(this: unknown) {
      if (typeof this === "object" && this !== null && checkout.get(this) === undefined) {
        try {
          checkout.add(this, 0);
          // Its database and server, with the checkout stamp (one map for the class's clients).
          if (target.get(this) === undefined) target.add(this, clientConnection(db, this));
        } catch (error) {
          db.recorder.fail(error);
        }
      }
      return Reflect.apply(original, this, arguments);
    },
  );
  hookPgNotifications(db, proto);
  wrapMethod(proto, "query", (original) => {
    const call = callerOf(original);
    // Named parameters handed on for 1 to 3 arguments (callerOf), else `arguments` untouched
    // (strict bundle: unmapped; V8's optimizing tiers forward it without making it); a rest
    // array read by index was allocated each call. A callback replaced: a new array of the
    // same arguments.
    return function query(this: Record<string, unknown>, config: unknown, values: unknown, callback: unknown) {
      let args: unknown[] | undefined;
      let request = 0;
      let idle = false;
      let system: number = DbSystem.pg;
      // try/catch in place of recorder.safe: no closure per query (BENCHMARKS.md "Web services").
      // pg-pool's own callback (see poolClient): no context of its own needed.
      const own = poolClient === this;
      if (own) poolClient = undefined;
      try {
        // `find`: a load (a client carries the field from its first checkout or query on;
        // `get`'s `#value in` is a KeyedHasIC call in Maglev); one without it is given it
        // (holding undefined, then 0 here).
        const held = checkout.find(this);
        if (held === undefined && typeof this === "object" && this !== null) checkout.add(this, 0);
        request = held || db.request();
        // Given at its connect (hookPgClient); a client queried before it connects, or connected
        // before scope attached, is given it here.
        system = target.find(this) ?? lateConnection(db, this);
        // A callback (values or callback position) runs in the request that made the query.
        if (request !== 0 && !own) {
          if (typeof callback === "function") args = [config, values, inRequest(request, callback as Fn)];
          else if (typeof values === "function") args = [config, inRequest(request, values as Fn)];
          if (args !== undefined) for (let i = args.length; i < arguments.length; i++) args.push(arguments[i]);
        }
        // Where pg's queues stand before the call (pg's own fields): when nothing was queued,
        // sent or running, the Query running after it is the one this call made (queryStarted).
        if (typeof this === "object" && this !== null) {
          const active = this._activeQuery;
          idle = (active === null || active === undefined) && isEmptyList(this._queryQueue) && isEmptyList(this._sentQueryQueue);
        }
      } catch (error) {
        db.recorder.fail(error);
      }
      const n = arguments.length;
      const result =
        args !== undefined ? Reflect.apply(original, this, args)
        : n === 3 ? call(this, config, values, callback)
        : n === 2 ? call(this, config, values)
        : n === 1 ? call(this, config)
        : Reflect.apply(original, this, arguments);
      try {
        queryStarted(db, this, config, values, request, idle, system);
      } catch (error) {
        db.recorder.fail(error);
      }
      return result;
    };
  });
}

/**
 * After pg queued a query: its start, on the Query object pg made. `idle`: the client had no
 * query running, queued or sent before the call, so a query running now and none queued came
 * from this call's push (pg's `query` pushes its Query, and `_pulseQueryQueue` takes the
 * running one from its queues): it is taken as made here without the checks madeQuery
 * makes of an unknown candidate (the stamp's look-up on an object without it is a call
 * into V8's runtime, ~300 instructions a query: BENCHMARKS.md "Web: scope's added
 * instructions by function").
 */
function queryStarted(db: DbRecorder, client: Record<string, unknown>, config: unknown, values: unknown, request: number, idle: boolean, system: number): void {
  let text: unknown;
  let params = 0;
  let made: object | undefined;
  if (typeof config === "string") {
    text = config;
    params = valuesCount(values);
  } else if (config !== null && typeof config === "object") {
    text = dataProperty(config, "text");
    params = valuesCount(Array.isArray(values) ? values : dataProperty(config, "values"));
    if (typeof dataProperty(config, "submit") === "function") {
      made = config;
      // A submittable the program gives again while it runs: one start.
      if (flightHas(made) || started.get(made) !== undefined) return;
    }
  } else return;
  if (made === undefined && idle) {
    const active = client._activeQuery;
    if (active !== null && typeof active === "object" && isEmptyList(client._queryQueue)) {
      flightPut(active, db.queryStart(system, text, params, request));
      return;
    }
  }
  // pg's Query made in this call, not started (madeQuery checks).
  made ??= queryMadeBy(client, text);
  // Not queued (pg fails it on the next tick: ended or broken client): its end is
  // recorded with a start of its own there (handleError).
  if (made === undefined) return;
  // Mostly an object without the stamp (add: no look-up that misses; a submittable given
  // again after its end has one, then replaced).
  started.add(made, db.queryStart(system, text, params, request));
}

export function hookPgQuery(db: DbRecorder, Query: unknown): void {
  const proto = (Query as { prototype?: object } | undefined)?.prototype;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  queryProtos.push(proto);
  wrapMethod(proto, "handleReadyForQuery", (original) => {
    const call = callerOf(original);
    // pg calls it with its connection: that one argument handed on by name (callerOf).
    return function handleReadyForQuery(this: Record<string, unknown>, connection: unknown) {
      try {
        // A query cancelled by an earlier error ends in handleError (called from here).
        if (!this._canceledDueToError) {
          let id = flightTake(this);
          if (id === undefined) {
            id = started.get(this);
            // It carries the stamp (get gave its id): cleared without set's `#value in` test.
            if (id !== undefined) started.replace(this, undefined);
          }
          if (id !== undefined) db.queryEnd(id, rowsOf(this._results, isQueryProto(Object.getPrototypeOf(this))));
        }
      } catch (error) {
        db.recorder.fail(error);
      }
      return arguments.length === 1 ? call(this, connection) : Reflect.apply(original, this, arguments);
    };
  });
  wrapMethod(proto, "handleError", (original) =>
    function handleError(this: Record<string, unknown>, error: unknown) {
      db.recorder.safe(() => {
        let id = flightTake(this) ?? started.get(this);
        if (id === undefined) id = db.queryStart(DbSystem.pg, dataProperty(this, "text"), valuesCount(dataProperty(this, "values")));
        if (started.get(this) !== undefined) started.set(this, undefined);
        db.queryEnd(id, undefined, this._canceledDueToError || error, true);
      });
      return Reflect.apply(original, this, arguments);
    },
  );
}

export function hookPgPool(db: DbRecorder, Pool: unknown): void {
  const proto = (Pool as { prototype?: object } | undefined)?.prototype;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  wrapMethod(proto, "query", (original) => {
    const call = callerOf(original);
    return function query(this: Record<string, unknown>, text: unknown, values: unknown, callback: unknown) {
      let args: unknown[] | undefined;
      let request = 0;
      try {
        request = db.request();
        // The program's callback (pg-pool takes `values` as the callback when it is a function) runs in its request.
        if (request !== 0 && typeof text !== "function") {
          if (typeof values === "function") args = [text, inRequest(request, values as Fn)];
          else if (typeof callback === "function") args = [text, values, inRequest(request, callback as Fn)];
          if (args !== undefined) for (let i = args.length; i < arguments.length; i++) args.push(arguments[i]);
        }
      } catch (error) {
        db.recorder.fail(error);
      }
      const outer = poolInQuery;
      const outerRequest = poolQueryRequest;
      poolInQuery = this;
      poolQueryRequest = request;
      const n = arguments.length;
      try {
        return args !== undefined ? Reflect.apply(original, this, args)
          : n === 2 ? call(this, text, values)
          : n === 1 ? call(this, text)
          : n === 3 ? call(this, text, values, callback)
          : Reflect.apply(original, this, arguments);
      } finally {
        poolInQuery = outer;
        poolQueryRequest = outerRequest;
      }
    };
  });
  wrapMethod(proto, "connect", (original) => {
    const call = callerOf(original);
    return function connect(this: Record<string, unknown>, callback: unknown) {
      let id = 0;
      let request = 0;
      let named = false;
      // pg-pool's query calling its own connect (the first connect inside it): its callback is pg-pool's.
      const own = poolInQuery === this && typeof callback === "function";
      if (own) poolInQuery = undefined;
      // try/catch in place of recorder.safe: no closure per call (BENCHMARKS.md "Web services").
      try {
        request = own ? poolQueryRequest : db.request();
        const system = poolConnection(this);
        named = system !== DbSystem.pg;
        id = db.waitStart(system, lengthOf(this._clients), lengthOf(this._idle), request);
      } catch (error) {
        db.recorder.fail(error);
      }
      if (typeof callback === "function") {
        // Only pg sees this wrapper (it calls it once): not renamed to the callback's name,
        // which cost ~19 µs per request in defineProperty map transitions (BENCHMARKS.md, Web
        // services). One closure per call (pool.query passes a callback).
        let called = false;
        // No named parameters: its length stays 0, as before.
        const wrapped = function (this: unknown) {
          const error: unknown = arguments[0];
          const client: unknown = arguments[1];
          if (!called) {
            called = true;
            waitEnded(db, id, request, error, client, named);
          }
          if (own) {
            const outer = poolClient;
            poolClient = error ? undefined : client;
            try {
              return Reflect.apply(callback as Fn, this, arguments);
            } finally {
              poolClient = outer;
            }
          }
          if (request !== 0) return runInRequest(request, callback as Fn, this, arguments);
          return Reflect.apply(callback as Fn, this, arguments);
        };
        if (arguments.length === 1) return call(this, wrapped);
        const args = [wrapped];
        for (let i = 1; i < arguments.length; i++) args.push(arguments[i]);
        return Reflect.apply(original, this, args);
      }
      return connectPromised(db, original, this, arguments, id, request, named);
    };
  });
}

/**
 * pg-pool's connect without a callback (its promise), the wait's end recorded as it settles
 * (see the file's header). Out of the wrapper: the wrapper stays small enough that Node 24's
 * TurboFan compiles it (with this path in it, it ran as Maglev code after 16,000 requests).
 */
function connectPromised(db: DbRecorder, original: Fn, pool: Record<string, unknown>, args: IArguments, id: number, request: number, named: boolean): unknown {
  let ended = false;
  const end = (error: unknown, client: unknown) => {
    if (ended) return;
    ended = true;
    waitEnded(db, id, request, error, client, named);
  };
  const descriptor = Object.getOwnPropertyDescriptor(pool, "Promise");
  const Native = descriptor?.value as (PromiseConstructor & { try?: unknown }) | undefined;
  if (!descriptor || !descriptor.writable || typeof Native !== "function") return Reflect.apply(original, pool, args);
  let captured = false;
  const Capturing = function Promise(executor: (resolve: Fn, reject: Fn) => void) {
    if (captured) return new Native(executor);
    captured = true;
    return new Native((resolve, reject) =>
      executor(
        (client: unknown) => (end(undefined, client), resolve(client)),
        (error: unknown) => (end(error, undefined), reject(error)),
      ),
    );
  } as unknown as PromiseConstructor;
  Object.assign(Capturing, {
    reject: (error: unknown) => (end(error, undefined), Native.reject(error)),
    resolve: (value: unknown) => Native.resolve(value),
  });
  if (typeof Native.try === "function") Object.assign(Capturing, { try: (Native.try as Fn).bind(Native) });
  pool.Promise = Capturing;
  try {
    return Reflect.apply(original, pool, args);
  } finally {
    Object.defineProperty(pool, "Promise", descriptor);
  }
}

/**
 * A pool's wait ended (a client handed out, or an error): its end, and the request the client
 * now serves. A wait whose start named no connection (the pool had no client yet) names the
 * client handed over (connected by then: its connect gave it one) at its end.
 */
function waitEnded(db: DbRecorder, id: number, request: number, error: unknown, client: unknown, named: boolean): void {
  try {
    if (named || error || client === null || typeof client !== "object") db.waitEnd(id, error, error !== undefined && error !== null);
    else db.waitEndOn(id, target.get(client) ?? DbSystem.pg);
    if (client !== null && typeof client === "object" && !error) {
      // A client handed out before carries the field: stored without set's `#value in` test.
      try {
        checkout.replace(client, request);
      } catch {
        checkout.add(client, request);
      }
    }
  } catch (failure) {
    db.recorder.fail(failure);
  }
}

/** `fn` run in request `request`'s context (scope's own AsyncLocalStorage), same `this`, arguments and result. */
function inRequest(request: number, fn: Fn): Fn {
  // Only pg calls it: not renamed (see the connect callback above).
  return function (this: unknown) {
    return runInRequest(request, fn, this, arguments);
  };
}

function lengthOf(list: unknown): number {
  return Array.isArray(list) ? list.length : 0;
}

/**
 * LISTEN/NOTIFY: a client's connection emits each NotificationResponse as 'notification' to
 * `Client.prototype._handleNotification(msg)` (pg 8: the client binds it at `connect`, once per
 * connection), which emits 'notification' with the same object (`processId`, `channel`,
 * `payload`) to the program. The wrapper records it as a received message (shared/pubsub.ts)
 * first, the notifying backend's process id in its preview. A client connected before the
 * hook (scope attach) bound pg's own: its notifications are not recorded.
 */
function hookPgNotifications(db: DbRecorder, proto: object): void {
  const receives = new PubSubReceives(db.recorder, ChannelKind.pg_notify);
  wrapMethod(proto, "_handleNotification", (original) =>
    function _handleNotification(this: object, message: unknown) {
      if (message !== null && typeof message === "object" && !db.isProxy(message)) {
        try {
          const { channel, payload, processId } = message as Record<string, unknown>;
          receives.receive(this, channel, payload, undefined, typeof processId === "number" ? `, processId: ${processId}` : undefined);
        } catch (error) {
          db.recorder.fail(error);
        }
      }
      return Reflect.apply(original, this, arguments);
    },
  );
}
