/**
 * `better-sqlite3` (Node): synchronous, native, no hooks of its own. `Database.prototype.
 * prepare` and `exec` are wrapped when its lib/database.js loads; the native Statement
 * class is reached through the first statement prepared and its `run`, `get`, `all`,
 * `iterate` wrapped at its prototype. A call records its start (the statement's `source`,
 * the values bound) and its end (rows: `all`'s length, `get`'s 0 or 1, `run`'s changes;
 * `iterate` ends when the iterator is returned, rows not counted) or the error it threw,
 * which is thrown on unchanged (one more frame, the wrapper's, in its stack).
 */
import { DbSystem } from "../../shared/kinds";
import { boundCount, dataProperty, prepareFailed, wrapMethod, type DbRecorder, type QueryText } from "../../shared/db";

const hooked = new WeakSet<object>();
/** Statement → its recorded text and `system` (its database's db_connection), made once when it was prepared. */
const texts = new WeakMap<object, { text: QueryText; system: number }>();
/** Database → the `system` its statements are recorded with: DbSystem.betterSqlite3 and its file as the db_connection's database. */
const databases = new WeakMap<object, number>();

/**
 * A Database's file name (":memory:", "" for a temporary one) as its db_connection (db.ts
 * `connection`): better-sqlite3's own `name` getter, which its constructor defines on the
 * instance (it reads the native database's name); anything else (a subclass's own
 * property, a Proxy) is not read.
 */
function databaseConnection(db: DbRecorder, database: unknown): number {
  if (typeof database !== "object" || database === null || db.isProxy(database)) return DbSystem.betterSqlite3;
  const known = databases.get(database);
  if (known !== undefined) return known;
  const descriptor = Object.getOwnPropertyDescriptor(database, "name");
  const getter = descriptor?.get;
  const name = typeof getter === "function" && getter.name === "name" ? Reflect.apply(getter, database, []) : undefined;
  const system = db.connection(DbSystem.betterSqlite3, name, undefined, undefined, undefined);
  databases.set(database, system);
  return system;
}
/**
 * A statement not prepared through the hooked `prepare`: one better-sqlite3 prepared itself (a
 * transaction's BEGIN/COMMIT), or one prepared before `scope attach`. Its text from its
 * `source`, its database from its `database`, the Database better-sqlite3's constructor of
 * Statement freezes on it (a data property, no getter run), remembered for its next runs.
 */
function unknownStatement(db: DbRecorder, statement: object): { text: QueryText; system: number } {
  const made = { text: db.queryText(dataProperty(statement, "source")), system: databaseConnection(db, dataProperty(statement, "database")) };
  texts.set(statement, made);
  return made;
}

let statementsHooked = false;
/** The agent's own statement (transaction's probe) is being prepared: a failure there is not the program's query. */
let probing = false;

type Rows = (result: unknown) => number | undefined;
const rowsBy: Record<string, Rows> = {
  run: (result) => {
    const changes = dataProperty(result, "changes");
    return typeof changes === "number" ? changes : undefined;
  },
  get: (result) => (result === undefined ? 0 : 1),
  all: (result) => (Array.isArray(result) ? result.length : undefined),
  iterate: () => undefined,
};

export function hookBetterSqlite3(db: DbRecorder, Database: unknown): void {
  const proto = (Database as { prototype?: object } | undefined)?.prototype;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  wrapMethod(proto, "prepare", (original) =>
    function prepare(this: unknown, sql: unknown) {
      let statement: unknown;
      try {
        statement = Reflect.apply(original, this, arguments);
      } catch (error) {
        if (!probing) db.recorder.safe(() => prepareFailed(db, databaseConnection(db, this), sql, error));
        throw error;
      }
      db.recorder.safe(() => {
        hookStatement(db, statement);
        if (statement !== null && typeof statement === "object") texts.set(statement, { text: db.queryText(sql), system: databaseConnection(db, this) });
      });
      return statement;
    },
  );
  // A transaction's BEGIN/COMMIT/ROLLBACK are statements better-sqlite3 prepares natively and
  // runs through the Statement prototype: a program whose first transaction comes before any
  // statement of its own has that prototype hooked first, from a statement prepared for it.
  wrapMethod(proto, "transaction", (original) =>
    function transaction(this: { prepare?: (sql: string) => unknown }) {
      if (!statementsHooked) {
        probing = true;
        try {
          hookStatement(db, this.prepare?.("SELECT 1"));
        } catch {
          // A closed database: transaction() says so itself.
        } finally {
          probing = false;
        }
      }
      return Reflect.apply(original, this, arguments);
    },
  );
  wrapMethod(proto, "exec", (original) =>
    function exec(this: unknown, sql: unknown) {
      let system: number = DbSystem.betterSqlite3;
      try {
        system = databaseConnection(db, this);
      } catch (error) {
        db.recorder.fail(error);
      }
      const id = db.queryStart(system, sql, 0);
      let result: unknown;
      try {
        result = Reflect.apply(original, this, arguments);
      } catch (error) {
        db.queryEnd(id, undefined, error, true);
        throw error;
      }
      db.queryEnd(id, undefined);
      return result;
    },
  );
}

function hookStatement(db: DbRecorder, statement: unknown): void {
  if (statement === null || typeof statement !== "object") return;
  const proto = Object.getPrototypeOf(statement) as object | null;
  if (proto) hookStatementPrototype(db, proto);
}

/**
 * The native Statement class's prototype: reached through the first statement prepared, or
 * (scope attach, statements prepared before it) from the addon's exports in require.cache.
 */
export function hookStatementPrototype(db: DbRecorder, proto: object): void {
  if (hooked.has(proto)) return;
  hooked.add(proto);
  statementsHooked = true;
  // The per-call path allocates nothing of its own (no closure per call).
  const start = (statement: object, args: IArguments) => {
    try {
      const made = texts.get(statement) ?? unknownStatement(db, statement);
      return db.queryStartWith(made.system, made.text, boundCount(args));
    } catch (error) {
      db.recorder.fail(error);
      return 0;
    }
  };
  for (const [name, rows] of Object.entries(rowsBy)) {
    wrapMethod(proto, name, (original) =>
      function (this: object) {
        const id = start(this, arguments);
        let result: unknown;
        try {
          result = Reflect.apply(original, this, arguments);
        } catch (error) {
          db.queryEnd(id, undefined, error, true);
          throw error;
        }
        db.queryEnd(id, rows(result));
        return result;
      },
    );
  }
}
