/**
 * pg's wrappers (src/agent/node/db/pg.ts) and the arguments they hand on: a method that can
 * tell how many arguments it got (it reads `arguments` or has a rest parameter) gets exactly
 * those it was called with, from 0 to 5, a callback replaced in its place; a method that cannot
 * (pg's and pg-pool's own: countBlind) gets its named parameters by name. Classes of the test's
 * own with pg's method names, hooked as pg's are, with a DbRecorder that records into arrays.
 */
import { expect, test } from "bun:test";
import type { DbRecorder } from "../src/agent/shared/db";
import { hookPgClient, hookPgPool, hookPgQuery } from "../src/agent/node/db/pg";

function fakeDb(request: number): DbRecorder & { failures: unknown[] } {
  const failures: unknown[] = [];
  let next = 1;
  return {
    failures,
    recorder: { fail: (error: unknown) => failures.push(error), safe: (fn: () => void) => fn() } as never,
    request: () => request,
    queryText: () => ({ id: 0, flags: 0 }),
    mysqlText: () => ({ id: 0, flags: 0 }),
    queryStart: () => next++,
    queryStartWith: () => next++,
    queryEnd: () => {},
    queryEndOn: () => {},
    queryFailed: () => {},
    isProxy: () => false,
    connection: (system: number) => system,
    waitStart: () => next++,
    waitEnd: () => {},
    waitEndOn: () => {},
  };
}

const lists = [[], ["a"], ["a", [1]], ["a", [1], undefined], ["a", [1], 3, 4], ["a", [1], 3, 4, 5]];

test("a method that counts its arguments gets exactly those it was called with", () => {
  const seen: unknown[][] = [];
  class Client {
    query() {
      seen.push([...arguments]);
      return arguments.length;
    }
  }
  class Pool {
    query(...args: unknown[]) {
      seen.push(args);
      return args.length;
    }
    connect(..._declared: unknown[]) {
      seen.push([...arguments].map((value) => (typeof value === "function" ? "fn" : value)));
      return arguments.length;
    }
  }
  class Query {
    handleReadyForQuery() {
      seen.push([...arguments]);
      return arguments.length;
    }
  }
  const db = fakeDb(0);
  hookPgClient(db, Client);
  hookPgPool(db, Pool);
  hookPgQuery(db, Query);
  for (const list of lists) {
    seen.length = 0;
    expect(Reflect.apply(Client.prototype.query, new Client(), list)).toBe(list.length);
    expect(Reflect.apply(Pool.prototype.query, new Pool(), list)).toBe(list.length);
    expect(Reflect.apply(Query.prototype.handleReadyForQuery, new Query(), list)).toBe(list.length);
    expect(seen).toEqual([list, list, list]);
  }
  // A callback given to connect is replaced in its place; the rest as given.
  seen.length = 0;
  expect(new Pool().connect(() => {}, 2, 3)).toBe(3);
  expect(seen).toEqual([["fn", 2, 3]]);
  expect(db.failures).toEqual([]);
});

test("with a request, a callback is replaced in its place and the other arguments kept", () => {
  const seen: unknown[][] = [];
  class Client {
    query(..._declared: unknown[]) {
      seen.push([...arguments].map((value) => (typeof value === "function" ? "fn" : value)));
      return arguments.length;
    }
  }
  const db = fakeDb(7);
  hookPgClient(db, Client);
  const callback = () => {};
  expect(new Client().query("a", callback)).toBe(2);
  expect(new Client().query("a", [1], callback, 4)).toBe(4);
  expect(new Client().query("a", callback, undefined, 4)).toBe(4);
  expect(seen).toEqual([["a", "fn"], ["a", [1], "fn", 4], ["a", "fn", undefined, 4]]);
  expect(db.failures).toEqual([]);
});

test("a method that cannot count them gets its named parameters, a callback wrapped to run in its request", () => {
  const seen: unknown[][] = [];
  class Client {
    query(config: unknown, values: unknown, callback: unknown) {
      seen.push([config, values, typeof callback === "function" ? "fn" : callback]);
      return typeof callback === "function" ? callback() : undefined;
    }
  }
  class Query {
    handleReadyForQuery(connection: unknown) {
      seen.push([connection]);
    }
  }
  const db = fakeDb(7);
  hookPgClient(db, Client);
  hookPgQuery(db, Query);
  expect(new Client().query("a", [1], () => "called")).toBe("called");
  Reflect.apply(Client.prototype.query, new Client(), ["a"]);
  new Query().handleReadyForQuery("c");
  expect(seen).toEqual([["a", [1], "fn"], ["a", undefined, undefined], ["c"]]);
  expect(db.failures).toEqual([]);
});
