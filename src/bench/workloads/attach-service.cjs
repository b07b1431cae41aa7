"use strict";
// The live service of the attach proof (src/bench/attach.ts), started without scope:
// GET /order/<n> answers render(createOrder(n, 1 + n % 3)) (attach-orders.cjs);
// GET /memory runs a full GC (the service runs with --expose-gc) and answers the heap
// used after it and the RSS. Prints its port once listening.
const http = require("node:http");
const orders = require("./attach-orders.cjs");

const server = http.createServer((request, response) => {
  if (request.url === "/memory") {
    globalThis.gc();
    globalThis.gc();
    const memory = process.memoryUsage();
    response.end(JSON.stringify({ heapUsed: memory.heapUsed, rss: memory.rss, external: memory.external }));
    return;
  }
  const n = Number(request.url.slice("/order/".length)) || 0;
  const body = orders.render(orders.createOrder(n, 1 + (n % 3)));
  response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  response.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
