"use strict";
// WEB: an Express + pg JSON service on loopback against the test PostgreSQL (PGURL):
// one middleware, two routes, one or two queries per request. Writes {port, pid} to the
// ready file once listening; `GET /shutdown` closes it, and it writes its result and
// exits. With OTEL=1 it runs under OpenTelemetry's Node SDK (HTTP, Express and pg
// instrumentations, spans to an in-memory exporter) and reports what OTel recorded.
// express and pg come from the source checkout (NODE_PATH).
// Usage: node web-server.cjs <result.json> '{"ready": "<ready.json>", "otel": 0}'
const fs = require("node:fs");
const { params, report } = require("./common.cjs");
const { webApp } = require("./web-app.cjs");

const { ready, otel } = params({ ready: "", otel: 0 });
let exporter;
if (otel) {
  const { NodeTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } = require("@opentelemetry/sdk-trace-node");
  const { registerInstrumentations } = require("@opentelemetry/instrumentation");
  const { HttpInstrumentation } = require("@opentelemetry/instrumentation-http");
  const { ExpressInstrumentation } = require("@opentelemetry/instrumentation-express");
  const { PgInstrumentation } = require("@opentelemetry/instrumentation-pg");
  exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  registerInstrumentations({ instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation(), new PgInstrumentation()] });
}
const express = require(process.env.SCOPE_BENCH_EXPRESS || "express");
const { Pool } = require("pg");
// OTel loaded above patches express and pg as they are required.

const pool = new Pool({ connectionString: process.env.PGURL, max: 4 });
const counts = { served: 0, queries: 0 };
const app = webApp(express, pool, counts);

app.get("/shutdown", function shutdown(req, res) {
  res.end("bye\n");
  const requests = counts.served;
  const spans = exporter ? exporter.getFinishedSpans() : [];
  const kinds = { served: requests, made: counts.queries, server: 0, route: 0, query: 0 };
  for (const span of spans) {
    if (span.instrumentationScope?.name === "@opentelemetry/instrumentation-http" && span.kind === 1) kinds.server++;
    else if (span.attributes?.["express.type"] === "request_handler") kinds.route++;
    else if (span.instrumentationScope?.name === "@opentelemetry/instrumentation-pg" && String(span.name).startsWith("pg.query")) kinds.query++;
  }
  // count and the handler: 2 steps per request, the shutdown's too (Express 4's own query and expressInit are none).
  const http = { serverRequests: requests + 1, finished: requests, routes: requests + 1, queries: counts.queries, steps: (requests + 1) * 2 };
  server.close(() => pool.end().then(() => report({ ops: requests, unit: "requests", seconds: 0, otel: kinds, expect: { messages: 0, threads: 0, processes: 0, http } })));
  server.closeAllConnections();
});

const server = app.listen(0, "127.0.0.1", () => {
  fs.writeFileSync(`${ready}.tmp`, JSON.stringify({ port: server.address().port, pid: process.pid }));
  fs.renameSync(`${ready}.tmp`, ready);
});
