// tRPC 11's standalone adapter (helper webops, BENCHMARKS.md "GraphQL operations and tRPC procedures as routes"): N keep-alive GETs of a query procedure,
// every fifth a batch of two, every tenth one that throws a TRPCError, from this process, 8 in flight; prints CPU µs a request.
// Its packages: NODE_PATH=/tmp/scope-real-web/node_modules (scripts/real-web/run.sh installs them).
const http = require("node:http");
const { initTRPC, TRPCError } = require("@trpc/server");
const { createHTTPServer } = require("@trpc/server/adapters/standalone");
const t = initTRPC.create({ isDev: false });
const appRouter = t.router({
  cat: t.router({ byId: t.procedure.input((v) => v).query(({ input }) => ({ id: input, name: "Tom" })) }),
  secret: t.procedure.query(() => { throw new TRPCError({ code: "UNAUTHORIZED", message: "no token" }); }),
});
const N = Number(process.argv[2] || 2000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const server = createHTTPServer({ router: appRouter });
server.listen(0, "127.0.0.1", async () => {
  const port = server.address().port;
  const paths = ["/cat.byId?input=7", "/cat.byId?input=8", "/cat.byId?input=9", "/cat.byId?input=10", "/cat.byId,cat.byId?batch=1&input=%7B%220%22%3A1%2C%221%22%3A2%7D"];
  const one = (i) => new Promise((resolve) => http.get({ port, host: "127.0.0.1", path: i % 10 === 9 ? "/secret" : paths[i % 5], agent }, (res) => { res.resume(); res.on("end", resolve); }));
  for (let i = 0; i < 200; i++) await one(i);
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i += 8) await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((k) => one(i + k)));
  const d = process.cpuUsage(t0);
  console.log(((d.user + d.system) / N).toFixed(2));
  agent.destroy(); server.close();
});
