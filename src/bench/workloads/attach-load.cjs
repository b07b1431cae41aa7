"use strict";
// The attach proof's load (src/bench/attach.ts): soak-load.cjs's steady keep-alive load
// (a 10 ms tick hands out `rate` requests/s over `connections` sockets, at most one
// outstanding per socket), with every request numbered (GET /order/<seq>), every
// response checked against the body attach-orders.cjs gives untraced, and each request's
// latency and the phases it was sent and answered in kept. A line on stdin names the
// phase from then on; "end" stops sending and prints one JSON line: per phase the
// latencies (ms) and the failures, plus [seq, sent phase, answered phase] for the window check.
// Usage: node attach-load.cjs '{"port": N, "connections": 8, "rate": 500}'
const net = require("node:net");
const orders = require("./attach-orders.cjs");
const { onResponses, isSuccess, steadyRate } = require("./common.cjs");

const { port, connections, rate } = JSON.parse(process.argv[2]);

let phase = "warm";
let stopping = false;
let seq = 0;
const idle = [];
const sockets = [];
const phases = new Map();
const requests = [];

function phaseStats(name) {
  let stats = phases.get(name);
  if (!stats) phases.set(name, (stats = { latenciesMs: [], errors: 0, mismatches: 0, non2xx: 0 }));
  return stats;
}

function connection() {
  const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
  let current;
  const state = {
    busy: false,
    send() {
      state.busy = true;
      const n = ++seq;
      current = { n, sentPhase: phase, sentAt: performance.now() };
      socket.write(`GET /order/${n} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
    },
  };
  socket.on("connect", () => idle.push(state));
  onResponses(socket, (head, body) => {
    const stats = phaseStats(current.sentPhase);
    stats.latenciesMs.push(performance.now() - current.sentAt);
    if (!isSuccess(head)) stats.non2xx++;
    const n = current.n;
    if (body.toString("utf8") !== orders.render(orders.createOrder(n, 1 + (n % 3)))) stats.mismatches++;
    requests.push([n, current.sentPhase, phase]);
    state.busy = false;
    if (stopping) finish();
    else if (pacer.take()) state.send();
    else idle.push(state);
  });
  socket.on("error", () => {
    phaseStats(current?.sentPhase ?? phase).errors++;
    state.busy = false;
  });
  socket.on("close", () => {
    if (!stopping) phaseStats(phase).errors++;
  });
  sockets.push(state);
}

const pacer = steadyRate(rate, connections, idle);

let done = false;
function finish() {
  if (done || sockets.some((state) => state.busy)) return;
  done = true;
  const summary = {};
  for (const [name, stats] of phases) {
    const sorted = stats.latenciesMs.sort((x, y) => x - y);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    summary[name] = { requests: sorted.length, errors: stats.errors, mismatches: stats.mismatches, non2xx: stats.non2xx, p50Ms: at(0.5), p90Ms: at(0.9), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? 0 };
  }
  // Exits once the pipe took the whole line (a large one is written asynchronously).
  process.stdout.write(`${JSON.stringify({ phases: summary, requests })}\n`, () => process.exit(0));
}

for (let i = 0; i < connections; i++) connection();
let input = "";
process.stdin.on("data", (chunk) => {
  input += chunk;
  let newline;
  while ((newline = input.indexOf("\n")) >= 0) {
    const line = input.slice(0, newline).trim();
    input = input.slice(newline + 1);
    if (line === "end") {
      stopping = true;
      pacer.stop();
      finish();
    } else if (line) {
      phase = line;
      process.stdout.write(`phase ${line}\n`);
    }
  }
});
