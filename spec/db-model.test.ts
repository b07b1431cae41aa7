/** The decoder's side of database events (model.ts DatabaseLinks): starts and ends paired per thread. */
import { expect, test } from "bun:test";
import { DbSystem, EventKind } from "../src/core/layout";
import { interpret, type RawEvent } from "../src/core/model";

function raw(kind: number, timestampNs: number, tid: number, a = 0, b: number | bigint = 0, c = 0, d = 0, e = 0, flags = 0): RawEvent {
  return { kind, timestampNs: BigInt(timestampNs), flags, pid: 7, tid, a: BigInt(a), b: BigInt(b), c: BigInt(c), d: BigInt(d), e: BigInt(e) };
}

const strings = new Map([
  ["7/0/1", "SELECT ? FROM t WHERE id = $1"],
  ["7/0/2", "23505"],
  ["7/0/3", "duplicate key"],
  ["7/1/1", "SELECT ?"],
]);
const lookup = (pid: number, tid: number, id: number) => strings.get(`${pid}/${tid}/${id}`);
const U64_MAX = (1n << 64n) - 1n;

test("a query's end is joined to its start by (pid, tid, id): outcome and duration on the start, the request on both", () => {
  const events = interpret(
    [
      raw(EventKind.db_query, 1000, 0, 1, 1, 1, 5, DbSystem.pg),
      // Same id on another thread: a different query.
      raw(EventKind.db_query, 1100, 1, 1, 1, 0, 0, DbSystem.bunSqlite, 1),
      raw(EventKind.db_query_end, 1500, 0, 1, U64_MAX, 2, 3, 0, 1),
      raw(EventKind.db_query, 2000, 0, 2, 1, 1, 0, DbSystem.pg),
      raw(EventKind.db_query_end, 2600, 0, 2, 3),
      raw(EventKind.db_pool_wait, 3000, 0, 1, 2, 0, 5, DbSystem.pg),
    ],
    lookup,
  );
  expect(events.map((e) => [e.kind, e.linkedTo])).toEqual([
    ["db_query", [2]],
    ["db_query", []],
    ["db_query_end", [0]],
    ["db_query", [4]],
    ["db_query_end", [3]],
    ["db_pool_wait", []],
  ]);
  expect(events[0]!.fields).toEqual({
    query: 1,
    system: "pg",
    text: "SELECT ? FROM t WHERE id = $1",
    params: 1,
    request: 5,
    durationNs: 500,
    rows: null,
    failed: true,
    errorCode: "23505",
    errorMessage: "duplicate key",
  });
  expect(events[2]!.fields).toEqual({ query: 1, rows: null, failed: true, errorCode: "23505", errorMessage: "duplicate key", request: 5 });
  // Another thread's query 1 has no end: still running when the trace ended; its text was cut.
  expect(events[1]!.fields).toEqual({ query: 1, system: "bun:sqlite", text: "SELECT ?", textCut: true, params: 0, durationNs: null });
  expect(events[3]!.fields).toMatchObject({ durationNs: 600, rows: 3, failed: false });
  expect(events[3]!.fields.request).toBeUndefined();
  expect(events[5]!.fields).toEqual({ wait: 1, system: "pg", open: 2, idle: 0, request: 5, durationNs: null });
});

test("a query names its db_connection in field e above the system (layout 6): its database, server and user, per thread", () => {
  const names = new Map([
    ["7/0/1", "SELECT ?"],
    ["7/0/4", "appdb"],
    ["7/0/5", "10.0.0.7"],
    ["7/0/6", "app_user"],
    ["7/1/4", "other"],
  ]);
  const events = interpret(
    [
      raw(EventKind.db_connection, 900, 0, 1, 4, 5, 5432, 6, DbSystem.pg),
      // Thread 1's connection 1 is another: ids are per thread; no server (an embedded database).
      raw(EventKind.db_connection, 901, 1, 1, 4, 0, 0, 0, DbSystem.betterSqlite3),
      raw(EventKind.db_query, 1000, 0, 1, 1, 0, 0, DbSystem.pg + 1 * 256),
      raw(EventKind.db_query, 1001, 1, 1, 0, 0, 0, DbSystem.betterSqlite3 + 1 * 256),
      // A connection id with no record (a damaged or cut trace): the id alone.
      raw(EventKind.db_pool_wait, 1002, 0, 1, 1, 0, 0, DbSystem.mysql2 + 9 * 256),
      // A trace of layout 5: the system alone.
      raw(EventKind.db_query, 1003, 0, 2, 1, 0, 0, DbSystem.ioredis),
    ],
    (pid, tid, id) => names.get(`${pid}/${tid}/${id}`),
  );
  expect(events[0]!.fields).toEqual({ connection: 1, system: "pg", database: "appdb", serverAddress: "10.0.0.7", serverPort: 5432, user: "app_user" });
  expect(events[2]!.fields).toEqual({ query: 1, system: "pg", text: "SELECT ?", params: 0, connection: 1, durationNs: null, database: "appdb", serverAddress: "10.0.0.7", serverPort: 5432, user: "app_user" });
  expect(events[3]!.fields).toEqual({ query: 1, system: "better-sqlite3", text: null, params: 0, connection: 1, durationNs: null, database: "other", serverAddress: null, serverPort: null, user: null });
  expect(events[4]!.fields).toEqual({ wait: 1, system: "mysql2", open: 1, idle: 0, connection: 9, durationNs: null });
  expect(events[5]!.fields).toEqual({ query: 2, system: "ioredis", text: "SELECT ?", params: 0, durationNs: null });
});

test("an end names the connection its start could not (field e as the start's): copied onto the start, a start's own kept", () => {
  const names = new Map([
    ["7/0/1", "SELECT ?"],
    ["7/0/4", "appdb"],
    ["7/0/5", "10.0.0.7"],
    ["7/0/7", "reports"],
  ]);
  const events = interpret(
    [
      // The query starts before its library knew where it goes; the record comes with its end.
      raw(EventKind.db_query, 1000, 0, 1, 1, 0, 0, DbSystem.postgresJs),
      raw(EventKind.db_pool_wait, 1001, 0, 1, 0, 0, 0, DbSystem.pg),
      raw(EventKind.db_connection, 1002, 0, 1, 4, 5, 5432, 0, DbSystem.postgresJs),
      raw(EventKind.db_connection, 1003, 0, 2, 7, 5, 5432, 0, DbSystem.pg),
      raw(EventKind.db_query_end, 1500, 0, 1, 1, 0, 0, DbSystem.postgresJs + 1 * 256),
      raw(EventKind.db_pool_wait_end, 1600, 0, 1, 0, 0, 0, DbSystem.pg + 2 * 256),
      // A start that named one keeps it.
      raw(EventKind.db_query, 1700, 0, 2, 1, 0, 0, DbSystem.postgresJs + 1 * 256),
      raw(EventKind.db_query_end, 1800, 0, 2, 1, 0, 0, DbSystem.postgresJs + 2 * 256),
    ],
    (pid, tid, id) => names.get(`${pid}/${tid}/${id}`),
  );
  const at = (ns: number) => events.find((e) => e.timestampNs === BigInt(ns))!.fields;
  expect(at(1000)).toMatchObject({ query: 1, system: "postgres.js", connection: 1, database: "appdb", serverAddress: "10.0.0.7", serverPort: 5432, user: null, rows: 1, durationNs: 500 });
  expect(at(1001)).toMatchObject({ wait: 1, system: "pg", connection: 2, database: "reports", serverPort: 5432, durationNs: 599 });
  expect(at(1700)).toMatchObject({ query: 2, connection: 1, database: "appdb" });
});
