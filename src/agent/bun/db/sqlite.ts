/**
 * `bun:sqlite` (Bun's built-in SQLite). Bun resolves built-in modules without plugins or
 * the CommonJS loader, so no step sees the program load it: the agent hooks it at start
 * (`require("bun:sqlite")`, about 1 ms per Bun thread, BENCHMARKS.md). Bun's Statement
 * sets its `run`/`get`/`all`/`values`/`iterate` per instance (chosen by its parameter
 * count), so each statement `Database.prototype.prepare` or `query` returns gets them
 * wrapped once, as own properties like Bun's; `Database.prototype.run`/`exec` run SQL
 * directly. A call records its start (the statement's text, the values bound) and end
 * (rows: `all`/`values` length, `get` 0 or 1, `run`'s changes) or the error it threw,
 * thrown on unchanged (with the wrapper's frame in its stack).
 *
 * A transaction's own statements (`db.transaction(fn)`'s BEGIN, COMMIT, ROLLBACK, SAVEPOINT,
 * RELEASE, ROLLBACK TO) are made inside bun:sqlite (not through `prepare`) and run through
 * the native statement's `run`, with no Statement of the program's around them: that `run`
 * is wrapped at the native statements' prototype (reached from the first Statement's
 * `native`, or, at the program's first `transaction()`, from a statement prepared and
 * finalized there), recording only calls that no wrapper of a program's statement or
 * `Database.run`/`exec` is making, so each query is recorded once, as better-sqlite3's are.
 */
import { DbSystem } from "../../../core/layout";
import { boundCount, dataProperty, prepareFailed, wrapMethod, type DbRecorder, type QueryText } from "../../shared/db";
import { renamed } from "../../shared/reflect";

const hooked = new WeakSet<object>();
/** Calls of the program's statements and Database.run/exec in progress: a native run under them is theirs. */
let wrapped = 0;
/** Native statement → its recorded text (bun:sqlite's own statements live as long as their database). */
const nativeTexts = new WeakMap<object, QueryText>();
let nativeRunHooked = false;
/** The agent's own statement (transaction's probe) is being prepared: a failure there is not the program's query. */
let probing = false;

type Rows = (result: unknown) => number | undefined;
const changes: Rows = (result) => {
  const count = dataProperty(result, "changes");
  return typeof count === "number" ? count : undefined;
};
const statementRows: Record<string, Rows> = {
  run: changes,
  get: (result) => (result === null || result === undefined ? 0 : 1),
  all: (result) => (Array.isArray(result) ? result.length : undefined),
  values: (result) => (Array.isArray(result) ? result.length : undefined),
  iterate: () => undefined,
};

/** A query's end from what the call returned (the row count when known). */
function ended(db: DbRecorder, id: number, rows: Rows, result: unknown): void {
  try {
    db.queryEnd(id, rows(result));
  } catch (error) {
    db.recorder.fail(error);
  }
}

export function hookBunSqlite(db: DbRecorder): void {
  const sqlite = require("bun:sqlite") as { Database?: { prototype?: object } };
  const proto = sqlite.Database?.prototype;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  for (const name of ["prepare", "query"]) {
    wrapMethod(proto, name, (original) =>
      function (this: unknown) {
        let statement: unknown;
        try {
          statement = Reflect.apply(original, this, arguments);
        } catch (error) {
          if (!probing) prepareFailed(db, DbSystem.bunSqlite, arguments[0], error);
          throw error;
        }
        db.recorder.safe(() => hookStatement(db, statement, arguments[0]));
        return statement;
      },
    );
  }
  // A program whose first statement is inside its first transaction: the native run hooked
  // before that transaction's BEGIN, from a statement prepared and finalized for it.
  wrapMethod(proto, "transaction", (original) =>
    function (this: { prepare?: (sql: string) => unknown }) {
      if (!nativeRunHooked) {
        probing = true;
        try {
          const probe = this.prepare?.("SELECT 1") as { native?: unknown; finalize?: () => void } | undefined;
          hookNativeRun(db, probe?.native);
          probe?.finalize?.();
        } catch {
          // A closed database: transaction() says so itself.
        } finally {
          probing = false;
        }
      }
      return Reflect.apply(original, this, arguments);
    },
  );
  for (const name of ["run", "exec"]) {
    wrapMethod(proto, name, (original) =>
      function (this: unknown, sql: unknown) {
        const id = db.queryStartWith(DbSystem.bunSqlite, db.queryText(sql), Math.max(0, boundCount(arguments) - 1));
        let result: unknown;
        wrapped++;
        try {
          result = Reflect.apply(original, this, arguments);
        } catch (error) {
          db.queryEnd(id, undefined, error, true);
          throw error;
        } finally {
          wrapped--;
        }
        ended(db, id, changes, result);
        return result;
      },
    );
  }
}

function hookStatement(db: DbRecorder, statement: unknown, sql: unknown): void {
  if (statement === null || typeof statement !== "object" || hooked.has(statement)) return;
  hooked.add(statement);
  const target = statement as Record<string, unknown>;
  // The text is the statement's for its whole life: made once.
  const text = db.queryText(sql);
  for (const [name, rows] of Object.entries(statementRows)) {
    const descriptor = Object.getOwnPropertyDescriptor(target, name);
    const original = descriptor?.value;
    if (!descriptor || typeof original !== "function" || !descriptor.writable) continue;
    const wrapper = renamed(original, function (this: unknown) {
      const id = db.queryStartWith(DbSystem.bunSqlite, text, boundCount(arguments));
      let result: unknown;
      wrapped++;
      try {
        result = Reflect.apply(original as (...a: unknown[]) => unknown, this, arguments);
      } catch (error) {
        db.queryEnd(id, undefined, error, true);
        throw error;
      } finally {
        wrapped--;
      }
      ended(db, id, rows, result);
      return result;
    });
    Object.defineProperty(target, name, { ...descriptor, value: wrapper });
  }
  hookNativeRun(db, (statement as { native?: unknown }).native);
}

/** The native statements' `run` (see above), hooked once, from any native statement. */
function hookNativeRun(db: DbRecorder, native: unknown): void {
  const proto = native !== null && typeof native === "object" ? (Object.getPrototypeOf(native) as object | null) : null;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  nativeRunHooked = true;
  wrapMethod(proto, "run", (original) =>
    function (this: object) {
      if (wrapped > 0) return Reflect.apply(original, this, arguments);
      let id = 0;
      try {
        let text = nativeTexts.get(this);
        if (text === undefined) nativeTexts.set(this, (text = db.queryText(String(this))));
        id = db.queryStartWith(DbSystem.bunSqlite, text, 0);
      } catch (error) {
        db.recorder.fail(error);
      }
      let result: unknown;
      try {
        result = Reflect.apply(original, this, arguments);
      } catch (error) {
        db.queryEnd(id, undefined, error, true);
        throw error;
      }
      // bun:sqlite's own statements change no rows; the native run returns nothing to count.
      ended(db, id, () => 0, result);
      return result;
    },
  );
}
