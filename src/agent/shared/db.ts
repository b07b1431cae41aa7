/**
 * What every database integration records (src/agent/node/db/*, src/agent/bun/db/*): a
 * query's start (text with literals replaced, parameter count, the request that caused it)
 * and end (rows, error code and message), a pool's wait for a connection. Ids pair a start
 * with its end per thread; the decoder (model.ts DatabaseLinks) joins them.
 *
 * Nothing here throws into the program: every entry point counts its own errors.
 */
import { DB_CONNECTION_UNIT, Kind } from "./kinds";
import type { Recorder } from "./recorder";
import { currentRequest } from "./request-context";
import { redaction, redactUserinfo } from "./redact";
import { keepSql, normalizeSql, SqlDialect } from "./sql";
import { renamed } from "./reflect";
import { definePatch } from "./patches";

export { renamed };

/** db_query_end field b when the row count is not known. */
const ROWS_UNKNOWN = -1;
const FAILED = 1;
const TEXT_CUT = 1;
/** Texts remembered with their recorded form: how many, and up to what length. */
const MAX_REMEMBERED = 512;
const MAX_REMEMBERED_CHARS = 4096;
/** Texts compared by identity before the Map (queryText). */
const RECENT = 4;
/** Distinct connections remembered (connection): past it the map starts again (a repeat gets a new record). */
const MAX_CONNECTIONS = 1024;

/** A query text as recorded: its string id and db_query flags (cut). */
export interface QueryText {
  id: number;
  flags: number;
}

export interface DbRecorder {
  recorder: Recorder;
  /** The recorded form of a query text (normalised, its string written once); remembered for texts a program repeats. */
  queryText(text: unknown): QueryText;
  /** The recorded form of a MySQL/MariaDB query text (its lexical rules: sql.ts SqlDialect.mysql). */
  mysqlText(text: unknown): QueryText;
  /** Records a query's start; returns its id (0: not recorded). */
  queryStart(system: number, text: unknown, params: number, request?: number): number;
  /** queryStart with the text already made (a prepared statement's, kept with it). */
  queryStartWith(system: number, text: QueryText, params: number, request?: number): number;
  /** Records a query's end: rows returned or changed (undefined: not known), or the error it failed with. */
  queryEnd(id: number, rows: number | undefined, error?: unknown, failed?: boolean): void;
  /**
   * queryEnd naming the connection (`connection`'s value) the query went to, for a query whose
   * start could not name it (postgres.js's first query on a `sql` before it picked a connection):
   * the decoder takes the end's when the start named none.
   */
  queryEndOn(id: number, connection: number, rows: number | undefined, error?: unknown, failed?: boolean): void;
  /** A query's end that failed with an error code the caller read itself (a Redis error reply's first word), the message from `error`. */
  queryFailed(id: number, code: string | undefined, error: unknown): void;
  /**
   * Where a client connects: its db_connection record, written once per distinct (system,
   * database, host, port, user) on this thread, and the value to pass as `system` to
   * queryStart/waitStart (`system` + the connection's id × DB_CONNECTION_UNIT; `system` alone
   * when nothing is known). Callers keep it per client or config object, so a query pays no
   * look-up here. Only these four: never a password or a connection string.
   */
  connection(system: number, database: unknown, host: unknown, port: unknown, user: unknown): number;
  waitStart(system: number, open: number, idle: number, request?: number): number;
  waitEnd(id: number, error?: unknown, failed?: boolean): void;
  /** waitEnd naming the connection handed over, for a wait whose start could not name one (a pool's first waits, before it had a client). */
  waitEndOn(id: number, connection: number, error?: unknown, failed?: boolean): void;
  /** The request the current code runs for (0: none). */
  request(): number;
  /** Whether a value is a Proxy (its properties are not read: a trap would run). */
  isProxy(value: unknown): boolean;
}

/** A connection's name field: a string (a Redis database index's number too), else undefined. */
function nameOf(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : value;
  return typeof value === "number" && Number.isSafeInteger(value) ? String(value) : undefined;
}

/** A port: an integer 1..65535 (a numeric string too), else 0. */
function portOf(value: unknown): number {
  const port = typeof value === "string" && /^\d{1,5}$/.test(value) ? Number(value) : value;
  return typeof port === "number" && Number.isInteger(port) && port > 0 && port <= 65535 ? port : 0;
}

/** db_query_end field b: rows returned or changed, when a count. */
function rowCount(rows: number | undefined): number {
  return typeof rows === "number" && Number.isSafeInteger(rows) && rows >= 0 ? rows : ROWS_UNKNOWN;
}

/**
 * A statement the database refused to prepare (SQLite compiles at prepare: a syntax error, a
 * missing table or column) is a query that failed: recorded, started and ended where it
 * failed, with no values bound. The caller throws the error on unchanged.
 */
export function prepareFailed(db: DbRecorder, system: number, sql: unknown, error: unknown): void {
  db.queryEnd(db.queryStart(system, sql, 0), undefined, error, true);
}

/** Values bound: positional values, arrays of them, an object of named ones. */
export function boundCount(args: ArrayLike<unknown>): number {
  let count = 0;
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    if (Array.isArray(value)) count += value.length;
    else if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) count += Object.keys(value).length;
    else count++;
  }
  return count;
}

/** Reads a data property along the prototype chain without running getters or Proxy traps. */
export function dataProperty(value: unknown, key: string): unknown {
  let object = value;
  for (let depth = 0; depth < 8 && object !== null && (typeof object === "object" || typeof object === "function"); depth++) {
    const descriptor = Object.getOwnPropertyDescriptor(object, key);
    if (descriptor) return "value" in descriptor ? descriptor.value : undefined;
    object = Object.getPrototypeOf(object);
  }
  return undefined;
}

export function makeDbRecorder(recorder: Recorder, isProxy: (value: unknown) => boolean): DbRecorder {
  let nextQuery = 1;
  let nextWait = 1;
  // The request context (request-context.ts): the request whose code called the library.
  const request = () => {
    try {
      return currentRequest();
    } catch (error) {
      recorder.fail(error);
      return 0;
    }
  };
  const errorFields = (error: unknown): [number, number] => {
    if (error === null || error === undefined || (typeof error !== "object" && typeof error !== "function") || isProxy(error)) {
      return [0, recorder.str(error === undefined ? undefined : String(typeof error))];
    }
    const code = dataProperty(error, "code");
    const message = dataProperty(error, "message");
    const codeText = typeof code === "string" || typeof code === "number" ? String(code) : undefined;
    return [recorder.str(codeText), recorder.message(typeof message === "string" ? message : undefined)];
  };
  // Raw text → its recorded form: one map lookup per query a program repeats (parameterised
  // queries, prepared statements), instead of a scan and the string table's own lookup.
  const texts = new Map<string, QueryText>();
  const none: QueryText = { id: 0, flags: 0 };
  // The last RECENT texts looked up, compared by identity first: a program's query texts are
  // mostly string literals, the same string each run, which `===` tells apart by pointer
  // (internalized strings), without the Map's hash look-up (~130 instructions a query on
  // Node 24: BENCHMARKS.md "Web: pg's part of a request"). Any other string (one built each
  // time) is compared by content here, then looked up in the Map as before.
  const recentText: (string | undefined)[] = new Array<string | undefined>(RECENT).fill(undefined);
  const recentMade: QueryText[] = new Array<QueryText>(RECENT).fill(none);
  let recentNext = 0;
  // queryText, queryEnd and waitEnd keep their common path in a few bytes of bytecode and call
  // out for the rest (a text not among the recent ones, a failure's error fields), so that V8's
  // optimizing tiers inline them into their callers (the wrappers' inlining budget held pg's own
  // code, and called once or twice a request they ran as Maglev code only, Number.isSafeInteger
  // a builtin call there: BENCHMARKS.md "Web: pg's part of a request, the recorder's ends inlined").
  const queryText = (text: unknown): QueryText => {
    if (typeof text !== "string") return none;
    for (let i = 0; i < RECENT; i++) if (recentText[i] === text) return recentMade[i]!;
    return textMade(text);
  };
  const textMade = (text: string): QueryText => {
    const known = texts.get(text);
    if (known !== undefined) {
      recentText[recentNext] = text;
      recentMade[recentNext] = known;
      recentNext = (recentNext + 1) % RECENT;
      return known;
    }
    // --no-redact keeps literal values (the text still bounded in size).
    const normalized = redaction().sqlLiterals ? normalizeSql(text) : keepSql(text);
    const made = { id: recorder.str(normalized.text), flags: normalized.cut ? TEXT_CUT : 0 };
    if (text.length <= MAX_REMEMBERED_CHARS) {
      if (texts.size >= MAX_REMEMBERED) texts.clear();
      texts.set(text, made);
    }
    return made;
  };
  // MySQL's texts: their own map (one text may read differently under the two dialects),
  // made at the first (most threads never make one).
  let mysqlTexts: Map<string, QueryText> | undefined;
  const mysqlText = (text: unknown): QueryText => {
    if (typeof text !== "string") return none;
    mysqlTexts ??= new Map<string, QueryText>();
    const known = mysqlTexts.get(text);
    if (known !== undefined) return known;
    const normalized = redaction().sqlLiterals ? normalizeSql(text, SqlDialect.mysql) : keepSql(text);
    const made = { id: recorder.str(normalized.text), flags: normalized.cut ? TEXT_CUT : 0 };
    if (text.length <= MAX_REMEMBERED_CHARS) {
      if (mysqlTexts.size >= MAX_REMEMBERED) mysqlTexts.clear();
      mysqlTexts.set(text, made);
    }
    return made;
  };
  // (system, database, host, port, user) → the tag queryStart takes (connection).
  let connections: Map<string, number> | undefined;
  let nextConnection = 1;
  const connection = (system: number, database: unknown, host: unknown, port: unknown, user: unknown): number => {
    const name = nameOf(database);
    // A host given as a URL (user:password@ in it) keeps no user information.
    const hostName = nameOf(host);
    const server = hostName === undefined ? undefined : redactUserinfo(hostName, true);
    const portNumber = portOf(port);
    const userName = nameOf(user);
    if (name === undefined && server === undefined && portNumber === 0 && userName === undefined) return system;
    const key = `${system}\0${name ?? ""}\0${server ?? ""}\0${portNumber}\0${userName ?? ""}`;
    connections ??= new Map<string, number>();
    const known = connections.get(key);
    if (known !== undefined) return known;
    const id = nextConnection++;
    recorder.event(Kind.db_connection, id, recorder.str(name), recorder.str(server), portNumber, recorder.str(userName), system);
    const tag = system + id * DB_CONNECTION_UNIT;
    if (connections.size >= MAX_CONNECTIONS) connections.clear();
    connections.set(key, tag);
    return tag;
  };
  /** A query's or a wait's end that failed: its error's code and message. */
  const failedEnd = (kind: number, id: number, count: number, error: unknown, connection = 0): void => {
    const fields = errorFields(error);
    recorder.event(kind, id, count, fields[0], fields[1], connection, FAILED);
  };
  const queryStartWith = (system: number, text: QueryText, params: number, requestId?: number) => {
    const id = nextQuery++;
    recorder.event(Kind.db_query, id, text.id, params, requestId ?? request(), system, text.flags);
    return id;
  };
  return {
    recorder,
    request,
    isProxy,
    queryText(text) {
      try {
        return queryText(text);
      } catch (error) {
        recorder.fail(error);
        return none;
      }
    },
    mysqlText(text) {
      try {
        return mysqlText(text);
      } catch (error) {
        recorder.fail(error);
        return none;
      }
    },
    queryStart(system, text, params, requestId) {
      try {
        return queryStartWith(system, queryText(text), params, requestId);
      } catch (error) {
        recorder.fail(error);
        return 0;
      }
    },
    queryStartWith(system, text, params, requestId) {
      try {
        return queryStartWith(system, text, params, requestId);
      } catch (error) {
        recorder.fail(error);
        return 0;
      }
    },
    queryEnd(id, rows, error, failed) {
      if (id === 0) return;
      try {
        // No array per query that succeeded.
        if (failed ?? error !== undefined) failedEnd(Kind.db_query_end, id, rowCount(rows), error);
        else recorder.event(Kind.db_query_end, id, rowCount(rows));
      } catch (caught) {
        recorder.fail(caught);
      }
    },
    queryEndOn(id, connection, rows, error, failed) {
      if (id === 0) return;
      try {
        if (failed ?? error !== undefined) failedEnd(Kind.db_query_end, id, rowCount(rows), error, connection);
        else recorder.event(Kind.db_query_end, id, rowCount(rows), 0, 0, connection);
      } catch (caught) {
        recorder.fail(caught);
      }
    },
    queryFailed(id, code, error) {
      if (id === 0) return;
      try {
        const message = error !== null && (typeof error === "object" || typeof error === "function") && !isProxy(error) ? dataProperty(error, "message") : undefined;
        recorder.event(Kind.db_query_end, id, ROWS_UNKNOWN, recorder.str(code), recorder.message(typeof message === "string" ? message : undefined), 0, FAILED);
      } catch (caught) {
        recorder.fail(caught);
      }
    },
    connection(system, database, host, port, user) {
      try {
        return connection(system, database, host, port, user);
      } catch (error) {
        recorder.fail(error);
        return system;
      }
    },
    waitStart(system, open, idle, requestId) {
      try {
        const id = nextWait++;
        recorder.event(Kind.db_pool_wait, id, open, idle, requestId ?? request(), system);
        return id;
      } catch (error) {
        recorder.fail(error);
        return 0;
      }
    },
    waitEnd(id, error, failed) {
      if (id === 0) return;
      try {
        if (failed ?? (error !== undefined && error !== null)) failedEnd(Kind.db_pool_wait_end, id, 0, error);
        else recorder.event(Kind.db_pool_wait_end, id);
      } catch (caught) {
        recorder.fail(caught);
      }
    },
    waitEndOn(id, connection, error, failed) {
      if (id === 0) return;
      try {
        if (failed ?? (error !== undefined && error !== null)) failedEnd(Kind.db_pool_wait_end, id, 0, error, connection);
        else recorder.event(Kind.db_pool_wait_end, id, 0, 0, 0, connection);
      } catch (caught) {
        recorder.fail(caught);
      }
    },
  };
}

/** Replaces `object[key]` (a function) by `make(original)`, keeping its property attributes; false when it is not a function. */
export function wrapMethod(object: object, key: string, make: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown): boolean {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  if (!descriptor || typeof descriptor.value !== "function") return false;
  const original = descriptor.value as (...args: unknown[]) => unknown;
  definePatch(object, key, { ...descriptor, value: renamed(original, make(original)) });
  return true;
}
