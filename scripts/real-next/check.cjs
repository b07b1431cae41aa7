// What a traced `next start` recorded, from `scope dump --json` on stdin: its server requests
// by status and route, the requests with no route (Next's not-found page only), the failed
// onRequestError steps (the throwing page only), and whether each pg query and upstream fetch
// names the server request that made it (the one whose route makes that call). One line.
const lines = require("node:fs").readFileSync(0, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const byKind = (k) => lines.filter((e) => e.kind === k);
const servers = byKind("http_server_request");
const byId = new Map(servers.map((s) => [`${s.pid}/${s.tid}/${s.requestId}`, s]));
const routes = new Map();
for (const s of servers) routes.set(`${s.route ?? "-"} ${s.status}`, (routes.get(`${s.route ?? "-"} ${s.status}`) ?? 0) + 1);
const problems = [];
for (const s of servers) {
  const path = s.target.split("?")[0];
  if (s.route == null && s.status !== 404) problems.push(`no route: ${s.method} ${s.target} ${s.status}`);
  // `next dev` renders its not-found page as the route /_not-found; `next start` names none.
  if (s.route != null && s.status === 404 && s.route !== "/_not-found") problems.push(`a 404 with route ${s.route}`);
  if (path.startsWith("/cats/") && s.route !== "/cats/[id]") problems.push(`route ${s.route} for ${path}`);
}
const routeRecords = new Map();
for (const r of byKind("http_route")) routeRecords.set(r.requestIndex, (routeRecords.get(r.requestIndex) ?? 0) + 1);
for (const [index, n] of routeRecords) if (n !== 1) problems.push(`request #${index}: ${n} route records`);
const errors = byKind("http_step_start").filter((e) => e.name === "onRequestError");
const booms = servers.filter((s) => s.target === "/boom");
const boomIndexes = new Set(booms.map((s) => s.index));
for (const e of errors) if (!e.failed || e.errorMessage !== "the cat knocked it over" || !boomIndexes.has(e.requestIndex)) problems.push(`error step ${JSON.stringify(e)}`);
if (errors.length !== booms.length) problems.push(`${errors.length} error steps for ${booms.length} /boom requests`);
const expect = { "/api/cats": ["SELECT id, name"], "/cats/[id]": ["SELECT name, age"], "/action": ["SELECT count", "INSERT INTO cats"] };
let queriesIn = 0;
const queries = byKind("db_query");
for (const q of queries) {
  const s = byId.get(`${q.pid}/${q.tid}/${q.request}`);
  if (s === undefined) continue;
  const wanted = expect[s.route] ?? [];
  if (wanted.some((w) => q.text.startsWith(w))) queriesIn++;
  else problems.push(`query "${q.text}" in ${s.route}`);
}
let fetchesIn = 0;
// The upstream's fetches (next dev also asks the npm registry for Next's latest version, in no request).
const fetches = byKind("http_client_request").filter((f) => f.url.startsWith("http://127.0.0.1:"));
for (const f of fetches) {
  const s = byId.get(`${f.pid}/${f.tid}/${f.request}`);
  if (s !== undefined && s.route === "/api/cats") fetchesIn++;
}
const summary = [...routes].sort().map(([k, n]) => `${k}:${n}`).join(" ");
console.log(`requests ${servers.length} [${summary}] error steps ${errors.length}/${booms.length} queries in their request ${queriesIn}/${queries.length} fetches ${fetchesIn}/${fetches.length}${problems.length ? ` PROBLEMS ${problems.length}: ${problems.slice(0, 3).join("; ")}` : ""}`);
