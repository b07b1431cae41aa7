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
 */
import { DbSystem } from "../../../core/layout";
import { boundCount, dataProperty, wrapMethod, type DbRecorder, type QueryText } from "../../shared/db";
import { renamed } from "../../shared/reflect";

const hooked = new WeakSet<object>();

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
        const statement = Reflect.apply(original, this, arguments);
        db.recorder.safe(() => hookStatement(db, statement, arguments[0]));
        return statement;
      },
    );
  }
  for (const name of ["run", "exec"]) {
    wrapMethod(proto, name, (original) =>
      function (this: unknown, sql: unknown) {
        const id = db.queryStartWith(DbSystem.bunSqlite, db.queryText(sql), Math.max(0, boundCount(arguments) - 1));
        let result: unknown;
        try {
          result = Reflect.apply(original, this, arguments);
        } catch (error) {
          db.queryEnd(id, undefined, error, true);
          throw error;
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
      try {
        result = Reflect.apply(original as (...a: unknown[]) => unknown, this, arguments);
      } catch (error) {
        db.queryEnd(id, undefined, error, true);
        throw error;
      }
      ended(db, id, rows, result);
      return result;
    });
    Object.defineProperty(target, name, { ...descriptor, value: wrapper });
  }
}
