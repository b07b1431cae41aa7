/**
 * Bun's built-in SQL client (`Bun.sql`, `new Bun.SQL(...)`, `import { sql, SQL } from "bun"`:
 * PostgreSQL, MySQL/MariaDB and SQLite adapters; Bun 1.4.5). Its JavaScript (Bun's
 * internal sql modules) is loaded only when the program first touches it, through the
 * stand-ins of stand-in.ts, which call `hookBunSql` with the real `SQL` class then.
 *
 * Every query is a `Query` (a Promise subclass) that runs on its first
 * `then`/`catch`/`finally`/`execute()`/`run()`: its private `#createHandle` asks the
 * adapter for the query's text with its values bound (`normalizeQuery`, SQLDialect's:
 * `$1`/`?` placeholders, `sql(object)` helpers and fragments expanded) and then for a
 * native handle (`createQueryHandle(text, values, flags)`, BaseSQLAdapter's for PostgreSQL
 * and MySQL; SQLite's adapter runs bun:sqlite's Database, recorded by sqlite.ts as
 * `bun:sqlite`, and is left alone here). That call records the start (the text as Bun sends it,
 * normalised as every driver's; the values' count; the request of the code that ran the
 * query) and puts the query's id on the handle. Bun settles a query through
 * `Query.prototype.resolve`/`reject` (onResolvePostgresQuery, the pool's onRejectQuery,
 * SQLite's run): their wrappers read the query's handle and record the end first (rows: the
 * result's `count`, summed over a multi-statement query's results; the error's SQLSTATE for
 * PostgreSQL's server errors, else its `code`), then call Bun's with the same arguments, so
 * the program's promise settles with the same value or error object, in the same tick.
 * `createQueryHandle` refusing a query (an unsafe BEGIN outside `sql.begin`) is a query that
 * failed, started and ended there. A query Bun rejects before making its handle (cancelled,
 * called untagged) has no start and is not recorded.
 *
 * A transaction's BEGIN/COMMIT/ROLLBACK/SAVEPOINT are queries of the same class (`sql.begin`
 * makes them), so they are recorded as the program's are.
 */
import { DbSystem } from "../../shared/kinds";
import { dataProperty, wrapMethod, type DbRecorder } from "../../shared/db";
import { withoutSqlEnvironment } from "./sql-environment";

/** The id of a query's start, on its native handle (0: ended, or not recorded). */
const QUERY_ID = Symbol("scope.query");
const hooked = new WeakSet<object>();
/** createQueryHandle functions seen: ours, and SQLite's (left as it is): an adapter whose `createQueryHandle` is one of them is done. */
const seen = new Set<unknown>();

type Handle = Record<symbol, number>;

export function hookBunSql(db: DbRecorder, SQL: unknown): void {
  // A client that never connects (its pool dials on the first query) gives the Query class
  // and the adapter classes through a query that is never run.
  const make = () => Reflect.construct(SQL as new (options: object) => { unsafe(text: string): object }, [{ hostname: "127.0.0.1", port: 1, max: 1 }]);
  let probe: ReturnType<typeof make>;
  try {
    probe = make();
  } catch {
    // Bun refuses a client when the environment's defaults are refused (sql-environment.ts).
    probe = withoutSqlEnvironment(make);
  }
  const query = probe.unsafe("SELECT 1");
  const symbols = Object.getOwnPropertySymbols(query);
  const handleKey = symbols.find((symbol) => symbol.description === "handle");
  const adapterKey = symbols.find((symbol) => symbol.description === "adapter");
  const queryProto = Object.getPrototypeOf(query) as object | null;
  if (handleKey === undefined || adapterKey === undefined || queryProto === null || hooked.has(queryProto)) return;
  hooked.add(queryProto);
  const dialect = owner((query as Record<symbol, object>)[adapterKey]!, "normalizeQuery");
  if (dialect === undefined) return;

  // The systems of the adapter classes met (a query's adapter's prototype → DbSystem).
  let lastProto: unknown;
  let lastSystem: number = DbSystem.bunSql;
  const systemOf = (adapter: object): number => {
    const proto = Object.getPrototypeOf(adapter) as unknown;
    if (proto === lastProto) return lastSystem;
    const name = (proto as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    lastProto = proto;
    lastSystem = name === "MySQLAdapter" ? DbSystem.bunSqlMysql : DbSystem.bunSql;
    return lastSystem;
  };
  const hookAdapter = (adapter: object): void => {
    const proto = owner(adapter, "createQueryHandle");
    if (proto === undefined || hooked.has(proto)) return;
    hooked.add(proto);
    // SQLite's adapter runs its queries through bun:sqlite's Database, whose hooks (sqlite.ts)
    // record them (the same text, rows and error): left as it is, or each would be recorded twice.
    if ((proto as { constructor?: { name?: unknown } }).constructor?.name === "SQLiteAdapter") {
      seen.add((proto as { createQueryHandle?: unknown }).createQueryHandle);
      return;
    }
    wrapMethod(proto, "createQueryHandle", (original) => {
      const wrapper = function (this: object, text: unknown, values: unknown) {
        let id = 0;
        try {
          const system = systemOf(this);
          const made = system === DbSystem.bunSqlMysql ? db.mysqlText(text) : db.queryText(text);
          id = db.queryStartWith(system, made, Array.isArray(values) ? values.length : 0);
        } catch (error) {
          db.recorder.fail(error);
        }
        let handle: unknown;
        try {
          handle = Reflect.apply(original, this, arguments);
        } catch (error) {
          db.queryFailed(id, sqlErrorCode(error), error);
          throw error;
        }
        if (id !== 0 && handle !== null && typeof handle === "object") (handle as Handle)[QUERY_ID] = id;
        return handle;
      };
      seen.add(wrapper);
      return wrapper;
    });
  };
  hookAdapter((query as Record<symbol, object>)[adapterKey]!);
  // Every adapter normalises its query's text before asking for its handle: an adapter class
  // not met yet (SQLite's has a createQueryHandle of its own) is hooked at its first query.
  wrapMethod(dialect, "normalizeQuery", (original) =>
    function (this: { createQueryHandle?: unknown }) {
      if (!seen.has(this.createQueryHandle)) db.recorder.safe(() => hookAdapter(this));
      return Reflect.apply(original, this, arguments);
    },
  );
  const idOf = (query: object): number => {
    const handle = (query as Record<symbol, unknown>)[handleKey];
    if (handle === null || typeof handle !== "object") return 0;
    const id = (handle as Handle)[QUERY_ID];
    if (typeof id !== "number" || id === 0) return 0;
    (handle as Handle)[QUERY_ID] = 0;
    return id;
  };
  wrapMethod(queryProto, "resolve", (original) =>
    function (this: object, result: unknown) {
      try {
        const id = idOf(this);
        if (id !== 0) db.queryEnd(id, sqlRows(result));
      } catch (error) {
        db.recorder.fail(error);
      }
      return Reflect.apply(original, this, arguments);
    },
  );
  wrapMethod(queryProto, "reject", (original) =>
    function (this: object, error: unknown) {
      try {
        const id = idOf(this);
        if (id !== 0) db.queryFailed(id, sqlErrorCode(error), error);
      } catch (caught) {
        db.recorder.fail(caught);
      }
      return Reflect.apply(original, this, arguments);
    },
  );
}

/** The object on `value`'s prototype chain that has `key` as its own property. */
function owner(value: unknown, key: string): object | undefined {
  let object = value;
  for (let depth = 0; depth < 8 && object !== null && typeof object === "object"; depth++) {
    if (Object.prototype.hasOwnProperty.call(object, key)) return object as object;
    object = Object.getPrototypeOf(object);
  }
  return undefined;
}

/** Rows of a result: its `count` (rows returned, or changed by a write), summed over a multi-statement query's results. */
export function sqlRows(result: unknown): number | undefined {
  if (!Array.isArray(result)) return undefined;
  const count = (result as { count?: unknown }).count;
  if (typeof count === "number") return count;
  let sum = 0;
  for (const part of result as unknown[]) {
    const partCount = Array.isArray(part) ? (part as { count?: unknown }).count : undefined;
    if (typeof partCount !== "number") return result.length;
    sum += partCount;
  }
  return sum;
}

/**
 * A failed query's code: a server's own code (PostgreSQL's SQLSTATE `42P01`, MySQL's error
 * number) where Bun's `code` only says the server refused it (ERR_POSTGRES_SERVER_ERROR), else
 * Bun's `code` (ERR_POSTGRES_CONNECTION_CLOSED, SQLITE_CONSTRAINT_UNIQUE).
 */
export function sqlErrorCode(error: unknown): string | undefined {
  if (error === null || (typeof error !== "object" && typeof error !== "function")) return undefined;
  const code = dataProperty(error, "code");
  if (typeof code === "string" && code.endsWith("_SERVER_ERROR")) {
    const errno = dataProperty(error, "errno");
    if (typeof errno === "string" || typeof errno === "number") return String(errno);
  }
  return typeof code === "string" || typeof code === "number" ? String(code) : undefined;
}
