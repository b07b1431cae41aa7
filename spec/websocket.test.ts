/**
 * WebSocket messages (ChannelKind.websocket): Bun.serve's websocket handlers and sends, and the
 * global WebSocket client in Bun and in Node 22+. Real processes on 127.0.0.1: an echo server
 * (spec/fixtures/websocket-echo-server.ts) and its client (websocket-client.mjs) as its child.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { cleanup, ofKind, runTraced, runUntraced } from "./agent-harness";
import { nodeVersions, runCli } from "./harness";
import type { TraceEvent } from "../src/core/model";
import { TraceIndex } from "../src/view/index";

afterAll(cleanup);

const COUNT = 4;
const clients: [string, string][] = [["bun", process.execPath]];
for (const node of nodeVersions) if (/2[24]/.test(node.name) && existsSync(node.path)) clients.push([node.name, node.path]);

/** The texts and binary sizes the client sends (websocket-client.mjs), in order. */
const expected = Array.from({ length: COUNT }, (_, i) => [`text ${i}`, i + 1] as const);

function messages(events: TraceEvent[], pid: number, kind: string): TraceEvent[] {
  return ofKind(events, kind, { pid }).filter((event) => event.fields.channel === "websocket");
}

/** One side's messages of one kind, as the client sent them: a text (its preview holds it) then a binary of i + 1 bytes. */
function expectSequence(list: TraceEvent[], direction: number, binaryPreview: RegExp): void {
  expect(list.length).toBe(2 * COUNT);
  const subIds = new Set(list.map((event) => event.fields.channelSubId));
  expect(subIds.size).toBe(1);
  list.forEach((event, index) => {
    expect(event.fields.direction).toBe(direction);
    expect(event.fields.ordinal).toBe(index);
    const [text, size] = expected[Math.floor(index / 2)]!;
    if (index % 2 === 0) {
      expect(String(event.fields.preview)).toContain(text);
      expect(event.fields.sizeBytes).toBe(list[0]!.fields.sizeBytes as number);
    } else {
      expect(event.fields.sizeBytes).toBe(size);
      expect(String(event.fields.preview)).toMatch(binaryPreview);
    }
  });
}

describe("WebSocket messages", () => {
  for (const [name, runtime] of clients) {
    for (const form of ["both", "onmessage", "listener"]) {
      test(`Bun.serve echo server and a ${name} client (${form}): each message once on each side`, async () => {
        const argv = ["bun", "websocket-echo-server.ts", runtime, String(COUNT), form];
        const untraced = await runUntraced(argv);
        const traced = await runTraced(argv);
        expect(untraced.status).toBe(0);
        expect(traced.status).toBe(0);
        expect(traced.stdout).toBe(untraced.stdout);
        expect(traced.stdout).toContain(`client got "text ${COUNT - 1}"`);
        if (form === "both") expect(traced.stdout).toContain("onmessage is the program's: true");
        expect(traced.stdout).not.toContain("extra listener called");
        const events = traced.events;
        expect(ofKind(events, "agent_error")).toEqual([]);
        const server = ofKind(events, "process_spawn")[0]!.pid;
        const client = ofKind(events, "process_spawn")[0]!.fields.childPid as number;
        expect(client).not.toBe(server);
        // Server: receives client → server (0), its echoes server → client (1), on one connection.
        expectSequence(messages(events, server, "message_receive"), 0, /1B|2B|3B|4B/);
        expectSequence(messages(events, server, "message_send"), 1, /1B|2B|3B|4B/);
        // Client: its sends (0) and the echoes it received (1), as ArrayBuffers.
        expectSequence(messages(events, client, "message_send"), 0, /1B|2B|3B|4B/);
        expectSequence(messages(events, client, "message_receive"), 1, /ArrayBuffer/);
        // The two ends are not paired (nothing ties them): none is linked.
        for (const event of [...messages(events, server, "message_send"), ...messages(events, client, "message_receive")]) expect(event.linkedTo).toEqual([]);
        expect(messages(events, server, "message_send")[0]!.fields.channelSubId).not.toBe(messages(events, client, "message_send")[0]!.fields.channelSubId);
      }, 60000);
    }
  }
});

describe("Node's client hook waits for undici", () => {
  // Node 22+'s global WebSocket is a lazy property whose first read loads undici: a thread that
  // uses neither WebSocket nor fetch must not load it because it is traced.
  test.each(clients.filter(([name]) => name !== "bun"))("%s: a traced program and its worker that use neither do not load undici", async (_name, node) => {
    const argv = [node, "websocket-undici-loaded.cjs"];
    const run = await runTraced(argv);
    expect(run.stdout).toBe("undici loaded: main false, worker false\n");
    expect(run.stdout).toBe((await runUntraced(argv)).stdout);
  });
});

describe("Bun.serve topics and the sends' results", () => {
  test("ws.publish and server.publish on the topic's channel, sendText/sendBinary on the connection, a dropped send marked; output as untraced", async () => {
    const argv = ["bun", "websocket-publish.ts"];
    const untraced = await runUntraced(argv);
    const traced = await runTraced(argv);
    expect(untraced.status).toBe(0);
    expect(traced.stdout).toBe(untraced.stdout);
    // Handler `this`, results of publish/send and the dropped send's 0 are the program's.
    expect(traced.stdout).toContain("open a this undefined");
    expect(traced.stdout).toContain("ws.publish 11\nserver.publish 3\nsendText 4 sendBinary 3");
    expect(traced.stdout).toContain("late send 0");
    const events = traced.events;
    expect(ofKind(events, "agent_error")).toEqual([]);
    const sends = ofKind(events, "message_send").filter((event) => event.fields.channel === "websocket");
    const receives = ofKind(events, "message_receive").filter((event) => event.fields.channel === "websocket");
    const side = (event: TraceEvent) => (event.fields.channelSubId as number) % 4;
    // Topic: both publishes, one channel, server → client.
    const topic = sends.filter((event) => side(event) === 2);
    expect(topic.map((event) => String(event.fields.preview))).toEqual(['"relay hello"', '"all"']);
    expect(new Set(topic.map((event) => event.fields.channelSubId)).size).toBe(1);
    expect(topic.every((event) => event.fields.direction === 1)).toBe(true);
    // Server connections: a's sendText, sendBinary (3 bytes) and each connection's late send with its failed mark (same ordinal, nothing sent).
    const server = sends.filter((event) => side(event) === 0);
    const byConnection = Map.groupBy(server, (event) => event.fields.channelSubId as number);
    expect(byConnection.size).toBe(2);
    const connectionA = [...byConnection.values()].find((list) => list.length === 4)!;
    expect(connectionA.map((event) => [event.fields.ordinal, event.fields.preview, event.fields.sizeBytes])).toEqual([
      [0, '"text"', connectionA[0]!.fields.sizeBytes as number],
      [1, "[view 3B]", 3],
      [2, '"late"', connectionA[2]!.fields.sizeBytes as number],
      [2, null, 0],
    ]);
    // The server received "hello" once; client a sent it once (direction 0), its own sub-id side.
    expect(receives.filter((event) => side(event) === 0).map((event) => [event.fields.direction, event.fields.preview])).toEqual([[0, '"hello"']]);
    expect(sends.filter((event) => side(event) === 1).map((event) => [event.fields.direction, event.fields.preview])).toEqual([[0, '"hello"']]);
    // Clients: a got 3, b got 2 (direction 1); nothing in one process links the ends.
    const clientReceives = Map.groupBy(receives.filter((event) => side(event) === 1), (event) => event.fields.channelSubId as number);
    expect([...clientReceives.values()].map((list) => list.length).sort()).toEqual([2, 3]);
    expect(receives.every((event) => event.linkedTo.length === 0)).toBe(true);
  }, 60000);
});

describe("event groups", () => {
  test("WebSocket messages are the message group's: recorded without http, not with http alone", async () => {
    const argv = ["bun", "websocket-publish.ts"];
    const messageOnly = await runTraced(argv, { scopeArgs: ["--events", "message"] });
    expect(messageOnly.status).toBe(0);
    expect(ofKind(messageOnly.events, "http_server_request")).toEqual([]);
    expect(ofKind(messageOnly.events, "message_send").filter((event) => event.fields.channel === "websocket").length).toBe(9);
    expect(ofKind(messageOnly.events, "message_receive").filter((event) => event.fields.channel === "websocket").length).toBe(6);
    const httpOnly = await runTraced(argv, { scopeArgs: ["--events", "http"] });
    expect(httpOnly.stdout).toBe(messageOnly.stdout);
    expect(ofKind(httpOnly.events, "http_server_request").length).toBe(2);
    expect([...ofKind(httpOnly.events, "message_send"), ...ofKind(httpOnly.events, "message_receive")]).toEqual([]);
  }, 60000);
});

describe("dump and query", () => {
  test("dump shows each end's messages as not paired (not as lost), --stats counts none unpaired, query's messages table has them", async () => {
    const traced = await runTraced(["bun", "websocket-echo-server.ts", process.execPath, String(COUNT), "both"]);
    expect(traced.status).toBe(0);
    const dump = await runCli(["dump", traced.out]);
    expect(dump.exitCode).toBe(0);
    const lines = dump.stdout.split("\n").filter((line) => line.includes(" websocket#"));
    expect(lines.length).toBe(8 * COUNT);
    expect(lines.filter((line) => line.endsWith("(client → server, ends not paired)")).length).toBe(4 * COUNT);
    expect(lines.filter((line) => line.endsWith("(server → client, ends not paired)")).length).toBe(4 * COUNT);
    expect(lines.some((line) => line.includes("websocket#0 ") && line.includes("text 0"))).toBe(true);
    const stats = await runCli(["dump", "--stats", traced.out]);
    expect(stats.stdout).toContain("messages: 0 receives without a send, 0 sends not received");
    const query = await runCli(["query", "--no-cache", "--json", traced.out, "select send_pid is not null as sent, direction, count(*) as n, sum(size_bytes) as bytes from messages where channel = 'websocket' group by 1, 2 order by 1, 2"]);
    expect(query.exitCode).toBe(0);
    const rows = query.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const binary = (COUNT * (COUNT + 1)) / 2;
    const text = rows[0].bytes - binary;
    expect(text).toBeGreaterThan(0);
    // Received by the server (0) and the client (1); sent by the client (0) and the server (1): each 2 * COUNT, the same bytes.
    expect(rows).toEqual([
      { sent: 0, direction: 0, n: 2 * COUNT, bytes: text + binary },
      { sent: 0, direction: 1, n: 2 * COUNT, bytes: text + binary },
      { sent: 1, direction: 0, n: 2 * COUNT, bytes: text + binary },
      { sent: 1, direction: 1, n: 2 * COUNT, bytes: text + binary },
    ]);
    // The view: each end's sends and receives are instants named by the channel, with their preview (a receive its own).
    const index = TraceIndex.open(traced.out);
    const hits = index.search("text 2").hits;
    expect(hits.filter((hit) => hit.kind === "send" && hit.name.startsWith("websocket send")).length).toBe(2);
    expect(hits.filter((hit) => hit.kind === "receive" && hit.name.startsWith("websocket receive")).length).toBe(2);
    const receive = index.details(hits.find((hit) => hit.kind === "receive")!.id)!;
    expect(receive.kind).toBe("message_receive");
    expect(String(receive.fields.preview)).toContain("text 2");
  }, 60000);
});

describe("redaction", () => {
  for (const [name, runtime] of clients.filter(([name]) => name === "bun" || name === "Node 24")) {
    test(`--redact-pattern reaches every WebSocket preview, sends and receives (${name} client)`, async () => {
      const traced = await runTraced(["bun", "websocket-echo-server.ts", runtime, "2", "both"], { scopeArgs: ["--redact-pattern", "text [0-9]"] });
      expect(traced.status).toBe(0);
      const texts = [...ofKind(traced.events, "message_send"), ...ofKind(traced.events, "message_receive")].filter((event) => event.fields.channel === "websocket" && !String(event.fields.preview).includes("B]"));
      expect(texts.length).toBe(8);
      for (const event of texts) expect(event.fields.preview).toBe('"[redacted]"');
    }, 60000);
  }
});
