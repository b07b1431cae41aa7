/**
 * Node's `ws` package (a devDependency, pinned) and every WebSocket connection's open and close
 * (channel_open / channel_close): a real WebSocketServer and client on 127.0.0.1 in one traced
 * program (spec/fixtures/ws-package.mjs, ws-package-edges.mjs), on Node 20, 22 and 24, and Bun's
 * own `ws` module when required; Bun.serve, Bun's client and undici's (websocket-echo-server.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced } from "./agent-harness";
import { nodeVersions, runCli } from "./harness";
import type { TraceEvent } from "../src/core/model";
import { TraceIndex } from "../src/view/index";

afterAll(cleanup);

const COUNT = 3;
const nodes = nodeVersions.filter((node) => node.installed).map((node) => [node.name, node.path] as const);
const side = (event: TraceEvent) => (event.fields.channelSubId as number) % 4;
const websocket = (events: TraceEvent[], kind: string) => ofKind(events, kind).filter((event) => event.fields.channel === "websocket");
const brief = (list: TraceEvent[]) => list.map((event) => [event.fields.direction, event.fields.ordinal, event.fields.sizeBytes, event.fields.preview]);
const quoted = (text: string) => JSON.stringify(text);

/** The client's sends in order: text i (a string: its size the text's bytes and quotes) and i + 1 bytes (a Buffer). */
function clientSends(): [number, number, number, string][] {
  const sends: [number, number, number, string][] = [];
  for (let i = 0; i < COUNT; i++) sends.push([0, 2 * i, quoted(`text ${i}`).length, quoted(`text ${i}`)], [0, 2 * i + 1, i + 1, `[view ${i + 1}B]`]);
  return sends;
}

function expectWsTrace(events: TraceEvent[], port: number): void {
  expect(ofKind(events, "agent_error")).toEqual([]);
  const sends = websocket(events, "message_send");
  const receives = websocket(events, "message_receive");
  // One connection at each end: the server's (side 0) and the client's (side 1).
  expect(new Set(sends.filter((event) => side(event) === 0).map((event) => event.fields.channelSubId)).size).toBe(1);
  expect(new Set(sends.filter((event) => side(event) === 1).map((event) => event.fields.channelSubId)).size).toBe(1);
  // Client → server: the client's sends, "bye", then "late" after the close and its failed mark (ordinal reused, nothing sent).
  const bye = 2 * COUNT;
  expect(brief(sends.filter((event) => side(event) === 1))).toEqual([...clientSends(), [0, bye, 5, '"bye"'], [0, bye + 1, 6, '"late"'], [0, bye + 1, 0, null]]);
  // The server received each once, texts previewed as their text (ws hands it a Buffer), binary data as its size.
  expect(brief(receives.filter((event) => side(event) === 0))).toEqual([...clientSends(), [0, bye, 5, '"bye"']]);
  // Server → client: the echoes (the server sends the Buffer it got), each received once by the client (texts previewed as text).
  const echoes = clientSends().map(([, ordinal, size, preview]) => [1, ordinal, preview.startsWith('"') ? size - 2 : size, preview.startsWith('"') ? `[view ${size - 2}B]` : preview]);
  expect(brief(sends.filter((event) => side(event) === 0))).toEqual(echoes);
  expect(brief(receives.filter((event) => side(event) === 1))).toEqual(clientSends().map(([, ordinal, size, preview]) => [1, ordinal, size, preview]));
  // Ends not paired: nothing links them.
  for (const event of [...sends, ...receives]) expect(event.linkedTo).toEqual([]);
  // Each end's open and close: the client's URL, the server's peer; the server's close code and reason at both.
  const opens = websocket(events, "channel_open");
  const closes = websocket(events, "channel_close");
  expect(opens.map((event) => [event.fields.side, side(event)]).sort()).toEqual([["client", 1], ["server", 0]]);
  expect(opens.find((event) => event.fields.side === "client")!.fields.where).toBe(`ws://127.0.0.1:${port}/path?q=1`);
  expect(String(opens.find((event) => event.fields.side === "server")!.fields.where)).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(closes.map((event) => [event.fields.side, event.fields.code, event.fields.reason, event.fields.clean, event.fields.error]).sort()).toEqual([
    ["client", 4000, "done", true, null],
    ["server", 4000, "done", true, null],
  ]);
  // The same channel as the messages: an open before the connection's first message, its close after its last receive.
  for (const open of opens) {
    const own = [...sends, ...receives].filter((event) => event.fields.channelSubId === open.fields.channelSubId);
    const close = closes.find((event) => event.fields.channelSubId === open.fields.channelSubId)!;
    expect(own.every((event) => event.timestampNs > open.timestampNs)).toBe(true);
    expect(own.filter((event) => event.kind === "message_receive").every((event) => event.timestampNs < close.timestampNs)).toBe(true);
  }
}

describe("Node's ws package", () => {
  for (const [name, node] of nodes) {
    for (const [form, how] of [["on", "import"], ["onmessage", "import"], ["listener", "require"]] as const) {
      test(`${name}: server and client, ${form} (${how}): every message once at each end with its preview, open and close; output as untraced`, async () => {
        const argv = [node, "ws-package.mjs", String(COUNT), form, how];
        const untraced = await runUntraced(argv);
        const traced = await runTraced(argv);
        expect(untraced.status).toBe(0);
        expect(traced.status).toBe(0);
        expect(traced.stdout).toBe(untraced.stdout);
        expect(traced.stdout).toContain(`client got "text ${COUNT - 1}" isBinary false`);
        expect(traced.stdout).toContain("late send: WebSocket is not open: readyState 3 (CLOSED)");
        const port = Number(/ws:\/\/127\.0\.0\.1:(\d+)/.exec(String(websocket(traced.events, "channel_open").find((event) => event.fields.side === "client")?.fields.where))?.[1]);
        expectWsTrace(traced.events, port);
        // The client's HTTP request ends where the connection was handed over: 101, upgraded (not aborted).
        const clientEnds = traced.events.filter((event) => event.kind === "http_client_response");
        expect(clientEnds.map((event) => [event.fields.status, event.fields.end])).toEqual([[101, "upgraded"]]);
      }, 60000);
    }
  }

  test("Bun's ws module, required: the same records; imported (no hook in Bun), none", async () => {
    const required = ["bun", "ws-package.mjs", String(COUNT), "on", "require"];
    const untraced = await runUntraced(required);
    const traced = await runTraced(required);
    expect(traced.status).toBe(0);
    expect(traced.stdout).toBe(untraced.stdout);
    const port = Number(/ws:\/\/127\.0\.0\.1:(\d+)/.exec(String(websocket(traced.events, "channel_open").find((event) => event.fields.side === "client")?.fields.where))?.[1]);
    expectWsTrace(traced.events, port);
    const imported = await runTraced(["bun", "ws-package.mjs", String(COUNT), "on", "import"]);
    expect(imported.stdout).toBe(untraced.stdout);
    expect([...websocket(imported.events, "message_send"), ...websocket(imported.events, "channel_open")]).toEqual([]);
  }, 60000);

  test.each(nodes.filter(([name]) => name !== "Node 22"))("%s: a long text's receive has its whole size and the send's preview; a terminated connection and a refused one close unclean, the refused one with its error; a send that throws is marked failed", async (_name, node) => {
    const argv = [node, "ws-package-edges.mjs"];
    const untraced = await runUntraced(argv);
    const traced = await runTraced(argv);
    expect(traced.stdout).toBe(untraced.stdout);
    expect(traced.stdout).toContain("refused error ECONNREFUSED");
    const events = traced.events;
    expect(ofKind(events, "agent_error")).toEqual([]);
    const bytes = Buffer.byteLength("é".repeat(500) + "x".repeat(2000));
    expect(traced.stdout).toContain("early send threw: WebSocket is not open: readyState 0 (CONNECTING)");
    // The send that threw: recorded, then marked failed (its ordinal reused, nothing sent), on the refused client's channel.
    const refusedSub = websocket(events, "channel_close").at(-1)!.fields.channelSubId;
    const early = websocket(events, "message_send").filter((event) => event.fields.channelSubId === refusedSub);
    expect(brief(early)).toEqual([
      [0, 0, 7, '"early"'],
      [0, 0, 0, null],
    ]);
    const messages = [...websocket(events, "message_send"), ...websocket(events, "message_receive")].filter((event) => event.fields.channelSubId !== refusedSub);
    expect(messages.length).toBe(4);
    for (const event of messages) {
      expect(event.fields.sizeBytes).toBe(bytes + 2);
      expect(event.fields.preview).toBe(messages[0]!.fields.preview);
    }
    expect(String(messages[0]!.fields.preview)).toStartWith('"éé');
    const closes = websocket(events, "channel_close").map((event) => [event.fields.side, event.fields.code, event.fields.clean, event.fields.hadError, event.fields.error]);
    expect(closes.slice(0, 2).sort()).toEqual([
      ["client", 1006, false, false, null],
      ["server", 1006, false, false, null],
    ]);
    expect(closes[2]).toEqual(["client", 1006, false, true, expect.stringContaining("ECONNREFUSED")]);
    // The refused client never opened: two opens only.
    expect(websocket(events, "channel_open").length).toBe(2);
  }, 60000);
});

describe("open and close everywhere", () => {
  const clients: [string, string][] = [["bun", process.execPath], ...nodes.filter(([name]) => name === "Node 24").map(([name, path]) => [name, path] as [string, string])];
  test.each(clients)("Bun.serve and a %s client: each end's open (server peer, client URL) and close (1000 \"done\")", async (_name, runtime) => {
    const traced = await runTraced(["bun", "websocket-echo-server.ts", runtime, "2", "both"]);
    expect(traced.status).toBe(0);
    expect(ofKind(traced.events, "agent_error")).toEqual([]);
    const server = ofKind(traced.events, "process_spawn")[0]!.pid;
    const opens = websocket(traced.events, "channel_open");
    const closes = websocket(traced.events, "channel_close");
    expect(opens.map((event) => [event.pid === server, event.fields.side]).sort()).toEqual([[false, "client"], [true, "server"]]);
    expect(String(opens.find((event) => event.fields.side === "client")!.fields.where)).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/$/);
    expect(opens.find((event) => event.fields.side === "server")!.fields.where).toBe("127.0.0.1");
    expect(closes.map((event) => [event.pid === server, event.fields.side, event.fields.code, event.fields.reason, event.fields.clean]).sort()).toEqual([
      [false, "client", 1000, "done", true],
      [true, "server", 1000, "done", true],
    ]);
    // Each on its connection's channel: the sub-id of that end's messages.
    for (const event of [...opens, ...closes]) {
      const own = websocket(traced.events, "message_send").filter((send) => send.pid === event.pid);
      expect(own.length).toBeGreaterThan(0);
      expect(own.every((send) => send.fields.channelSubId === event.fields.channelSubId)).toBe(true);
    }
  }, 60000);

  test.each(nodes.filter(([name]) => name === "Node 24"))("%s: undici's client refused: a close 1006 after an error, no open; output as untraced", async (_name, node) => {
    const argv = [node, "websocket-refused.mjs"];
    const untraced = await runUntraced(argv);
    const traced = await runTraced(argv);
    expect(traced.stdout).toBe(untraced.stdout);
    expect(traced.stdout).toBe("error\nclose 1006 false\n");
    expect(websocket(traced.events, "channel_open")).toEqual([]);
    expect(websocket(traced.events, "channel_close").map((event) => [event.fields.side, event.fields.code, event.fields.clean, event.fields.hadError])).toEqual([["client", 1006, false, true]]);
  }, 60000);

  test("dump, query and the view show a connection's open and close", async () => {
    const node = nodes.at(-1)![1];
    const traced = await runTraced([node, "ws-package.mjs", "1", "on", "import"]);
    expect(traced.status).toBe(0);
    const dump = await runCli(["dump", traced.out]);
    expect(dump.exitCode).toBe(0);
    const lines = dump.stdout.split("\n");
    expect(lines.filter((line) => / channel_open +websocket client 1 opened "ws:\/\/127\.0\.0\.1:\d+\/path\?q=1"$/.test(line)).length).toBe(1);
    expect(lines.filter((line) => / channel_open +websocket server 0 opened "127\.0\.0\.1:\d+"$/.test(line)).length).toBe(1);
    expect(lines.filter((line) => / channel_close +websocket (client 1|server 0) closed code 4000 "done"$/.test(line)).length).toBe(2);
    const query = await runCli(["query", "--no-cache", "--json", traced.out, "select side, sub_id, address like 'ws://%' as url, protocol, code, reason, error, clean, duration_ns > 0 as timed, open_event is not null as opened from connections order by side"]);
    expect(query.exitCode).toBe(0);
    expect(query.stdout.trim().split("\n").map((line) => JSON.parse(line))).toEqual([
      { side: "client", sub_id: 1, url: 1, protocol: null, code: 4000, reason: "done", error: null, clean: 1, timed: 1, opened: 1 },
      { side: "server", sub_id: 0, url: 0, protocol: null, code: 4000, reason: "done", error: null, clean: 1, timed: 1, opened: 1 },
    ]);
    const spans = await runCli(["query", "--no-cache", "--json", traced.out, "select count(*) as n from spans where type = 'connection' and name like 'websocket %'"]);
    expect(JSON.parse(spans.stdout.trim())).toEqual({ n: 2 });
    const index = TraceIndex.open(traced.out);
    const hits = index.search("websocket").hits.filter((hit) => hit.kind === "connection");
    expect(hits.map((hit) => hit.name.replace(/127\.0\.0\.1:\d+/, "PEER")).sort()).toEqual([
      "websocket client 1 close 4000 done",
      "websocket client 1 open ws://PEER/path?q=1",
      "websocket server 0 close 4000 done",
      "websocket server 0 open PEER",
    ]);
    const close = index.details(hits.find((hit) => hit.name.startsWith("websocket client 1 close"))!.id)!;
    expect(close.kind).toBe("channel_close");
    expect(close.fields).toMatchObject({ channel: "websocket", side: "client", code: 4000, reason: "done", clean: true, hadError: false });
    // OTLP: an INTERNAL span for each end from its open to its close, the close's code and reason as attributes.
    const otlp = join(dirname(traced.out), "otlp.json");
    expect((await runCli(["export", "--otlp", otlp, traced.out])).exitCode).toBe(0);
    type Span = { name: string; kind: number; attributes: { key: string; value: Record<string, unknown> }[] };
    const exported = (JSON.parse(readFileSync(otlp, "utf8")) as { resourceSpans: { scopeSpans: { spans: Span[] }[] }[] }).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((scope) => scope.spans));
    const connectionSpans = exported.filter((span) => span.name.startsWith("websocket "));
    expect(connectionSpans.map((span) => span.name).sort()).toEqual(["websocket client", "websocket server"]);
    const attribute = (span: Span, key: string) => Object.values(span.attributes.find((a) => a.key === key)?.value ?? {})[0];
    for (const span of connectionSpans) {
      expect(span.kind).toBe(1);
      expect([attribute(span, "scope.connection.close_code"), attribute(span, "scope.connection.close_reason")]).toEqual([4000, "done"]);
    }
  }, 60000);
});
