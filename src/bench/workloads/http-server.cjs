"use strict";
// HTTP: a node:http JSON service on loopback. Writes {port, pid} to the ready file
// once listening; `GET /shutdown` closes it, and it writes its result and exits.
// The same service is the `http` workload (runtime events only) and `http-functions`
// (this file's functions instrumented at the calls level: handle, lookup and render
// once per request, so the trace must hold that many calls of each, each linked to its
// request). Both record every request (http_server_request and its end).
// Usage: node http-server.cjs <result.json> '{"ready": "<ready.json>"}'
const http = require("node:http");
const fs = require("node:fs");
const { params, report } = require("./common.cjs");

const { ready } = params({ ready: "" });
const catalogue = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `product ${i}`, price: 100 + i * 7, tags: ["a", "b"] }));
let served = 0;

function lookup(id) {
  return catalogue[id % catalogue.length];
}

function render(item) {
  return JSON.stringify({ ok: true, item, count: catalogue.length });
}

function handle(request, response) {
  if (request.url === "/shutdown") {
    response.end("bye\n");
    // handle: every request and the shutdown; lookup and render: every request.
    const functions = { handle: served + 1, lookup: served, render: served };
    // Every request is recorded (the shutdown's may end aborted: its connection is closed at once).
    const http = { serverRequests: served + 1, finished: served, linked: ["handle", "lookup", "render"] };
    server.close(() => report({ ops: served, unit: "requests", seconds: 0, expect: { messages: 0, threads: 0, processes: 0, functions, http } }));
    server.closeAllConnections();
    return;
  }
  served++;
  const body = render(lookup(served));
  response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  response.end(body);
}

const server = http.createServer(handle);

server.listen(0, "127.0.0.1", () => {
  fs.writeFileSync(`${ready}.tmp`, JSON.stringify({ port: server.address().port, pid: process.pid }));
  fs.renameSync(`${ready}.tmp`, ready);
});
