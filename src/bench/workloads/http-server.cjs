"use strict";
// HTTP: a node:http JSON service on loopback. Writes {port, pid} to the ready file
// once listening; `GET /shutdown` closes it, and it writes its result and exits.
// Usage: node http-server.cjs <result.json> '{"ready": "<ready.json>"}'
const http = require("node:http");
const fs = require("node:fs");
const { params, report } = require("./common.cjs");

const { ready } = params({ ready: "" });
const catalogue = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `product ${i}`, price: 100 + i * 7, tags: ["a", "b"] }));
let served = 0;

const server = http.createServer((request, response) => {
  if (request.url === "/shutdown") {
    response.end("bye\n");
    server.close(() => report({ ops: served, unit: "requests", seconds: 0, expect: { messages: 0, threads: 0, processes: 0 } }));
    server.closeAllConnections();
    return;
  }
  served++;
  const id = served % catalogue.length;
  const body = JSON.stringify({ ok: true, item: catalogue[id], count: catalogue.length });
  response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  response.end(body);
});

server.listen(0, "127.0.0.1", () => {
  fs.writeFileSync(`${ready}.tmp`, JSON.stringify({ port: server.address().port, pid: process.pid }));
  fs.renameSync(`${ready}.tmp`, ready);
});
