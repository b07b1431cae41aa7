"use strict";
// The HTTP load generator: `connections` keep-alive connections on raw sockets, one
// request outstanding on each (fixed concurrency, no pipelining). Requests are one
// prebuilt buffer and responses are only framed (status line, Content-Length), so
// the client spends as little CPU as possible on the 2 cores it shares with the
// server. Prints "measure" when the warm-up ends, "done" when measuring ends, then
// one JSON line with the result of the measured window.
// `paths` (default ["/item"]): the targets, taken in turn. `rate` (requests/s, optional):
// paced instead of as fast as the server answers, each connection sending its next request
// no sooner than connections/rate seconds after its last (a server's CPU per request then
// compares at the same throughput, traced or not).
// Usage: node http-load.cjs '{"port": N, "connections": 32, "warmupMs": 2000, "durationMs": 10000, "paths": ["/item"]}'
const net = require("node:net");
const { onResponses, isSuccess } = require("./common.cjs");

const { port, connections, warmupMs, durationMs, paths = ["/item"], rate = 0 } = JSON.parse(process.argv[2]);
const intervalMs = rate > 0 ? (connections / rate) * 1000 : 0;
const requests = paths.map((path) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`));
let sent = 0;

let measuring = false;
let stopped = false;
let completed = 0;
let errors = 0;
let non2xx = 0;
// Latency histogram in microseconds: 1 µs buckets to 1 s, one overflow bucket.
const histogram = new Uint32Array(1_000_001);

function connection() {
  const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
  let sentAt = 0;
  const send = () => {
    if (stopped) return socket.end();
    sentAt = performance.now();
    socket.write(requests[sent++ % requests.length]);
  };
  const next = () => {
    const wait = intervalMs - (performance.now() - sentAt);
    if (wait > 0) setTimeout(send, wait);
    else send();
  };
  socket.on("connect", send);
  onResponses(socket, (head) => {
    if (measuring) {
      completed++;
      if (!isSuccess(head)) non2xx++;
      histogram[Math.min(Math.round((performance.now() - sentAt) * 1000), 1_000_000)]++;
    }
    next();
  });
  socket.on("error", () => {
    errors++;
  });
}

function percentile(fraction) {
  const rank = Math.ceil(completed * fraction);
  let seen = 0;
  for (let us = 0; us < histogram.length; us++) {
    seen += histogram[us];
    if (seen >= rank) return us / 1000;
  }
  return Number.NaN;
}

for (let i = 0; i < connections; i++) connection();
let measuredFrom = 0;
setTimeout(() => {
  measuring = true;
  measuredFrom = performance.now();
  process.stdout.write("measure\n");
  setTimeout(() => {
    measuring = false;
    stopped = true;
    const seconds = (performance.now() - measuredFrom) / 1000;
    process.stdout.write("done\n");
    process.stdout.write(
      `${JSON.stringify({ requests: completed, seconds, errors, non2xx, p50Ms: percentile(0.5), p99Ms: percentile(0.99), requestsPerSecond: completed / seconds })}\n`,
    );
  }, durationMs);
}, warmupMs);
