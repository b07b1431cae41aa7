/**
 * What a row costs bun:sqlite, to see where `scope query`'s load time goes: 1 M rows of
 * 9-10 integers (an event's columns) inserted through one prepared 128-row INSERT bound
 * from one array, into (a) a WITHOUT ROWID table keyed by (thread, ts, id), (b) a table
 * whose INTEGER PRIMARY KEY is given, (c) a table whose rowid SQLite appends, then an
 * index on (thread, ts) for (b) and (c); (d) the same loop without the INSERT (the
 * JavaScript side alone). CPU time of this process, ms per million rows.
 *
 *   . scripts/env.sh && bun scripts/bench-query-insert.ts
 */
import { Database } from "bun:sqlite";

const ROWS = 1_000_000;
const cpu = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};
const variants: [string, string, boolean][] = [
  ["without rowid, key (thread, ts, id)", "CREATE TABLE e(thread INTEGER, ts INTEGER, id INTEGER, kind INTEGER, flags INTEGER, a INTEGER, b INTEGER, c INTEGER, d INTEGER, e INTEGER, PRIMARY KEY(thread, ts, id)) WITHOUT ROWID", true],
  ["id INTEGER PRIMARY KEY given", "CREATE TABLE e(id INTEGER, thread INTEGER, ts INTEGER, kind INTEGER, flags INTEGER, a INTEGER, b INTEGER, c INTEGER, d INTEGER, e INTEGER, PRIMARY KEY(id))", true],
  ["rowid appended by SQLite", "CREATE TABLE e(thread INTEGER, ts INTEGER, kind INTEGER, flags INTEGER, a INTEGER, b INTEGER, c INTEGER, d INTEGER, e INTEGER)", false],
  ["no INSERT (JavaScript only)", "CREATE TABLE e(thread INTEGER, ts INTEGER, kind INTEGER, flags INTEGER, a INTEGER, b INTEGER, c INTEGER, d INTEGER, e INTEGER)", false],
];
for (const [name, ddl, withId] of variants) {
  const db = new Database(":memory:");
  db.exec("PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF;");
  db.exec(ddl);
  const width = withId ? 10 : 9;
  const statement = db.prepare(`INSERT INTO e VALUES ${Array(128).fill(`(${Array(width).fill("?").join(",")})`).join(",")}`);
  const insert = !name.startsWith("no INSERT");
  const values: number[] = [];
  const started = cpu();
  db.exec("BEGIN");
  for (let i = 1; i <= ROWS; i++) {
    if (!withId) values.push(1, 3_000_000_000 + i * 37, 33, 0, i & 7, i, 5 + i, 0, 0);
    else if (name.startsWith("id")) values.push(i, 1, 3_000_000_000 + i * 37, 33, 0, i & 7, i, 5 + i, 0, 0);
    else values.push(1, 3_000_000_000 + i * 37, i, 33, 0, i & 7, i, 5 + i, 0, 0);
    if (values.length === 128 * width) {
      if (insert) statement.run(values as never);
      values.length = 0;
    }
  }
  db.exec("COMMIT");
  const inserted = cpu();
  const indexed = name.startsWith("without") || !insert ? 0 : (db.exec("CREATE INDEX e_time ON e(thread, ts)"), cpu() - inserted);
  console.log(`${name.padEnd(36)} insert ${(inserted - started).toFixed(0).padStart(5)} ms${indexed ? `, index (thread, ts) ${indexed.toFixed(0)} ms` : ""}`);
  db.close();
}
