"use strict";
// Preloaded (node --expose-gc -r memory-probe.cjs <service>) by src/bench/attach-memory-web.ts:
// a side server on 127.0.0.1 (its port in <tmpdir>/scope-memory-probe-<pid>) answering the
// heap used after two full GCs and the RSS, so a service need not have an endpoint of its own.
const http = require("node:http");
const { writeFileSync } = require("node:fs");
const { join } = require("node:path");
const { tmpdir } = require("node:os");
const probe = http.createServer((request, response) => {
  globalThis.gc();
  globalThis.gc();
  const { heapUsed, rss } = process.memoryUsage();
  response.end(JSON.stringify({ heapUsed, rss }));
});
probe.listen(0, "127.0.0.1", () => writeFileSync(join(tmpdir(), `scope-memory-probe-${process.pid}`), String(probe.address().port)));
probe.unref();
