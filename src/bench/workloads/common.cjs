"use strict";
// Shared by the workload programs: parameters in, one result file out.
// Usage of every workload: node <workload>.cjs <result.json> '<params json>'
const fs = require("node:fs");

function params(defaults) {
  const given = process.argv[3] ? JSON.parse(process.argv[3]) : {};
  return { ...defaults, ...given };
}

/**
 * The peak resident set of this process since it started: VmHWM. Not rusage's maxRSS,
 * which on Linux also counts the spawning process's memory from before exec.
 */
function peakRssBytes() {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) * 1024 : null;
}

/**
 * Writes the result atomically (write, then rename), so a reader never sees half of it;
 * straight into a path that is not a regular file (a rename would replace /dev/null).
 */
function report(result) {
  const path = process.argv[2];
  if (!path) throw new Error("usage: node <workload>.cjs <result.json> [params json]");
  const text = JSON.stringify({ ...result, peakRssBytes: peakRssBytes() });
  const existing = fs.statSync(path, { throwIfNoEntry: false });
  if (existing && !existing.isFile()) return fs.writeFileSync(path, text);
  fs.writeFileSync(`${path}.tmp`, text);
  fs.renameSync(`${path}.tmp`, path);
}

function nowSeconds() {
  return performance.now() / 1000;
}

const HEADER_END = Buffer.from("\r\n\r\n");
const CONTENT_LENGTH = /\r\ncontent-length: *(\d+)/i;

// Frames HTTP/1.1 responses on a keep-alive socket (status line, headers, Content-Length
// body) and calls onResponse(head, bodyBuffer) for each whole one. The load clients parse
// no more than this, so they spend little CPU on the cores they share with the server.
function onResponses(socket, onResponse) {
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      const headerEnd = pending.indexOf(HEADER_END);
      if (headerEnd < 0) return;
      const head = pending.toString("latin1", 0, headerEnd);
      const length = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
      const total = headerEnd + 4 + length;
      if (pending.length < total) return;
      const body = pending.subarray(headerEnd + 4, total);
      pending = pending.subarray(total);
      onResponse(head, body);
    }
  });
}

// "HTTP/1.1 2xx": the status code's first digit.
const isSuccess = (head) => head.charCodeAt(9) === 50;

// A steady request rate over idle connections: a 10 ms tick hands out `rate` requests/s
// of credit (a late timer's time included, at most 100 ms of requests banked, so a stall
// is not followed by a burst); each idle connection ({send()}, taken from `idle`) spends
// one. Returns the pacer: take() spends a credit if there is one; stop() ends the tick.
function steadyRate(rate, connections, idle) {
  let credit = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    credit = Math.min(credit + ((now - last) / 1000) * rate, Math.max(connections, rate / 10));
    last = now;
    while (credit >= 1 && idle.length > 0) {
      credit--;
      idle.pop().send();
    }
  }, 10);
  return {
    take() {
      if (credit < 1) return false;
      credit--;
      return true;
    },
    stop: () => clearInterval(tick),
  };
}

module.exports = { params, report, nowSeconds, onResponses, isSuccess, steadyRate };
