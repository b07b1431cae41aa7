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
 */
import { DbSystem } from "../../shared/kinds";
import { dataProperty, wrapMethod, type DbRecorder } from "../../shared/db";

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

export function hookPostgresQuery(db: DbRecorder, Query: unknown): void {
  const proto = (Query as { prototype?: object } | undefined)?.prototype;
  if (!proto || hooked.has(proto)) return;
  hooked.add(proto);
  wrapMethod(proto, "handle", (original) =>
    function handle(this: Record<string, unknown>) {
      if (this.executed !== true) db.recorder.safe(() => onStart(db, this));
      return Reflect.apply(original, this, arguments);
    },
  );
}

function onStart(db: DbRecorder, query: Record<string, unknown>): void {
  const resolve = dataProperty(query, "resolve");
  const reject = dataProperty(query, "reject");
  if (typeof resolve !== "function" || typeof reject !== "function") return;
  const args = dataProperty(query, "args");
  const id = db.queryStart(DbSystem.postgresJs, textOf(dataProperty(query, "strings")), Array.isArray(args) ? args.length : 0);
  let ended = false;
  query.resolve = function (this: unknown, value: unknown) {
    if (!ended) {
      ended = true;
      db.recorder.safe(() => db.queryEnd(id, rowsOf(value)));
    }
    return Reflect.apply(resolve, this, arguments);
  };
  query.reject = function (this: unknown, error: unknown) {
    if (!ended) {
      ended = true;
      db.recorder.safe(() => db.queryEnd(id, undefined, error, true));
    }
    return Reflect.apply(reject, this, arguments);
  };
}
