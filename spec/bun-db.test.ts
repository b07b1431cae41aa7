/**
 * Bun's built-in database clients under `scope run`: Bun.sql / Bun.SQL (PostgreSQL) against a
 * real PostgreSQL server and Bun.redis / Bun.RedisClient against a real Redis server
 * (postgres-harness.ts, redis-harness.ts). Each query or command a record with its text
 * (normalised as every driver's), rows, the server's error code; transactions' own
 * statements; queries nested under the Bun.serve request that ran them; the OTLP export's
 * db.system.name; and the program's output unchanged (the stand-ins on `Bun`, stand-in.ts,
 * behave as Bun's own objects).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { runCli } from "./harness";
import { expectAllEnded, queryRows, requestTargetOf, untracedThenTraced } from "./db-checks";
import { startPostgres, type Postgres } from "./postgres-harness";
import { startRedis, type RedisServer } from "./redis-harness";
import { startMySql } from "./mysql-harness";

let pg: Postgres;
let redis: RedisServer;
beforeAll(async () => {
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
});
afterAll(() => {
  pg?.stop();
  redis?.stop();
  cleanup();
});

const bun = process.execPath;
const env = () => ({ DATABASE_URL: pg.url, REDIS_URL: redis.url });

function spans(file: string): { attributes: Record<string, unknown>; parentSpanId?: string; spanId: string; kind: unknown }[] {
  const all = (JSON.parse(readFileSync(file, "utf8")).resourceSpans as any[]).flatMap((r) => r.scopeSpans.flatMap((s: any) => s.spans));
  return all.map((span: any) => ({
    ...span,
    attributes: Object.fromEntries(span.attributes.map((a: any) => [a.key, a.value.stringValue ?? a.value.intValue ?? a.value.boolValue])),
  }));
}

describe("Bun.sql (PostgreSQL)", () => {
  test("queries of the default client and of a new SQL: text, values' count, rows, SQLSTATE, transactions, reserve; output unchanged", async () => {
    const traced = await untracedThenTraced([bun, "db/bun-sql.ts"], () => {}, env());
    const s = "bun:sql";
    expect(queryRows(traced.events)).toEqual([
      [s, "select $1 ::int + ? as answer", 1, 1, false, null],
      [s, "drop table if exists items", 0, 0, false, null],
      [s, "create table items (id int primary key, name text)", 0, 0, false, null],
      [s, 'insert into items ("id", "name") VALUES($1, $2),($3, $4)', 4, 2, false, null],
      [s, "select id, name from items where id > $1 order by id", 1, 2, false, null],
      [s, "select id from items order by id", 0, 2, false, null],
      [s, "select name from items order by id", 0, 2, false, null],
      // A multi-statement simple query: its results' rows summed.
      [s, "select ? as x; select ? as y", 0, 2, false, null],
      [s, "select * from missing_table", 0, null, true, "42P01"],
      [s, "insert into items values ($1 , $2 )", 2, null, true, "23505"],
      [s, "BEGIN", 0, 0, false, null],
      [s, "update items set name = $1 where id = $2", 2, 1, false, null],
      [s, "COMMIT", 0, 0, false, null],
      [s, "BEGIN", 0, 0, false, null],
      [s, "update items set name = $1 where id = $2", 2, 1, false, null],
      [s, "ROLLBACK", 0, 0, false, null],
      [s, "select count(*)::int as n from items", 0, 1, false, null],
    ]);
    const failed = traced.events.find((e) => e.kind === "db_query" && e.fields.errorCode === "42P01")!;
    expect(failed.fields.errorMessage).toBe('relation "missing_table" does not exist');
    expectAllEnded(traced.events);
  });

  test("an unsafe BEGIN Bun refuses, a cancelled query (57014), a refused connection; a worker thread's queries and commands", async () => {
    const traced = await untracedThenTraced([bun, "db/bun-sql-edges.ts"], () => redis.cli("FLUSHALL"), env());
    expect(traced.stdout).toBe('unsafe ERR_POSTGRES_UNSAFE_TRANSACTION\ncancelled 57014\nrefused ERR_POSTGRES_CONNECTION_REFUSED\n[ "worker", 5, "1" ]\n');
    const rows = traced.events.filter((e) => e.kind === "db_query").map((e) => [e.tid === 0 ? "main" : "worker", e.fields.system, e.fields.text, e.fields.failed, e.fields.errorCode ?? null]);
    expect(rows).toEqual([
      ["main", "bun:sql", "BEGIN", true, "ERR_POSTGRES_UNSAFE_TRANSACTION"],
      ["main", "bun:sql", "select pg_sleep(?)", true, "57014"],
      ["main", "bun:sql", "select ?", true, "ERR_POSTGRES_CONNECTION_REFUSED"],
      ["worker", "bun:sql", "select ? as five", false, null],
      ["worker", "bun:redis", "SET ? ?", false, null],
      ["worker", "bun:redis", "GET ?", false, null],
    ]);
    expectAllEnded(traced.events);
  });

  test("a default client Bun refuses (DATABASE_URL of an unsupported protocol) throws as untraced; new SQL(url) still recorded", async () => {
    const traced = await untracedThenTraced([bun, "db/bun-sql-refused.ts"], () => {}, { DATABASE_URL: "mysqlx://nowhere", PGURL: pg.url });
    expect(traced.stdout).toContain("default: Unsupported protocol: mysqlx");
    expect(queryRows(traced.events)).toEqual([["bun:sql", "select ? as one", 0, 1, false, null]]);
  });

  test("the stand-ins on Bun behave as Bun's own objects", async () => {
    const traced = await untracedThenTraced([bun, "db/bun-stand-ins.ts"], () => redis.cli("FLUSHALL"), env());
    expect(traced.stdout).toContain("done");
    expect(traced.events.filter((e) => e.kind === "db_query").length).toBeGreaterThan(0);
  });
});

test("Bun.SQL's MySQL adapter against MariaDB: `?` texts (MySQL's lexical rules), rows, the server's error number, START TRANSACTION/COMMIT", async () => {
  const mysql = await startMySql();
  try {
    const traced = await untracedThenTraced([bun, "db/bun-sql-mysql.ts"], () => {}, { MYSQL_PORT: String(mysql.port) });
    const m = "bun:sql mysql";
    expect(queryRows(traced.events)).toEqual([
      [m, "drop table if exists bun_items", 0, 0, false, null],
      [m, "create table bun_items (id int primary key, name text)", 0, 0, false, null],
      [m, "insert into bun_items (`id`, `name`) VALUES(?, ?),(?, ?)", 4, 2, false, null],
      [m, "select id, name from bun_items where id > ? and name <> ? order by id", 1, 2, false, null],
      [m, "select * from missing_table", 0, null, true, "1146"],
      [m, "START TRANSACTION", 0, 0, false, null],
      [m, "update bun_items set name = ? where id = ?", 2, 1, false, null],
      [m, "COMMIT", 0, 0, false, null],
    ]);
    expectAllEnded(traced.events);
  } finally {
    mysql.stop();
  }
});

describe("Bun.redis and Bun.RedisClient", () => {
  test("commands by method and by send: text, params, rows, error reply's code; output unchanged", async () => {
    const traced = await untracedThenTraced([bun, "db/bun-redis.ts"], () => redis.cli("FLUSHALL"), env());
    const r = "bun:redis";
    expect(queryRows(traced.events)).toEqual([
      [r, "SET ? ?", 2, 1, false, null],
      [r, "GET ?", 1, 1, false, null],
      [r, "GET ?", 1, 0, false, null],
      [r, "MGET ? ?", 2, 2, false, null],
      [r, "GET ?", 1, 1, false, null],
      [r, "LPUSH ? ?", 2, null, true, "WRONGTYPE"],
      // An array argument's elements are the command's arguments.
      [r, "HMSET ? ? ? ? ?", 5, 1, false, null],
      [r, "HGETALL ?", 1, 1, false, null],
      // An object argument's fields and values too.
      [r, "HSET ? ? ? ? ?", 5, 1, false, null],
      [r, "RPUSH ? ? ? ?", 4, 1, false, null],
      [r, "LRANGE ? ? ?", 3, 3, false, null],
    ]);
    expectAllEnded(traced.events);
  });

  test("a rejection the program never handles stays unhandled: same output and exit status", async () => {
    redis.cli("FLUSHALL");
    const untraced = await runUntraced([bun, "db/bun-redis-unhandled.ts"], { env: env() });
    redis.cli("FLUSHALL");
    const traced = await runTraced([bun, "db/bun-redis-unhandled.ts"], { env: env() });
    expect(untraced.status).toBe(1);
    // scope's summary (its last line says "corrected by scope: ...", which the harness's cut does not take for the summary's start).
    const programStderr = traced.stderr.slice(0, traced.stderr.lastIndexOf("\nscope: ") + 1 || undefined);
    expect([traced.status, traced.stdout, programStderr]).toEqual([untraced.status, untraced.stdout, untraced.stderr]);
    expect(queryRows(traced.events).at(-1)).toEqual(["bun:redis", "LPUSH ? ?", 2, null, true, "WRONGTYPE"]);
  });
});

test("Bun.serve requests: each request's queries and commands on the shared default clients name it; OTLP spans are its children", async () => {
  redis.cli("FLUSHALL");
  const count = 4;
  const traced = await runTraced([bun, "db/bun-db-requests.ts", String(count)], { env: env() });
  expect(traced.status, traced.stderr).toBe(0);
  expect(traced.stdout).toBe(`${Array.from({ length: count }, (_, i) => `ok ${i + 1}`).join(", ")}\ndone\n`);
  expect(traced.events.filter((e) => e.kind === "agent_error")).toEqual([]);
  const targetOf = requestTargetOf(traced.events);
  const byTarget = new Map<string, string[]>();
  for (const query of traced.events.filter((e) => e.kind === "db_query")) {
    const target = String(targetOf(query) ?? "none");
    byTarget.set(target, [...(byTarget.get(target) ?? []), String(query.fields.text)]);
  }
  for (let k = 1; k <= count; k++) {
    expect([k, byTarget.get(`/r/${k}`)]).toEqual([k, ["select $1 ::int as k", "SET ? ?", ...Array.from({ length: k }, () => "select $1 ::int as i"), "GET ?"]]);
  }
  expect(byTarget.get("none")).toBeUndefined();
  expectAllEnded(traced.events);

  // The query tables (scope query): the systems by name, each query in its request.
  const table = await runCli(["query", "--no-cache", "--json", traced.out, "select system, count(*) as n, sum(request is not null) as in_request from queries group by system order by system"]);
  expect(table.exitCode, table.stderr).toBe(0);
  expect(table.stdout.trim().split("\n").map((line) => JSON.parse(line))).toEqual([
    { system: "bun:redis", n: 2 * count, in_request: 2 * count },
    { system: "bun:sql", n: count + (count * (count + 1)) / 2, in_request: count + (count * (count + 1)) / 2 },
  ]);

  const out = join(scratchDir(), "bun-db-requests.json");
  const exported = await runCli(["export", "--otlp", out, traced.out]);
  expect(exported.exitCode, exported.stderr).toBe(0);
  const all = spans(out);
  const servers = new Set(all.filter((span) => span.kind === 2 || span.kind === "SPAN_KIND_SERVER").map((span) => span.spanId));
  const queries = all.filter((span) => span.attributes["db.system.name"] !== undefined);
  expect(queries.length).toBe(Array.from({ length: count }, (_, i) => i + 4).reduce((x, y) => x + y, 0));
  for (const span of queries) expect(servers.has(span.parentSpanId!)).toBe(true);
  const systems = new Set(queries.map((span) => `${span.attributes["db.system.name"]} ${span.attributes["db.query.text"]}`));
  expect([...systems].sort()).toEqual(["postgresql select $1 ::int as i", "postgresql select $1 ::int as k", "redis GET ?", "redis SET ? ?"]);
});
