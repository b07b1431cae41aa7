"use strict";
// The soak's HTTP load: `connections` keep-alive connections on raw sockets over
// 127.0.0.1 at a steady `rate` (requests per second, all connections together), for
// `seconds`, then it stops by itself. A 10 ms tick hands out the rate's credit; an
// idle connection takes one credit per request, so the rate holds whatever the
// server's latency (unless the server cannot keep up: then every connection stays
// busy and the achieved rate says so). At most one request outstanding per
// connection. Counts every response, from the first. Prints one JSON line at the end.
// Usage: node soak-load.cjs '{"port": N, "connections": 8, "rate": 1000, "seconds": 60}'
const net = require("node:net");

const { port, connections, rate, seconds } = JSON.parse(process.argv[2]);
const request = Buffer.from(`GET /item HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
const HEADER_END = Buffer.from("\r\n\r\n");
const CONTENT_LENGTH = /\r\ncontent-length: *(\d+)/i;

let stopping = false;
let sent = 0;
let completed = 0;
let errors = 0;
let non2xx = 0;
let credit = 0;
const idle = [];
const sockets = [];
const started = performance.now();

function connection() {
  const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
  let pending = Buffer.alloc(0);
  let busy = false;
  const state = {
    send() {
      busy = true;
      credit--;
      sent++;
      socket.write(request);
    },
  };
  socket.on("connect", () => idle.push(state));
  socket.on("data", (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      const headerEnd = pending.indexOf(HEADER_END);
      if (headerEnd < 0) return;
      const head = pending.toString("latin1", 0, headerEnd);
      const length = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
      const total = headerEnd + 4 + length;
      if (pending.length < total) return;
      pending = pending.subarray(total);
      busy = false;
      completed++;
      if (head.charCodeAt(9) !== 50) non2xx++; // "HTTP/1.1 2xx"
      if (stopping) finish();
      else if (credit >= 1) state.send();
      else idle.push(state);
    }
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

let last = started;
const tick = setInterval(() => {
  const now = performance.now();
  // Credit for the time since the last tick (a late timer included); at most 100 ms
  // of requests banked, so a long stall is not followed by a burst.
  credit = Math.min(credit + ((now - last) / 1000) * rate, Math.max(connections, rate / 10));
  last = now;
  while (credit >= 1 && idle.length > 0) idle.pop().send();
}, 10);

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
  clearInterval(tick);
  finish();
}, seconds * 1000);
