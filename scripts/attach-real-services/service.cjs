// A service serving before any attach. MODE=express|fastify|workers|fork. Prints its port.
// GET /u/:id?seq=N: a deterministic body for id. GET /state: what an attach could leave behind.
const http = require("node:http");
const channels = require("node:diagnostics_channel");
const Module = require("node:module");
const mode = process.env.MODE || "express";
const NM = process.env.NM; // node_modules root
const need = (name) => require(require.resolve(name, { paths: [NM] }));

const channelNames = ["http.server.request.start", "http.server.response.finish", "http.client.request.start", "http.client.response.finish", "child_process", "worker_threads", "tracing:fastify.request.handler:start", "process.exit"];
const watched = [];
function watch(label, target, key) { watched.push([label, target, key]); }
watch("serverResponse.emit", http.ServerResponse.prototype, "emit");
watch("module.js", Module._extensions, ".js");
watch("process.emit", process, "emit");
watch("process.send", process, "send");
const wt = require("node:worker_threads");
watch("MessagePort.postMessage", wt.MessagePort.prototype, "postMessage");
watch("Worker.postMessage", wt.Worker.prototype, "postMessage");
watch("Worker.terminate", wt.Worker.prototype, "terminate");
watch("Worker.emit", wt.Worker.prototype, "emit");
watch("wt.MessageChannel", wt, "MessageChannel");
watch("global.MessageChannel", globalThis, "MessageChannel");
watch("receiveMessageOnPort", wt, "receiveMessageOnPort");

let handler; // (id) => Promise<object>
if (mode === "express" || mode === "fastify") {
  const pg = need("pg");
  const Query = require(require.resolve("pg/lib/query", { paths: [NM] }));
  const pool = new pg.Pool({ connectionString: process.env.PGURL, max: 4 });
  watch("Client.query", pg.Client.prototype, "query");
  watch("Query.handleReadyForQuery", Query.prototype, "handleReadyForQuery");
  watch("Query.handleError", Query.prototype, "handleError");
  watch("Pool.connect", Object.getPrototypeOf(Object.getPrototypeOf(pool)), "connect");
  handler = async (id) => {
    const { rows } = await pool.query("SELECT $1::int AS id, md5($1::text) AS h", [id]);
    const n = await new Promise((resolve, reject) => pool.query("SELECT count(*)::int AS n FROM generate_series(1, $1::int)", [id % 7 + 1], (e, r) => (e ? reject(e) : resolve(r.rows[0].n))));
    return { ...rows[0], n };
  };
  globalThis.warm = () => pool.query("SELECT 1");
} else if (mode === "workers") {
  const size = 2;
  const src = `const { parentPort } = require("node:worker_threads"); const crypto = require("node:crypto");
    parentPort.on("message", ({ ticket, id }) => { let h = String(id); for (let i = 0; i < 200; i++) h = crypto.createHash("sha256").update(h).digest("hex"); parentPort.postMessage({ ticket, id, h }); });`;
  const workers = Array.from({ length: size }, () => new wt.Worker(src, { eval: true }));
  const waiting = new Map();
  let ticket = 0, next = 0;
  for (const w of workers) w.on("message", (m) => { const done = waiting.get(m.ticket); waiting.delete(m.ticket); done({ id: m.id, h: m.h }); });
  handler = (id) => new Promise((resolve) => { const t = ++ticket; waiting.set(t, resolve); workers[next++ % size].postMessage({ ticket: t, id }); });
  globalThis.warm = async () => {};
} else if (mode === "fork") {
  const { fork } = require("node:child_process");
  const path = require("node:path");
  const kids = [0, 1].map(() => fork(path.join(__dirname, "kid.cjs"), { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  const waiting = new Map();
  let ticket = 0, next = 0;
  for (const k of kids) k.on("message", (m) => { const done = waiting.get(m.ticket); waiting.delete(m.ticket); done({ id: m.id, h: m.h }); });
  handler = (id) => new Promise((resolve) => { const t = ++ticket; waiting.set(t, resolve); kids[next++ % kids.length].send({ ticket: t, id }); });
  globalThis.warm = async () => {};
}

const describe = (target, key) => { const d = Object.getOwnPropertyDescriptor(target, key); return d && { value: d.value, get: d.get, set: d.set, writable: d.writable, enumerable: d.enumerable, configurable: d.configurable }; };
const before = watched.map(([label, t, k]) => [label, describe(t, k)]);
const same = (a, b) => a === b || (a && b && a.value === b.value && a.get === b.get && a.set === b.set && a.writable === b.writable && a.enumerable === b.enumerable && a.configurable === b.configurable);
function state() {
  if (globalThis.gc) { globalThis.gc(); globalThis.gc(); }
  const handles = process._getActiveHandles();
  const kinds = {};
  for (const h of handles) { const n = h?.constructor?.name ?? typeof h; kinds[n] = (kinds[n] ?? 0) + 1; }
  return {
    changed: watched.filter(([label, t, k], i) => !same(before[i][1], describe(t, k))).map(([label]) => label),
    subscribed: channelNames.filter((n) => channels.channel(n).hasSubscribers),
    handles: handles.length, kinds, requests: process._getActiveRequests().length,
    heapUsed: process.memoryUsage().heapUsed,
    listeners: Object.fromEntries(["exit", "worker", "message", "SIGINT", "beforeExit", "uncaughtException"].map((e) => [e, process.listenerCount(e)])),
    inspectorUrl: require("node:inspector").url() ?? null,
    scope: Object.keys(globalThis).filter((k) => /scope/i.test(k)),
    cacheSize: Object.keys(require.cache).length,
  };
}

const respond = async (id) => JSON.stringify(await handler(id));
function start(cb) {
  if (mode === "fastify") {
    const app = need("fastify")({ logger: false });
    app.get("/u/:id", async (req, reply) => { reply.header("content-type", "application/json"); return respond(Number(req.params.id)); });
    app.get("/state", async () => state());
    app.listen({ port: 0, host: "127.0.0.1" }).then(() => cb(app.server.address().port));
  } else if (mode === "express") {
    const express = need("express5");
    const app = express();
    app.use(function logger(req, res, next) { res.setHeader("x-seen", "1"); next(); });
    app.get("/u/:id", async function getUser(req, res) { res.type("json").send(await respond(Number(req.params.id))); });
    app.get("/state", function st(req, res) { res.json(state()); });
    const server = app.listen(0, "127.0.0.1", () => cb(server.address().port));
  } else {
    const server = http.createServer(async (req, res) => {
      const url = new URL(req.url, "http://x");
      if (url.pathname === "/state") return res.end(JSON.stringify(state()));
      const m = /^\/u\/(\d+)$/.exec(url.pathname);
      if (!m) { res.statusCode = 404; return res.end("no"); }
      res.setHeader("content-type", "application/json");
      res.end(await respond(Number(m[1])));
    });
    server.listen(0, "127.0.0.1", () => cb(server.address().port));
  }
}
globalThis.warm().then(() => start((port) => console.log(port)));
