// Koa + @koa/router (helper auditfw, BENCHMARKS.md "Koa routes"): N keep-alive requests to a parameterised route from this process; prints CPU µs a request.
const http = require("node:http");
const Koa = require("koa");
const Router = require("@koa/router");
const app = new Koa();
const router = new Router();
router.get("/users/:id", (ctx) => { ctx.body = ctx.params.id; });
app.use(router.routes());
const N = Number(process.argv[2] || 20000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const server = app.listen(0, "127.0.0.1", async () => {
  const port = server.address().port;
  const one = (i) => new Promise((resolve) => http.get({ port, host: "127.0.0.1", path: `/users/${i}`, agent }, (res) => { res.resume(); res.on("end", resolve); }));
  for (let i = 0; i < 2000; i++) await one(i);
  const t = process.cpuUsage();
  for (let i = 0; i < N; i += 8) await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((k) => one(i + k)));
  const d = process.cpuUsage(t);
  console.log(((d.user + d.system) / N).toFixed(2));
  agent.destroy(); server.close();
});
