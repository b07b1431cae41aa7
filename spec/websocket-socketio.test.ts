/**
 * socket.io 4 (pinned, from npm), a server and three clients in one traced program: every
 * packet is a WebSocket message at both ends (ws underneath: the server's copy and
 * engine.io-client's own), a room broadcast's frames too (socket.io-adapter frames a broadcast
 * once and engine.io writes it to each recipient with ws's internal sendFrame, not send).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { installedNodes } from "./harness";
import type { TraceEvent } from "../src/core/model";
import { installTools, writeProject } from "./toolchain-harness";

afterAll(cleanup);

const app = `
const http = require("node:http");
const { Server } = require("socket.io");
const { io } = require("socket.io-client");
(async () => {
  const httpServer = http.createServer();
  const server = new Server(httpServer);
  server.on("connection", (socket) => {
    socket.on("join", (room, ack) => { socket.join(room); ack("joined " + room); });
    socket.on("say", (room, text) => server.to(room).emit("said", text));
  });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const url = "http://127.0.0.1:" + httpServer.address().port;
  const clients = ["a", "b", "c"].map(() => io(url, { transports: ["websocket"], forceNew: true }));
  await Promise.all(clients.map((c) => new Promise((resolve) => c.on("connect", resolve))));
  const heard = clients.map(() => []);
  clients.forEach((c, i) => c.on("said", (text) => heard[i].push(text)));
  for (const [i, c] of clients.entries()) console.log(await c.emitWithAck("join", i < 2 ? "red" : "blue"));
  clients[0].emit("say", "red", "hello red");
  clients[2].emit("say", "blue", "hello blue");
  await new Promise((resolve) => { const t = setInterval(() => { if (heard[1].length && heard[2].length) { clearInterval(t); resolve(); } }, 5); });
  console.log(heard.map((h) => h.join("|")).join(" / "));
  for (const c of clients) c.disconnect();
  await new Promise((resolve) => setTimeout(resolve, 50));
  server.close();
})();
`;

const websocket = (events: TraceEvent[], kind: string) => ofKind(events, kind).filter((event) => event.fields.channel === "websocket");
/** The message records' previews (a text message's: its text quoted, long ones cut), sorted. */
const packets = (events: TraceEvent[], kind: string) => websocket(events, kind).map((event) => String(event.fields.preview)).sort();

for (const [name, runtime] of installedNodes) {
  test(`${name}: socket.io: a room broadcast's frames are sends on each recipient's connection, as many sends as receives`, async () => {
    const nodeModules = await installTools("socketio");
    const dir = writeProject(join(scratchDir(), `socketio-${name.replace(/\W/g, "")}`), nodeModules, { "app.js": app });
    const argv = [runtime, join(dir, "app.js")];
    const plain = await runUntraced(argv, { cwd: dir });
    const run = await runTraced(argv, { cwd: dir });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: plain.stderr });
    expect(plain.stdout).toBe("joined red\njoined red\njoined blue\nhello red / hello red / hello blue\n");
    expect(run.end.dropped).toBe(0);
    const said = (text: string) => JSON.stringify(`42["said","${text}"]`);
    // The broadcast to red reached a and b, to blue c: three frames sent by the server, three received by the clients.
    expect(packets(run.events, "message_send").filter((p) => p.includes("said"))).toEqual([said("hello blue"), said("hello red"), said("hello red")]);
    expect(packets(run.events, "message_receive").filter((p) => p.includes("said"))).toEqual([said("hello blue"), said("hello red"), said("hello red")]);
    expect(packets(run.events, "message_send")).toEqual(packets(run.events, "message_receive"));
    expect(websocket(run.events, "channel_open").length).toBe(6);
  }, 120_000);
}
