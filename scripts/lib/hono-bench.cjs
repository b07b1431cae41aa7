// Hono 4, its CommonJS build (required: for Node 20, where an import of its ES build is not hooked; hono-bench.mjs is the same app imported) on @hono/node-server (helper webgaps; BENCHMARKS.md "Hono, Koa's middleware and packages' ES builds"): one
// middleware and a parameterised route; N keep-alive requests to /users/:id from this process,
// 8 in flight; prints CPU µs a request.
const http = require("node:http");
const { Hono } = require("hono");
const { serve } = require("@hono/node-server");
const app = new Hono();
app.use(async function timing(c, next) {
  await next();
  c.header("x-seen", "1");
});
app.get("/users/:id", function getUser(c) {
  return c.text(c.req.param("id"));
});
const N = Number(process.argv[2] || 20000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, async (info) => {
  const port = info.port;
  const one = (i) => new Promise((resolve) => http.get({ port, host: "127.0.0.1", path: `/users/${i}`, agent }, (res) => { res.resume(); res.on("end", resolve); }));
  for (let i = 0; i < 2000; i++) await one(i);
  const t = process.cpuUsage();
  for (let i = 0; i < N; i += 8) await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((k) => one(i + k)));
  const d = process.cpuUsage(t);
  console.log(((d.user + d.system) / N).toFixed(2));
  agent.destroy();
  server.close();
});
