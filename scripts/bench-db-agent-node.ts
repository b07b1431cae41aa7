/**
 * Node side of scripts/bench-db-agent.ts: ns per query in the database integrations' own
 * path (the text's recorded form, start and end records through scope.node), and the
 * query text normaliser alone. Overwrite ring, no consumer.
 *   node <bundle> <scope.node> <ring-path> <queries> <rounds>
 */
import { makeDbRecorder } from "../src/agent/shared/db";
import { DbSystem } from "../src/core/layout";
import { previewWalk } from "../src/agent/shared/preview";
import { Recorder } from "../src/agent/shared/recorder";
import type { Sink } from "../src/agent/shared/sink";
import { normalizeSql } from "../src/agent/shared/sql";
import { hookBetterSqlite3 } from "../src/agent/node/db/better-sqlite3";
import { hookPgClient, hookPgQuery } from "../src/agent/node/db/pg";

const [addonPath, ringPath, queriesText, roundsText] = process.argv.slice(2);
const addon = require(addonPath!) as Sink & { attach(path: string, tid: number): boolean };
if (!addon.attach(ringPath!, 0)) throw new Error(`attach ${ringPath} failed`);
const queries = Number(queriesText);
const rounds = Number(roundsText);

function measure(count: number, fn: (count: number) => void): number {
  fn(Math.min(count, 10_000));
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint();
    fn(count);
    samples.push(Number(process.hrtime.bigint() - start) / count);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

const short = "SELECT id, email FROM users WHERE id = $1";
const withLiterals = "SELECT u.id, u.email, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.email = 'ann@example.com' AND o.total > 100.50 AND o.created_at > '2026-01-01' AND o.status IN ('paid', 'shipped') ORDER BY o.created_at DESC LIMIT 20";
const huge = `INSERT INTO t (id, s) VALUES ${Array.from({ length: 100_000 }, (_, i) => `(${i}, 'secret-${i}')`).join(", ")}`;
const db = makeDbRecorder(new Recorder(addon, { process: true, thread: true, message: true, http: true, db: true, loop: false, memory: false }, previewWalk), () => false);
const prepared = db.queryText(short);
let sink = 0;
const results: Record<string, number> = {
  [`normalizeSql, ${short.length} chars`]: measure(queries, (n) => {
    for (let i = 0; i < n; i++) sink += normalizeSql(short).text.length;
  }),
  [`normalizeSql, ${withLiterals.length} chars with 6 literals`]: measure(queries / 4, (n) => {
    for (let i = 0; i < n; i++) sink += normalizeSql(withLiterals).text.length;
  }),
  [`normalizeSql, ${(huge.length / 1e6).toFixed(1)} MB (reads 64 KiB, cut)`]: measure(Math.max(1, queries / 200), (n) => {
    for (let i = 0; i < n; i++) sink += normalizeSql(huge).text.length;
  }),
  "query start + end, text remembered (pg, postgres.js)": measure(queries, (n) => {
    for (let i = 0; i < n; i++) db.queryEnd(db.queryStart(DbSystem.pg, short, 1), 1);
  }),
  "query start + end, prepared statement's text (SQLite)": measure(queries, (n) => {
    for (let i = 0; i < n; i++) db.queryEnd(db.queryStartWith(DbSystem.betterSqlite3, prepared, 1), 1);
  }),
  "one record alone (recorder.event)": measure(queries, (n) => {
    for (let i = 0; i < n; i++) db.recorder.event(65, i, 1, 0, 0, 0, 0);
  }),
};
// better-sqlite3's `get` on a prepared statement, in this process: before and after its
// integration is installed (same statement text, same database).
const Database = require("better-sqlite3") as new (file: string) => { exec(sql: string): void; prepare(sql: string): { get(...args: unknown[]): unknown } };
const sqlite = new Database(":memory:");
sqlite.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
for (let i = 1; i <= 100; i++) sqlite.exec(`INSERT INTO t (v) VALUES ('v${i}')`);
const rawGet = sqlite.prepare("SELECT v FROM t WHERE id = ?");
results["better-sqlite3 get, untraced"] = measure(queries / 4, (n) => {
  for (let i = 0; i < n; i++) sink += rawGet.get((i % 100) + 1) ? 1 : 0;
});
hookBetterSqlite3(db, Database);
const tracedGet = sqlite.prepare("SELECT v FROM t WHERE id = ?");
results["better-sqlite3 get, traced"] = measure(queries / 4, (n) => {
  for (let i = 0; i < n; i++) sink += tracedGet.get((i % 100) + 1) ? 1 : 0;
});
if (sink === 0) throw new Error("unreachable");

// pg against a real server (PGURL), in this process: two copies of pg loaded side by side,
// one with its integration installed, the same query alternated between them; CPU time
// (user + system) of the process per query.
async function pgRows(): Promise<void> {
  const url = process.env.PGURL;
  if (!url) return;
  type PgClient = { connect(): Promise<void>; query(text: string, values?: unknown[]): Promise<unknown>; end(): Promise<void> };
  const load = () => {
    for (const key of Object.keys(require.cache)) if (/[\\/]node_modules[\\/](pg|pg-pool|pg-protocol|pg-types)[\\/]/.test(key)) delete require.cache[key];
    return require("pg") as { Client: new (options: { connectionString: string }) => PgClient };
  };
  const raw = new (load().Client)({ connectionString: url });
  const tracedPg = load();
  hookPgClient(db, require("pg/lib/client"));
  hookPgQuery(db, require("pg/lib/query"));
  const traced = new tracedPg.Client({ connectionString: url });
  await raw.connect();
  await traced.connect();
  const cpu = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) * 1000;
  };
  const perQuery = async (client: PgClient, count: number) => {
    const before = cpu();
    for (let i = 0; i < count; i++) await client.query("SELECT $1::int AS n", [i]);
    return (cpu() - before) / count;
  };
  await perQuery(raw, 300);
  await perQuery(traced, 300);
  const untracedSamples: number[] = [];
  const tracedSamples: number[] = [];
  for (let round = 0; round < Math.max(rounds, 7); round++) {
    untracedSamples.push(await perQuery(raw, 1000));
    tracedSamples.push(await perQuery(traced, 1000));
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  results["pg client.query($1), untraced (CPU per query)"] = median(untracedSamples);
  results["pg client.query($1), traced (CPU per query)"] = median(tracedSamples);
  await raw.end();
  await traced.end();
}

pgRows().then(
  () => console.log(JSON.stringify({ results, errors: db.recorder.errors })),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
