// What scope attach adds to each Hono request (src/agent/node/hono.ts hookHonoContext, helper
// webgaps; BENCHMARKS.md "Koa's route functions and Hono's error handler as steps"): the Context
// made through a construct-only Proxy whose trap looks at each matched tuple (here already
// wrapped: the steady state). A replica of the trap's work on Hono's real Context and a real
// match (the agent's code runs only inside an attached process). Count instructions:
//   valgrind --tool=cachegrind --cache-sim=no node scripts/lib/hono-context-proxy-bench.cjs plain|proxy <contexts>
const path = require("node:path");
const honoDir = path.dirname(require.resolve("hono", { paths: [path.join(__dirname, "../..")] }));
const { Context } = require(path.join(honoDir, "context.js"));
const { Hono } = require(path.join(honoDir, "index.js"));
const app = new Hono();
app.use(async function timing(c, next) { await next(); });
app.get("/users/:id", function getUser(c) { return c.text("x"); });
const matchResult = app.router.match("GET", "/users/7");
const wrappers = new WeakSet();
for (const entry of matchResult[0]) wrappers.add(entry[0][0]);
const groups = { http: true };
const safe = (fn) => { try { fn(); } catch {} };
function stepMatched(m) {
  const matched = Array.isArray(m) ? m[0] : undefined;
  if (!Array.isArray(matched)) return;
  for (const entry of matched) {
    const tuple = Array.isArray(entry) ? entry[0] : undefined;
    if (!Array.isArray(tuple)) continue;
    const fn = tuple[0];
    if (typeof fn !== "function" || wrappers.has(fn)) continue;
  }
}
const Proxied = new Proxy(Context, { construct(target, args, newTarget) {
  if (groups.http === true) { const o = args[1]; if (o !== null && typeof o === "object") safe(() => stepMatched(o.matchResult)); }
  return Reflect.construct(target, args, newTarget === Proxied ? target : newTarget);
} });
const request = new Request("http://127.0.0.1/users/7");
const holder = { Context };
function run(n) { let last; for (let i = 0; i < n; i++) last = new holder.Context(request, { path: "/users/7", matchResult, env: undefined, executionCtx: undefined, notFoundHandler: undefined }); return last; }
const [mode, n] = [process.argv[2], Number(process.argv[3])];
holder.Context = mode === "proxy" ? Proxied : Context;
run(n);
