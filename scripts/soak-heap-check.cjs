// The HTTP soak's program RSS steps, explained: a node:http server and its own keep-alive client
// (8 sockets) in one process; every 25,000 requests a full GC, then heap used, RSS, V8's new-space
// size and heap total. Usage: node --expose-gc scripts/soak-heap-check.cjs 200000 (untraced), and the
// same under `bun src/cli/main.ts run -- node --expose-gc scripts/soak-heap-check.cjs 200000`.
const http = require("node:http");
let n = 0;
const server = http.createServer((req, res) => {
  n++;
  if (n % 25000 === 0) { global.gc(); const m = process.memoryUsage(); const ns = require("node:v8").getHeapSpaceStatistics().find((s) => s.space_name === "new_space"); console.log(n, (m.heapUsed / 1048576).toFixed(2), "rss", (m.rss / 1048576).toFixed(1), "new_space", (ns.space_size / 1048576).toFixed(1), "heapTotal", (m.heapTotal/1048576).toFixed(1)); }
  const body = JSON.stringify({ ok: true, path: req.url, n });
  res.writeHead(200, { "content-type": "application/json" });
  res.end(body);
});
server.listen(0, "127.0.0.1", async () => {
  const port = server.address().port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const total = Number(process.argv[2] || 150000);
  let sent = 0;
  const one = () => new Promise((resolve) => http.get({ host: "127.0.0.1", port, path: `/item/${sent % 100}?q=${sent % 7}`, agent }, (res) => { res.resume(); res.on("end", resolve); }));
  const worker = async () => { while (sent < total) { sent++; await one(); } };
  await Promise.all(Array.from({ length: 8 }, worker));
  agent.destroy(); server.close();
});
