/**
 * `scope attach` and the libraries a service loaded before it: a real Express service with
 * a pg pool against a real PostgreSQL (postgres-harness.ts), started without scope and
 * serving before the attach. While attached, its requests carry their routes, steps,
 * queries (with their SQL) and outgoing requests, linked to the request that caused them;
 * after the detach every function scope replaced is the program's own object again (checked
 * from inside), nothing listens, and the responses are the same as before the attach.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { backgroundAttach, haveNode22, killStarted, node22, startNode, waitFor } from "./attach-harness";
import { readEvents, repoRoot, runCli } from "./harness";
import { scratchDirs } from "./scratch";
import { startPostgres, type Postgres } from "./postgres-harness";

const tmp = scratchDirs("scope-attach-libraries-");

let server: Postgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.stop());

afterEach(killStarted);

const fixture = join(repoRoot, "spec/fixtures/attach/express-pg.cjs");

/** Starts the service untraced; its address. */
async function startService(express: string, node: string) {
  const { child, line } = await startNode([fixture], { node, cwd: repoRoot, env: { PGURL: server.url, EXPRESS: express } });
  return { child, base: `http://127.0.0.1:${line.trim()}` };
}

/** What a client sees of a response: status, the headers Express sets, the body. */
async function get(base: string, path: string): Promise<string> {
  const response = await fetch(`${base}${path}`);
  const headers = ["content-type", "content-length", "x-seen", "etag", "x-powered-by"].map((name) => `${name}=${response.headers.get(name)}`).join(" ");
  return `${response.status} ${headers} ${await response.text()}`;
}

const of = (events: TraceEvent[], kind: string) => events.filter((event) => event.kind === kind);

const cases: [string, string, string][] = [
  ["express4", "node on PATH", "node"],
  ["express5", "node on PATH", "node"],
  ...(haveNode22 ? [["express4", "Node 22", node22] as [string, string, string]] : []),
];

describe.each(cases)("%s and pg loaded before the attach (%s)", (express, _label, node) => {
  test("routes, steps, queries and client requests of each request while attached; every function the program's own again after the detach", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const { child, base } = await startService(express, node);
    expect(JSON.parse((await get(base, "/state")).replace(/^.*? \{/, "{"))).toEqual({ changed: [], httpSubscribers: false });
    const untraced = { user: await get(base, "/api/users/7"), fail: await get(base, "/fail") };

    const attach = backgroundAttach([String(child.pid), "--out", out]);
    await waitFor(attach.stderr, /scope: attached to pid \d+ .*inspector open \d+ ms, closed/);
    expect(await get(base, "/api/users/7")).toBe(untraced.user);
    expect(await get(base, "/fail")).toBe(untraced.fail);
    const during = JSON.parse((await get(base, "/state")).replace(/^.*? \{/, "{")) as { changed: string[] };
    // What scope replaced while attached (the proof that the identity check below can fail).
    const routerUse = express === "express5" ? [] : ["routerHandle", "routerUse"];
    expect(during.changed.sort()).toEqual(["clientQuery", "layerError", "layerRequest", "loadJs", "poolConnect", "queryError", "queryReady", "responseEmit", ...routerUse]);

    const detach = await runCli(["detach", String(child.pid)]);
    expect(detach.exitCode, detach.stderr).toBe(0);
    expect(await attach.ended()).toBe(0);
    expect(attach.stderr()).toContain("detached: scope detach");
    expect(JSON.parse((await get(base, "/state")).replace(/^.*? \{/, "{"))).toEqual({ changed: [], httpSubscribers: false });
    expect(await get(base, "/api/users/7")).toBe(untraced.user);
    expect(await get(base, "/fail")).toBe(untraced.fail);

    const events = readEvents(out);
    expect(of(events, "agent_error")).toEqual([]);
    const requests = of(events, "http_server_request");
    // /ping: the service's own backend, called by /api/users/7.
    expect(requests.map((event) => event.fields.target)).toEqual(["/api/users/7", "/ping", "/fail", "/state"]);
    const idOf = (target: string) => requests.find((event) => event.fields.target === target)!.fields.requestId;
    const user = idOf("/api/users/7");
    const fail = idOf("/fail");
    expect(of(events, "http_route").map((event) => [event.fields.requestId, event.fields.route, event.fields.framework])).toEqual([
      [user, "/api/users/:id", "express"],
      [fail, "/fail", "express"],
      [idOf("/state"), "/state", "express"],
    ]);
    const steps = of(events, "http_step_start").filter((event) => event.fields.requestId !== idOf("/state"));
    expect(steps.map((event) => [event.fields.requestId, event.fields.name, event.fields.stepKind])).toContainEqual([user, "logger", "middleware"]);
    expect(steps.map((event) => [event.fields.requestId, event.fields.name, event.fields.stepKind, event.fields.route])).toContainEqual([user, "getUser", "handler", "/api/users/:id"]);
    expect(steps.map((event) => [event.fields.requestId, event.fields.name, event.fields.stepKind])).toContainEqual([fail, "onError", "error"]);
    // Express 4's own first two layers (`query`, `expressInit`) are no steps, as in Express 5,
    // though the app's router was made before the attach.
    expect(steps.filter((event) => event.fields.requestId === user).map((event) => event.fields.name)).toEqual(["logger", "router", "getUser"]);
    const failedStep = of(events, "http_step_end").find((event) => event.fields.requestId === fail && event.fields.failed);
    expect(failedStep?.fields.errorMessage).toBe('relation "nowhere" does not exist');
    expect(of(events, "db_query").map((event) => [event.fields.system, event.fields.text, event.fields.params, event.fields.request])).toEqual([
      ["pg", "SELECT $1::int AS id, ? AS tag", 1, user],
      ["pg", "SELECT count(*)::int AS n FROM generate_series(?, ?)", 0, user],
      ["pg", "SELECT nope FROM nowhere", 0, fail],
    ]);
    const ends = of(events, "db_query_end").map((event) => [event.fields.rows, event.fields.failed, event.fields.errorCode]);
    expect(ends).toEqual([
      [1, false, null],
      [1, false, null],
      [null, true, "42P01"],
    ]);
    expect(of(events, "db_pool_wait").map((event) => event.fields.request)).toEqual([user, user, fail]);
    const clients = of(events, "http_client_request");
    expect(clients.map((event) => [event.fields.url?.toString().replace(/:\d+/, ":PORT"), event.fields.request])).toEqual([["http://127.0.0.1:PORT/ping", user]]);
  });
});

describe("better-sqlite3 and postgres.js loaded before the attach", () => {
  test("statements prepared before the attach and postgres.js queries recorded while attached; the program's own functions again after the detach", async () => {
    const dir = tmp();
    const out = join(dir, "t.bin");
    const { child, line } = await startNode([join(repoRoot, "spec/fixtures/attach/sqlite-postgres.cjs")], { cwd: repoRoot, env: { PGURL: server.url } });
    const base = `http://127.0.0.1:${line.trim()}`;
    const json = async (path: string) => JSON.parse(await (await fetch(`${base}${path}`)).text());
    expect(await json("/state")).toEqual({ changed: [] });
    expect(await json("/sqlite")).toEqual({ row: { id: 1, name: "item1" }, count: 1 });
    expect(await json("/pgjs")).toEqual({ row: { n: 7, tag: "x" }, error: "42P01" });

    const attach = backgroundAttach([String(child.pid), "--out", out]);
    await waitFor(attach.stderr, /scope: attached to pid \d+ .*inspector open \d+ ms, closed/);
    expect(await json("/sqlite")).toEqual({ row: { id: 2, name: "item2" }, count: 2 });
    expect(await json("/pgjs")).toEqual({ row: { n: 7, tag: "x" }, error: "42P01" });
    expect((await json("/state")).changed.sort()).toEqual(["databaseExec", "databasePrepare", "statementAll", "statementGet", "statementRun"]);
    expect((await runCli(["detach", String(child.pid)])).exitCode).toBe(0);
    expect(await attach.ended()).toBe(0);
    expect(await json("/state")).toEqual({ changed: [] });
    expect(await json("/sqlite")).toEqual({ row: { id: 3, name: "item3" }, count: 3 });

    const events = readEvents(out);
    expect(of(events, "agent_error")).toEqual([]);
    const sqlite = of(events, "http_server_request").find((event) => event.fields.target === "/sqlite")!.fields.requestId;
    const pgjs = of(events, "http_server_request").find((event) => event.fields.target === "/pgjs")!.fields.requestId;
    // postgres.js loaded before the attach: no waits (the hand-over that ends one is not seen there).
    expect(of(events, "db_pool_wait")).toEqual([]);
    // Statements prepared before the attach name their database too (the Database each keeps as its `database`);
    // postgres.js loaded before it names none (its connection.js took types.js's stringify at its load).
    expect(of(events, "db_query").map((event) => [event.fields.system, event.fields.text, event.fields.params, event.fields.request, event.fields.database ?? null])).toEqual([
      ["better-sqlite3", "INSERT INTO items (name) VALUES (?)", 1, sqlite, ":memory:"],
      ["better-sqlite3", "SELECT id, name FROM items WHERE name = ?", 1, sqlite, ":memory:"],
      ["better-sqlite3", "SELECT count(*) AS n FROM items", 0, sqlite, ":memory:"],
      ["better-sqlite3", "UPDATE items SET name = name WHERE id < ?", 0, sqlite, ":memory:"],
      ["postgres.js", "SELECT $1::int AS n, ? AS tag", 1, pgjs, null],
      ["postgres.js", "SELECT nope FROM nowhere", 0, pgjs, null],
    ]);
    expect(of(events, "db_query_end").map((event) => [event.fields.rows, event.fields.failed, event.fields.errorCode])).toEqual([
      [1, false, null],
      [1, false, null],
      [1, false, null],
      [null, false, null],
      [1, false, null],
      [null, true, "42P01"],
    ]);
  });
});
