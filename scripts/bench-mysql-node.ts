/**
 * Node side of scripts/bench-mysql.ts: mysql2 against a real MariaDB (MYSQL_PORT) with and
 * without its integration in one process: two copies of mysql2 loaded side by side, one
 * hooked (src/agent/node/db/mysql2.ts, recording into an overwrite ring through scope.node,
 * no consumer), the same workload alternated between them round by round; CPU time (user +
 * system) of the process per query, and queries per second. Also the MySQL dialect of the
 * text normaliser against the standard one on the same text.
 *   node <bundle> <scope.node> <ring-path> <queries per round> <rounds>
 */
import { makeDbRecorder } from "../src/agent/shared/db";
import { previewWalk } from "../src/agent/shared/preview";
import { Recorder } from "../src/agent/shared/recorder";
import type { Sink } from "../src/agent/shared/sink";
import { normalizeSql, SqlDialect } from "../src/agent/shared/sql";
import { hookMysql2Connection, hookMysql2Pool } from "../src/agent/node/db/mysql2";

const [addonPath, ringPath, queriesText, roundsText] = process.argv.slice(2);
const addon = require(addonPath!) as Sink & { attach(path: string, tid: number): boolean };
if (!addon.attach(ringPath!, 0)) throw new Error(`attach ${ringPath} failed`);
const queries = Number(queriesText);
const rounds = Number(roundsText);
const db = makeDbRecorder(new Recorder(addon, { process: true, thread: true, message: true, http: true, db: true, loop: false, memory: false }, previewWalk), () => false);
const results: Record<string, number> = {};

function timeNs(count: number, fn: (count: number) => void): number {
  fn(Math.min(count, 10_000));
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint();
    fn(count);
    samples.push(Number(process.hrtime.bigint() - start) / count);
  }
  return median(samples);
}

function median(values: number[]): number {
  return [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
}

const withLiterals = "SELECT u.id, u.email FROM users u WHERE u.email = 'ann\\'s@example.com' AND u.note <> \"x\" AND u.total > 100.50 AND u.id IN (1, 2, 3) # trailing comment";
let sink = 0;
results[`normalizeSql standard, ${withLiterals.length} chars`] = timeNs(200_000, (n) => {
  for (let i = 0; i < n; i++) sink += normalizeSql(withLiterals).text.length;
});
results[`normalizeSql mysql, ${withLiterals.length} chars`] = timeNs(200_000, (n) => {
  for (let i = 0; i < n; i++) sink += normalizeSql(withLiterals, SqlDialect.mysql).text.length;
});

type Callback = (error: unknown, rows?: unknown) => void;
interface Conn {
  query(sql: string, values: unknown[] | Callback, cb?: Callback): unknown;
  execute(sql: string, values: unknown[], cb: Callback): unknown;
  end(cb: Callback): void;
}
interface Mysql2 {
  createConnection(options: object): Conn;
  createPool(options: object): Conn;
}

function load(): Mysql2 {
  for (const key of Object.keys(require.cache)) if (/[\\/]node_modules[\\/]mysql2[\\/]/.test(key)) delete require.cache[key];
  return require("mysql2") as Mysql2;
}

const cpu = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) * 1000;
};
const call = (fn: (cb: Callback) => void) => new Promise<unknown>((resolve, reject) => fn((error, rows) => (error ? reject(error) : resolve(rows))));

/**
 * The wrapper's own cost, without I/O: `query` on a connection object of each copy whose
 * addCommand answers at once (the command's callback called with a one-row result), so the
 * difference is the integration's path alone (start, the callback's wrapper, end: two records).
 */
function wrapperRows(): void {
  const copy = (traced: boolean) => {
    load();
    const Connection = Object.entries(require.cache).find(([key]) => key.endsWith("/mysql2/lib/base/connection.js"))![1]!.exports as { prototype: object };
    if (traced) hookMysql2Connection(db, Connection);
    const conn = Object.create(Connection.prototype) as Record<string, unknown>;
    Object.assign(conn, {
      config: { namedPlaceholders: false, queryFormat: undefined, rowsAsArray: false },
      _command: null,
      _resolveNamedPlaceholders: () => {},
      _sqlMode: () => 0,
      format: (sql: string) => sql,
      addCommand: (command: { onResult: Callback }) => (command.onResult(null, [{ n: 1 }]), command),
    });
    return conn as unknown as Conn;
  };
  const raw = copy(false);
  const traced = copy(true);
  const done = () => {};
  const run = (conn: Conn) => (n: number) => {
    for (let i = 0; i < n; i++) conn.query("SELECT ? AS n", [i], done);
  };
  results["query wrapper alone (no I/O): untraced ns/query"] = timeNs(50_000, run(raw));
  results["query wrapper alone (no I/O): traced ns/query"] = timeNs(50_000, run(traced));
}

async function mysqlRows(): Promise<void> {
  const options = { host: "127.0.0.1", port: Number(process.env.MYSQL_PORT), user: "root", database: "scope" };
  const raw = load();
  const traced = load();
  // mysql2's package exports do not name its lib files: the traced copy's, from the cache.
  const loaded = (end: string) => Object.entries(require.cache).find(([key]) => key.endsWith(end))?.[1]?.exports;
  hookMysql2Connection(db, loaded("/mysql2/lib/base/connection.js"));
  hookMysql2Pool(db, loaded("/mysql2/lib/base/pool.js"));
  const workloads: [string, (m: Mysql2) => Promise<(count: number) => Promise<void>>][] = [
    ["query `?` values, callback", async (m) => {
      const conn = m.createConnection(options);
      return async (count) => {
        for (let i = 0; i < count; i++) await call((cb) => conn.query("SELECT ? AS n", [i], cb));
      };
    }],
    ["execute (prepared), callback", async (m) => {
      const conn = m.createConnection(options);
      return async (count) => {
        for (let i = 0; i < count; i++) await call((cb) => conn.execute("SELECT ? AS n", [i], cb));
      };
    }],
    ["query, literals in its text (a new text each)", async (m) => {
      const conn = m.createConnection(options);
      return async (count) => {
        for (let i = 0; i < count; i++) await call((cb) => conn.query(`SELECT ${i} AS n, 'user${i}@example.com' AS email`, cb));
      };
    }],
    ["pool.query x4 in parallel, pool of 4", async (m) => {
      const pool = m.createPool({ ...options, connectionLimit: 4 });
      return async (count) => {
        for (let i = 0; i < count; i += 4) await Promise.all([0, 1, 2, 3].map((j) => call((cb) => pool.query("SELECT ? AS n", [i + j], cb))));
      };
    }],
  ];
  for (const [name, make] of workloads) {
    const plain = await make(raw);
    const hooked = await make(traced);
    await plain(300);
    await hooked(300);
    const cpuPlain: number[] = [];
    const cpuTraced: number[] = [];
    const wallPlain: number[] = [];
    const wallTraced: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const [run, cpus, walls] of [[plain, cpuPlain, wallPlain], [hooked, cpuTraced, wallTraced]] as const) {
        const before = cpu();
        const started = process.hrtime.bigint();
        await run(queries);
        cpus.push((cpu() - before) / queries);
        walls.push(Number(process.hrtime.bigint() - started) / queries);
      }
    }
    results[`${name}: untraced CPU ns/query`] = median(cpuPlain);
    results[`${name}: traced CPU ns/query`] = median(cpuTraced);
    results[`${name}: untraced queries/s`] = 1e9 / median(wallPlain);
    results[`${name}: traced queries/s`] = 1e9 / median(wallTraced);
  }
}

wrapperRows();
mysqlRows().then(
  () => {
    if (sink === 0) throw new Error("unreachable");
    console.log(JSON.stringify({ results, errors: db.recorder.errors }));
    process.exit(0);
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
