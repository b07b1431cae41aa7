/**
 * Elysia 1.4 on Bun.serve under `scope run` (real Elysia from npm: the toolchain set "elysia"):
 * the routes Elysia hands Bun.serve (framework `bun`) and the ones it routes itself through
 * memoirist (framework `elysia`: src/agent/node/elysia.ts): a `*` route, a method Bun's
 * `routes` do not take, an app with `aot: false`; a ws route's upgrade ends `upgraded` (its
 * static path is in Elysia's static table: no route); the
 * service unchanged (statuses and bodies as untraced), at default settings and with
 * `--package elysia`.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { installTools, writeProject } from "./toolchain-harness";

afterAll(() => cleanup());

const app = `import { Elysia, t } from "elysia";
const aot = process.env.ELYSIA_AOT !== "0";
const app = new Elysia({ aot })
  .onError(function handleError({ code, set }) { if (code === "NOT_FOUND") { set.status = 404; return "nope"; } })
  .get("/users/:id", ({ params }) => "user " + params.id)
  .get("/files/*", ({ params }) => "file " + params["*"])
  .route("PROPFIND", "/dav/:x", ({ params }) => "dav " + params.x)
  .post("/items", ({ body }) => ({ created: body.name }), { body: t.Object({ name: t.String() }) })
  .ws("/chat", { message(ws, body) { ws.send("echo " + body); } })
  .listen({ port: 0, hostname: "127.0.0.1" });
const base = "http://127.0.0.1:" + app.server.port;
for (const [method, path, body] of [["GET", "/users/7"], ["GET", "/files/a/b.txt"], ["PROPFIND", "/dav/y"], ["POST", "/items", '{"name":"n"}'], ["POST", "/items", '{"name":5}'], ["GET", "/missing"]]) {
  const r = await fetch(base + path, { method, body, headers: body ? { "content-type": "application/json" } : undefined });
  console.log(method, path, r.status, await r.text());
}
const ws = new WebSocket("ws://127.0.0.1:" + app.server.port + "/chat");
await new Promise((resolve) => { ws.onopen = () => ws.send("hi"); ws.onmessage = (e) => { console.log(e.data); ws.close(); }; ws.onclose = resolve; });
app.stop();
`;

let dir = "";
beforeAll(async () => {
  dir = writeProject(join(scratchDir(), "elysia"), await installTools("elysia"), { "app.mjs": app });
}, 300_000);

/** Per server request: [method target, status, end, route, framework]. */
function requests(events: TraceEvent[]) {
  const routes = new Map(ofKind(events, "http_route").map((e) => [e.fields.requestIndex, e.fields.framework]));
  return ofKind(events, "http_server_request").map((e) => [`${e.fields.method} ${e.fields.target}`, e.fields.status ?? null, e.fields.end, e.fields.route ?? null, routes.get(e.index) ?? null]);
}

for (const [name, scopeArgs, env] of [
  ["default settings", [], {}],
  ["aot: false (every route through Elysia's router)", [], { ELYSIA_AOT: "0" }],
  ["--package elysia", ["--package", "elysia", "--level", "calls"], {}],
] as const) {
  test(`elysia, ${name}: each request's route, from Bun.serve's routes or Elysia's router; output as untraced`, async () => {
    const [traced, untraced] = await Promise.all([runTraced(["bun", "app.mjs"], { cwd: dir, env, scopeArgs: [...scopeArgs] }), runUntraced(["bun", "app.mjs"], { cwd: dir, env })]);
    expect(traced.stdout).toBe(untraced.stdout);
    expect(traced.stderr).toBe(untraced.stderr);
    expect(traced.status, traced.stderr).toBe(0);
    expect(untraced.stdout).toContain("GET /files/a/b.txt 200 file a/b.txt\nPROPFIND /dav/y 200 dav y\n");
    expect(ofKind(traced.events, "agent_error")).toEqual([]);
    // Bun.serve's routes where Elysia gave them to Bun (not with aot: false), Elysia's router for the rest.
    const bun = env.ELYSIA_AOT === "0" ? "elysia" : "bun";
    expect(requests(traced.events)).toEqual([
      ["GET /users/7", 200, "finished", "/users/:id", bun],
      ["GET /files/a/b.txt", 200, "finished", "/files/*", "elysia"],
      ["PROPFIND /dav/y", 200, "finished", "/dav/:x", "elysia"],
      ["POST /items", 200, "finished", "/items", bun],
      ["POST /items", 422, "finished", "/items", bun],
      ["GET /missing", 404, "finished", null, null],
      // Ended by server.upgrade(). Its static path: Elysia's static table with aot (no route), its router without.
      env.ELYSIA_AOT === "0" ? ["GET /chat", 0, "upgraded", "/chat", "elysia"] : ["GET /chat", 0, "upgraded", null, null],
    ]);
  }, 60_000);
}
