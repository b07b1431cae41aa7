"use strict";
// The web workload's service (Express 4 + pg, src/bench/workloads/web-app.cjs: one
// middleware, /items/:id with one query, /orders/:id with two) served over in-memory
// duplex streams instead of TCP (Node's HTTP server parses and answers them as sockets), the
// client in the same process: no load process and no HTTP syscalls, so the process's own
// CPU per request is what the service (and a tracer in it) costs, little moved by how
// other processes use the machine. pg is real (PGURL). Prints one JSON line:
// {requests, cpuUs} for the measured window after a warm-up.
// The window is `requests` responses counted from the `warmup`th on, and every connection
// keeps sending until it ends (then the connections end and the service closes): all
// `connections` requests are in flight from the warm-up straight through the window, with no
// pause at its edges. A pause with every request answered deoptimizes code that had met only
// requests in flight, Node's and pg's untraced too (BENCHMARKS.md "Web: 16 requests in flight").
// At the window's start the service calls os.getPriority() and at its end os.loadavg() (libuv's
// uv_os_getpriority, uv_loadavg: nothing else in the process calls them), so callgrind's
// --zero-before=uv_os_getpriority --dump-before=uv_loadavg profiles exactly the window
// (scripts/web-inproc-callgrind.sh).
// WEB_DIAG=1 (diagnostic runs, e.g. with --trace-opt --trace-deopt): prints "### done N"
// every 500 responses, "### warm" and "### end" lines at the measured window's edges (to split V8's trace output by window) and
// adds to the JSON line the heap bytes allocated in the window (`allocatedBytes`: the used
// heap's growth plus what each GC in the window freed, by v8.GCProfiler) and its GCs by type.
// WEB_HEAP_PROFILE=path (with WEB_DIAG=1): V8's sampling heap profiler over the window (every
// 256 bytes on average, objects the GCs collected included), its profile written to path.
// WEB_WARM_FILE=path: the service's pid written there WEB_WARM_LEAD (300) responses before the
// warm-up's end (e.g. for `callgrind_control -i on`); the window then starts at the first
// response from the `warmup`th on at which path.go exists (the collector is on), with no request
// held: "### window N" on stderr names that response when it is not the `warmup`th.
// WEB_WARM_WAIT=1 (with WEB_WARM_FILE, the old way, for reproducing a pause): the file is written
// at the warm-up's end and no request is sent until path.go exists: every connection idle
// before the window.
// Usage: [WEB_STUB_PG=1] [WEB_DIAG=1 [WEB_HEAP_PROFILE=path]] [WEB_WARM_FILE=path [WEB_WARM_LEAD=n | WEB_WARM_WAIT=1]] node web-inproc.cjs '{"connections": 8, "warmup": 2000, "requests": 10000}'
const http = require("node:http");
const { Duplex } = require("node:stream");
const express = require("express");
const { Pool } = require("pg");
const { webApp } = require("../src/bench/workloads/web-app.cjs");
const { onResponses, isSuccess } = require("../src/bench/workloads/common.cjs");

const { connections = 8, warmup = 2000, requests = 10000 } = JSON.parse(process.argv[2] ?? "{}");
// WEB_STUB_PG=1: a stand-in pool answering on the next turn (no PostgreSQL, no pg): HTTP,
// Express and the request context alone, with nothing outside the process setting the pace
// (so an instruction count of it does not depend on how fast PostgreSQL answers).
const pool =
  process.env.WEB_STUB_PG === "1"
    ? { query: (text, values) => new Promise((resolve) => setImmediate(resolve, { rows: [{ id: Number(values[0]), lines: 3, total: 6 }] })), end() {} }
    : new Pool({ connectionString: process.env.PGURL, max: 4 });
const app = webApp(express, pool);
const server = http.createServer(app);

/** Two cross-wired duplex streams: what one writes the other reads (on the next tick, as a socket would deliver it). */
function pair() {
  const sides = [];
  const make = (index) =>
    new Duplex({
      read() {},
      write(chunk, encoding, callback) {
        const other = sides[1 - index];
        process.nextTick(() => other.push(chunk));
        callback();
      },
      final(callback) {
        sides[1 - index].push(null);
        callback();
      },
    });
  sides.push(make(0), make(1));
  return sides;
}

const paths = ["/items/7", "/orders/3"].map((path) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n`));
let done = 0;
let sent = 0;
let started;
let finished = false;
const diag = process.env.WEB_DIAG === "1";
let profiler;
let usedAtWarm = 0;
let session;
function diagWarm() {
  if (!diag) return;
  const v8 = require("node:v8");
  console.log("### warm");
  profiler = new v8.GCProfiler();
  profiler.start();
  if (process.env.WEB_HEAP_PROFILE) {
    session = new (require("node:inspector").Session)();
    session.connect();
    session.post("HeapProfiler.startSampling", { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  usedAtWarm = v8.getHeapStatistics().used_heap_size;
}
function diagEnd() {
  if (!diag) return {};
  const used = require("node:v8").getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  if (session !== undefined)
    session.post("HeapProfiler.stopSampling", (error, result) => {
      if (error) throw error;
      require("node:fs").writeFileSync(process.env.WEB_HEAP_PROFILE, JSON.stringify(result.profile));
    });
  console.log("### end");
  let freed = 0;
  const gcs = {};
  for (const gc of statistics) {
    freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
    gcs[gc.gcType] = (gcs[gc.gcType] ?? 0) + 1;
  }
  return { allocatedBytes: used - usedAtWarm + freed, gcs };
}

const warmFile = process.env.WEB_WARM_FILE;
const warmWait = warmFile !== undefined && process.env.WEB_WARM_WAIT === "1";
const lead = warmFile === undefined || warmWait ? 0 : Math.max(0, Math.min(warmup - 1, Number(process.env.WEB_WARM_LEAD ?? 300)));
/** The response count the window starts at (set once it has started), and where it ends. */
let windowStart;
let windowEnd = Infinity;
/** Connections not ended yet: the service closes when the last one ends. */
let open = connections;

function connection() {
  const [serverSide, clientSide] = pair();
  serverSide.remoteAddress = "127.0.0.1";
  serverSide.remotePort = 40000 + sent;
  server.emit("connection", serverSide);
  const send = () => {
    if (finished) return clientSide.end();
    clientSide.write(paths[sent++ % paths.length]);
  };
  clientSide.on("end", () => {
    if (--open === 0) {
      server.close();
      pool.end();
    }
  });
  onResponses(clientSide, (head) => {
    if (!isSuccess(head)) throw new Error(`status: ${head.slice(0, 20)}`);
    done++;
    if (diag && done % 500 === 0) console.log(`### done ${done}`);
    if (done === warmup - lead && warmFile !== undefined) {
      // WEB_WARM_FILE: written before the window (e.g. for `callgrind_control -i on` to start collecting).
      require("node:fs").writeFileSync(warmFile, String(process.pid));
      // WEB_WARM_WAIT=1: no request is sent until WEB_WARM_FILE.go exists.
      if (warmWait) holdUntilGo();
    }
    if (windowStart === undefined && done >= warmup && (lead === 0 || require("node:fs").existsSync(`${warmFile}.go`))) startWindow();
    else if (done === windowEnd) finish();
    if (held !== undefined) held.push(send);
    else send();
  });
  send();
}

/** The window's start: `requests` responses from here on are measured. */
function startWindow() {
  windowStart = done;
  windowEnd = done + requests;
  if (done !== warmup) process.stderr.write(`### window ${done}\n`);
  diagWarm();
  // The mark of the window's start (callgrind --zero-before=uv_os_getpriority).
  require("node:os").getPriority();
  started = process.cpuUsage();
}

/** Sends held while waiting for WEB_WARM_FILE.go (WEB_WARM_WAIT=1), undefined when not waiting. */
let held;
function holdUntilGo() {
  held = [];
  const go = `${warmFile}.go`;
  const poll = () => {
    if (!require("node:fs").existsSync(go)) return setTimeout(poll, 10);
    const sends = held;
    held = undefined;
    started = process.cpuUsage();
    for (const send of sends) send();
  };
  poll();
}

/** The window's end: every connection ends after its next response. */
function finish() {
  if (finished) return;
  finished = true;
  const used = process.cpuUsage(started);
  // The mark of the window's end (callgrind --dump-before=uv_loadavg).
  require("node:os").loadavg();
  const diagnostics = diagEnd();
  console.log(JSON.stringify({ requests, cpuUs: (used.user + used.system) / requests, ...diagnostics }));
}

for (let i = 0; i < connections; i++) connection();
