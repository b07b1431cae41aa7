/**
 * Web frameworks under `scope run`: real Express 4 and 5, Fastify 5 and Koa 3 with @koa/router
 * 15 (pinned in package.json) serving a known sequence over 127.0.0.1 in real node and bun processes:
 * the exact route and steps of each request (middleware order, mounted routers nesting
 * their steps, handlers, the error handler, errors passed on), what each request caused
 * (an outgoing request, pg queries after awaits and in a Pool callback) linked to it, and
 * the service unchanged (the client sees the same statuses, headers and bodies, including
 * a streamed response and the error handler's answers).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TraceEvent } from "../src/core/model";
import { cleanup, ofKind, runTraced, runUntraced } from "./agent-harness";
import { startPostgres, type Postgres } from "./postgres-harness";

let server: Postgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => {
  server?.stop();
  cleanup();
});

const runtimes = [["node"], ["bun"]] as const;

/** Per server request (in start order): [target, status, route, [stepKind, name, route, failed, errorType]...]. */
function requests(events: TraceEvent[]) {
  return ofKind(events, "http_server_request").map((request) => {
    const steps = events
      .filter((e) => e.kind === "http_step_start" && e.fields.requestIndex === request.index)
      .map((e) => [e.fields.stepKind, e.fields.name, e.fields.route ?? null, e.fields.failed, e.fields.errorType ?? null]);
    return [request.fields.target, request.fields.status, request.fields.route ?? null, ...steps];
  });
}

/** Every step ended (linked to its end), inside its request's time. */
function expectStepsEnded(events: TraceEvent[]): void {
  const starts = ofKind(events, "http_step_start");
  expect(ofKind(events, "http_step_end").length).toBe(starts.length);
  for (const start of starts) {
    expect(start.linkedTo.length).toBe(1);
    expect(typeof start.fields.durationNs).toBe("number");
    const request = events[start.fields.requestIndex as number]!;
    expect(start.timestampNs + BigInt(start.fields.durationNs as number)).toBeLessThanOrEqual(request.timestampNs + BigInt(request.fields.durationNs as number));
  }
}

async function both(argv: string[], env: Record<string, string>) {
  const [traced, untraced] = await Promise.all([runTraced(argv, { env }), runUntraced(argv, { env })]);
  expect(traced.stderr).toBe(untraced.stderr);
  expect(traced.stdout).toBe(untraced.stdout);
  expect(traced.status, traced.stderr).toBe(0);
  expect(untraced.status, untraced.stderr).toBe(0);
  expect(ofKind(traced.events, "agent_error")).toEqual([]);
  return traced;
}

const ok = (kind: string, name: string, route: string | null = null) => [kind, name, route, false, null];
const failed = (kind: string, name: string, route: string | null, type: string) => [kind, name, route, true, type];

describe.each(runtimes)("%s: Express", (runtime) => {
  for (const express of ["express4", "express5"] as const) {
    test(`${express}: routes, middleware order and nesting, handlers, the error handler; output as untraced`, async () => {
      const traced = await both([runtime, "web/express.cjs"], { EXPRESS: express });
      const events = traced.events;
      const five = express === "express5";
      // Express 4's app router starts with its own `query` and `expressInit`: no steps (as Express 5, which has no such layers).
      const logger = ok("middleware", "logger");
      expect(requests(events)).toEqual([
        ["/api/users/7", 200, "/api/users/:id", logger, ok("middleware", "router"), ok("middleware", "auth"), ok("handler", "getUser", "/api/users/:id")],
        ["/ping", 200, null],
        ["/api/users/8?deny=1", 403, null, logger, ok("middleware", "router"), ok("middleware", "auth")],
        ["/throw", 500, "/throw", logger, failed("handler", "throws", "/throw", "Error"), ok("error", "onError")],
        ["/next-error", 400, "/next-error", logger, failed("handler", "passes", "/next-error", "TypeError"), ok("error", "onError")],
        ["/two", 200, "/two", logger, ok("handler", "first", "/two"), ok("handler", "second", "/two")],
        ["/direct", 200, "/direct", logger, ok("handler", "direct", "/direct"), ...[1, 2, 3].map(() => ok("middleware", "inner"))],
        ["/skip", 200, "/skip", logger, ok("handler", "skips", "/skip"), ok("handler", "taken", "/skip")],
        ["/late", 200, "/late", logger, ok("handler", "late", "/late")],
        ...(five ? [["/reject", 500, "/reject", logger, failed("handler", "rejects", "/reject", "RangeError"), ok("error", "onError")]] : []),
        ["/stream", 200, "/stream", logger, ok("handler", "streams", "/stream")],
        ["/nowhere", 404, null, logger],
      ]);
      expectStepsEnded(events);
      // One route event per route matched (each served request's, and /skip's two), as the request's route says.
      const target = (e: TraceEvent) => events[e.fields.requestIndex as number]!.fields.target;
      const routed = ofKind(events, "http_server_request").filter((e) => e.fields.route !== undefined);
      expect(ofKind(events, "http_route").map((e) => [target(e), e.fields.route, e.fields.framework])).toEqual(
        routed.flatMap((e) => (e.fields.target === "/skip" ? [e, e] : [e])).map((e) => [e.fields.target, e.fields.route, "express"]),
      );
      const starts = ofKind(events, "http_step_start");
      const named = (name: string) => starts.find((e) => e.fields.name === name && events[e.fields.requestIndex as number]!.fields.target === "/api/users/7")!;
      // The mounted router's step holds the steps inside it; middleware before it ended when it called next().
      const router = named("router");
      const getUser = named("getUser");
      const end = (e: TraceEvent) => e.timestampNs + BigInt(e.fields.durationNs as number);
      expect(getUser.timestampNs).toBeGreaterThan(router.timestampNs);
      expect(end(getUser)).toBeLessThanOrEqual(end(router));
      expect(end(named("logger"))).toBeLessThanOrEqual(router.timestampNs);
      // The error passed on: its message recorded with the step.
      const passes = starts.find((e) => e.fields.name === "passes")!;
      expect(passes.fields.errorMessage).toBe("passed on");
      // The handler's outgoing request (after an await) belongs to its request.
      const users = ofKind(events, "http_server_request")[0]!;
      const ping = ofKind(events, "http_client_request").find((e) => String(e.fields.url).endsWith("/ping"))!;
      expect(ping.fields.requestIndex).toBe(users.index);
      // The streamed response reached the client whole (chunked, as untraced: stdout compared above).
      expect(traced.stdout).toContain("/stream 200 content-type=null content-length=null x-powered-by=Express x-seen=1 etag=null transfer-encoding=chunked part 1;part 2");
    });
  }

  test("express4 and express5 give the same steps for the same app: Express 4's own query and expressInit are none, the program's middleware named query is one", async () => {
    const [four, five] = await Promise.all(["express4", "express5"].map((express) => both([runtime, "web/express-same.cjs"], { EXPRESS: express })));
    expect(four!.stdout.replace(/^first layer: .*\n/, "")).toBe(five!.stdout);
    const query = ok("middleware", "query");
    const steps = [
      ["/sub/hello?who=me", 200, "/sub/hello", query, query, ok("middleware", "jsonParser"), ok("middleware", "mounted_app"), ok("handler", "hello", "/sub/hello")],
      ["/api/echo?x=1", 200, "/api/echo", query, query, ok("middleware", "jsonParser"), ok("middleware", "router"), ok("handler", "echo", "/api/echo")],
      ["/fail", 500, "/fail", query, query, ok("middleware", "jsonParser"), failed("handler", "fails", "/fail", "Error"), ok("error", "onError")],
      ["/nowhere", 404, null, query, query, ok("middleware", "jsonParser")],
    ];
    expect(requests(four!.events)).toEqual(steps);
    expect(requests(five!.events)).toEqual(steps);
    for (const traced of [four!, five!]) expectStepsEnded(traced.events);
    // Step ordinals count from the first recorded step: the first middleware is step 1.
    const first = ofKind(four!.events, "http_step_start")[0]!;
    expect([first.fields.name, first.fields.step]).toEqual(["query", 1]);
  });

  test("express4 with pg: the handler's queries (after awaits, in a Pool callback) linked to its request", async () => {
    const traced = await both([runtime, "web/express.cjs"], { EXPRESS: "express4", PGURL: server.url });
    const events = traced.events;
    expect(traced.stdout).toContain('/api/users/7 200 content-type=application/json; charset=utf-8 content-length=51 x-powered-by=Express x-seen=1 etag=W/\"33-0hrgs6T16V+6YuQM5g7rYIhmFQ4\" transfer-encoding=null {"user":{"id":7,"tag":"x","count":3},"pong":"pong"}');
    const users = ofKind(events, "http_server_request")[0]!;
    expect(users.fields.route).toBe("/api/users/:id");
    const queries = ofKind(events, "db_query");
    expect(queries.map((e) => [e.fields.text, e.fields.requestIndex])).toEqual([
      ["SELECT $1::int AS id, ? AS tag", users.index],
      ["SELECT count(*)::int AS n FROM generate_series(?, ?)", users.index],
    ]);
    // Both inside the handler's step.
    const getUser = ofKind(events, "http_step_start").find((e) => e.fields.name === "getUser")!;
    for (const query of queries) expect(query.timestampNs).toBeGreaterThan(getUser.timestampNs);
  });
});

test("bun: express4 and pg with their own functions traced (--include, --package): the same routes, steps and queries", async () => {
  // A file the --functions plugin runs is reached by Bun's require, which passes the agent's
  // Module.prototype.require hook of library files (src/agent/bun/library-files.ts; before, the
  // integrations wrapped Module._extensions, which Bun's require of such a file never calls).
  const argv = ["bun", "web/express.cjs"];
  const env = { EXPRESS: "express4", PGURL: server.url };
  const [traced, untraced, plain] = await Promise.all([
    runTraced(argv, { env, scopeArgs: ["--include", "../../node_modules/express4/**", "--package", "pg", "--level", "calls"] }),
    runUntraced(argv, { env }),
    runTraced(argv, { env }),
  ]);
  expect(traced.stdout).toBe(untraced.stdout);
  expect(traced.stderr).toBe(untraced.stderr);
  expect(traced.status, traced.stderr).toBe(0);
  expect(ofKind(traced.events, "agent_error")).toEqual([]);
  expect(requests(traced.events)).toEqual(requests(plain.events));
  expect(requests(traced.events)[0]).toEqual(["/api/users/7", 200, "/api/users/:id", ok("middleware", "logger"), ok("middleware", "router"), ok("middleware", "auth"), ok("handler", "getUser", "/api/users/:id")]);
  expect(ofKind(traced.events, "db_query").map((e) => e.fields.text)).toEqual(["SELECT $1::int AS id, ? AS tag", "SELECT count(*)::int AS n FROM generate_series(?, ?)"]);
  const files = ofKind(traced.events, "function_table").map((e) => String(e.fields.file));
  for (const name of ["express4", "pg"]) expect(files.some((file) => file.includes(`/node_modules/${name}/`))).toBe(true);
});

describe.each(runtimes)("%s: Fastify", (runtime) => {
  test("fastify 5: the route and handler of each request through Fastify's tracing channel, its hooks as steps; errors; output as untraced", async () => {
    const traced = await both([runtime, "web/fastify.cjs"], {});
    const events = traced.events;
    const stamp = ok("hook", "stamp (onRequest)");
    const check = ok("hook", "check (preHandler)");
    expect(requests(events)).toEqual([
      ["/users/7", 200, "/users/:id", stamp, check, ok("handler", "getUser", "/users/:id")],
      ["/ping", 200, null],
      ["/sync", 200, "/sync", stamp, check, ok("handler", "sync", "/sync")],
      ["/throw", 500, "/throw", stamp, check, failed("handler", "throws", "/throw", "Error")],
      ["/reject", 409, "/reject", stamp, check, failed("handler", "rejects", "/reject", "Error")],
      // The preHandler hook passed an error on: the route is known, no handler ran (Fastify
      // publishes its handler's start even so; no step is recorded for it).
      ["/denied", 403, "/denied", stamp, failed("hook", "check (preHandler)", null, "Error")],
      // Fastify's 404 handler runs the hooks too (its channel publishes nothing for it).
      ["/nowhere", 404, null, stamp, check],
    ]);
    expectStepsEnded(events);
    const users = ofKind(events, "http_server_request")[0]!;
    const ping = ofKind(events, "http_client_request").find((e) => String(e.fields.url).endsWith("/ping"))!;
    expect(ping.fields.requestIndex).toBe(users.index);
  });
});

describe.each(runtimes)("%s: Fastify imported from an ES module", (runtime) => {
  test("the route and handler through Fastify's tracing channel, its hook as a step", async () => {
    const traced = await both([runtime, "web/fastify-esm.mjs"], {});
    expect(traced.stdout).toBe('200 {"id":"3"}\n');
    expect(requests(traced.events)).toEqual([["/items/3", 200, "/items/:id", ok("hook", "stamp (onRequest)"), ok("handler", "getItem", "/items/:id")]]);
  });
});

describe.each(runtimes)("%s: Koa", (runtime) => {
  test("koa 3 with @koa/router 15: each request's route from the router's match (a prefixed router's with its prefix), none for a 404 or a 405; what a handler caused linked; output as untraced", async () => {
    const traced = await both([runtime, "web/koa.cjs"], {});
    const events = traced.events;
    const served = ofKind(events, "http_server_request").filter((e) => e.fields.target !== "/ping");
    expect(served.map((e) => [e.fields.method, e.fields.target, e.fields.status, e.fields.route ?? null])).toEqual([
      ["GET", "/users/7", 200, "/users/:id"],
      ["GET", "/api/items/3", 200, "/api/items/:item"],
      ["GET", "/secret?deny=1", 403, "/secret"],
      ["GET", "/secret", 200, "/secret"],
      ["GET", "/throw", 500, "/throw"],
      ["GET", "/nowhere", 404, null],
      ["PUT", "/users/7", 405, null],
    ]);
    expect(ofKind(events, "http_route").map((e) => e.fields.framework)).toEqual(["koa", "koa", "koa", "koa", "koa"]);
    const ping = ofKind(events, "http_client_request").find((e) => String(e.fields.url).endsWith("/ping"))!;
    expect(ping.fields.requestIndex).toBe(served[0]!.index);
  });
});

describe("bun: Bun.serve routes", () => {
  test("each handled route's pattern recorded as the request's route (not for a static Response or the fetch fallback), also after server.reload(); a handler's error answered by the `error` option; output as untraced", async () => {
    const traced = await both(["bun", "web/serve-routes.ts"], {});
    const rows = ofKind(traced.events, "http_server_request").map((e) => [e.fields.method, e.fields.target, e.fields.status, e.fields.route ?? null]);
    // A static Response is Bun's own answer: no handler ran, no request is recorded.
    expect(rows).toEqual([
      ["GET", "/users/7", 200, "/users/:id"],
      ["GET", "/items", 200, "/items"],
      ["POST", "/items", 201, "/items"],
      ["GET", "/files/a/b", 200, "/files/*"],
      ["GET", "/nowhere", 404, null],
      // A handler's throw and rejection end when the `error` option's Response is ready, with its status.
      ["GET", "/boom", 500, "/boom"],
      ["GET", "/later", 503, "/later"],
      // After server.reload(): its new route and fetch handler.
      ["GET", "/v2/1", 200, "/v2/:id"],
      ["GET", "/x", 202, null],
    ]);
    expect(ofKind(traced.events, "http_route").map((e) => e.fields.framework)).toEqual(["bun", "bun", "bun", "bun", "bun", "bun", "bun"]);
    const failed = ofKind(traced.events, "http_server_request").filter((e) => e.fields.errorMessage !== undefined);
    expect(failed.map((e) => [e.fields.target, e.fields.end, e.fields.errorMessage])).toEqual([
      ["/boom", "finished", "boom"],
      ["/later", "finished", "later"],
    ]);
  });
});
