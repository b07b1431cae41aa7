/**
 * Child processes, workers and WebSocket connections as OTLP spans, read back from a real
 * Jaeger: spec/fixtures/export/spawns.cjs forks a child in one request's handler (the child
 * sends its parent a message, requests /ping of it and exits with 3), starts a worker in another's (it posts to
 * its parent), and opens a WebSocket to itself. Sent live by `scope run --otlp` and exported
 * afterwards by `scope export --otlp` (each run its own service): the child's span from its
 * fork to its exit under the handler's request, with its pid, command line and exit code
 * (ERROR: non-zero), the message the child sends outside any request under it; the worker's span under its
 * request, the worker's send under it; each end of the WebSocket a span from its open to
 * its close under the upgrade request of that end, which is no error.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, fixtures, runTraced, type Traced } from "./agent-harness";
import { startJaeger, type Jaeger, type JaegerSpan } from "./export-harness";
import { runCli } from "./harness";

let jaeger: Jaeger;
let live: Traced;
let later: Traced;

beforeAll(async () => {
  jaeger = await startJaeger();
  const cwd = join(fixtures, "export");
  // --propagate: each server request's trace is its traceparent's from its start (spec/export-otlp-walk.test.ts says why).
  live = await runTraced(["node", "spawns.cjs"], { cwd, scopeArgs: ["--propagate", "--otlp", jaeger.otlpUrl, "--service-name", "lifetimes-live"] });
  expect(live.stdout, live.stderr).toBe("child exited 3\nworker exited 0\necho hi\ndone\n");
  later = await runTraced(["node", "spawns.cjs"], { cwd, scopeArgs: ["--propagate"] });
  expect(later.status, later.stderr).toBe(0);
  const exported = await runCli(["export", "--otlp", jaeger.otlpUrl, "--service-name", "lifetimes-export", later.out]);
  expect(exported.exitCode, exported.stderr).toBe(0);
}, 180_000);
afterAll(async () => {
  await jaeger?.stop();
  cleanup();
});

const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;

/** Each span of interest as Jaeger shows it: its name, its parent's name (CHILD_OF), the tags that tell it, whether Jaeger marks it an error. */
function shown(spans: JaegerSpan[]): unknown[] {
  const byId = new Map(spans.map((span) => [span.spanID, span]));
  const label = (span: JaegerSpan | undefined) => (span ? `${span.operationName}${tag(span, "url.path") ? ` ${tag(span, "url.path")}` : ""}` : null);
  // Jaeger keeps one reference of a receive's parent and its link to the same send: FOLLOWS_FROM.
  const parentOf = (span: JaegerSpan) => byId.get((span.references.find((r) => r.refType === "CHILD_OF") ?? span.references[0])?.spanID ?? "");
  return spans
    .filter((span) => /^(fork|execFileSync|worker|websocket|send (ipc|worker)|receive ipc)/.test(span.operationName) || (span.operationName === "GET" && (tag(span, "url.path") === "/chat" || String(tag(span, "url.full")).endsWith("/ping"))))
    .map((span) => [label(span), label(parentOf(span)), tag(span, "error") === true, tag(span, "process.exit.code") ?? tag(span, "scope.worker.exit_code") ?? tag(span, "scope.connection.close_code") ?? null, span.duration > 0])
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

const expected = [
  // A synchronous child too (its process_spawn stamped with the call's start, written when it returned).
  ["execFileSync true", "GET /spawn", false, 0, true],
  ["fork spawn-child", "GET /spawn", true, 3, true],
  // The upgrade request: no error (it ended "upgraded"), under the client's (--propagate).
  ["GET /chat", "GET", false, null, true],
  // The child's /ping: it sent a traceparent of its own (--propagate), whose trace the server it called took.
  ["GET", null, false, null, true],
  ["receive ipc#0", "send ipc#0", false, null, false],
  // The child's message, sent outside any request of its own: under its fork.
  ["send ipc#0", "fork spawn-child", false, null, false],
  ["send worker#1", "worker [eval]", false, null, false],
  ["websocket client", "GET", false, 1000, true],
  ["websocket server", "GET /chat", false, 1000, true],
  ["worker [eval]", "GET /worker", false, 0, true],
];

describe("OTLP: child processes, workers and WebSocket connections, in Jaeger", () => {
  test("scope run --otlp: the child under the request that forked it and its message under it, the worker and its send, each connection under its upgrade", async () => {
    const spans = await jaeger.spans("lifetimes-live");
    expect(shown(spans)).toEqual(expected);
    const fork = spans.find((span) => span.operationName === "fork spawn-child")!;
    expect([String(tag(fork, "process.command_line")).replace(/^\S+ /, "NODE ").replace(/ \d+$/, " PORT"), tag(fork, "scope.spawn.method"), typeof tag(fork, "process.pid")]).toEqual([`NODE ${join(fixtures, "export", "spawn-child.cjs")} PORT`, "fork", "number"]);
  }, 60_000);

  test("scope export --otlp: the same spans of a trace file", async () => {
    expect(shown(await jaeger.spans("lifetimes-export"))).toEqual(expected);
  }, 60_000);
});
