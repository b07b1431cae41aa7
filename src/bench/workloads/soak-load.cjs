"use strict";
// The soak's HTTP load: `connections` keep-alive connections on raw sockets over
// 127.0.0.1 at a steady `rate` (requests per second, all connections together), for
// `seconds`, then it stops by itself. common.cjs steadyRate hands out the rate's credit;
// an idle connection takes one credit per request, so the rate holds whatever the
// server's latency (unless the server cannot keep up: then every connection stays
// busy and the achieved rate says so). At most one request outstanding per
// connection. Counts every response, from the first. Prints one JSON line at the end.
// Usage: node soak-load.cjs '{"port": N, "connections": 8, "rate": 1000, "seconds": 60}'
const net = require("node:net");
const { onResponses, isSuccess, steadyRate } = require("./common.cjs");

const { port, connections, rate, seconds } = JSON.parse(process.argv[2]);
const request = Buffer.from(`GET /item HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);

let stopping = false;
let sent = 0;
let completed = 0;
let errors = 0;
let non2xx = 0;
const idle = [];
const sockets = [];
const started = performance.now();
const pacer = steadyRate(rate, connections, idle);

function connection() {
  const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
  let busy = false;
  const state = {
    send() {
      busy = true;
      sent++;
      socket.write(request);
    },
  };
  socket.on("connect", () => idle.push(state));
  onResponses(socket, (head) => {
    busy = false;
    completed++;
    if (!isSuccess(head)) non2xx++;
    if (stopping) finish();
    else if (pacer.take()) state.send();
    else idle.push(state);
  });
  socket.on("error", () => {
    errors++;
    busy = false;
    if (stopping) finish();
  });
  state.isBusy = () => busy;
  state.socket = socket;
  sockets.push(state);
}

let done = false;
function finish() {
  if (done || sockets.some((state) => state.isBusy())) return;
  done = true;
  for (const state of sockets) state.socket.end();
  const elapsed = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ sent, requests: completed, seconds: elapsed, errors, non2xx, requestsPerSecond: completed / elapsed })}\n`);
}

for (let i = 0; i < connections; i++) connection();
setTimeout(() => {
  // Stop sending; the requests in flight are answered before the count is final.
  stopping = true;
  pacer.stop();
  finish();
}, seconds * 1000);
