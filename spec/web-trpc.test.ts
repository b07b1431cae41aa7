/**
 * tRPC 11 procedures (pinned, from npm; the standalone adapter): each request's route is the
 * procedure it called, type and path (`query greet`, `mutation add`, framework `trpc`), a
 * batch's every procedure in order (`query greet,secret,greet`); each call answered with an
 * error (a TRPCError, a thrown Error, a bad input) an `http_error` of the request, its code and
 * "path: message". Responses (status, headers, bodies with tRPC's stacks) as untraced; the
 * CommonJS build and the ES build (Node 22.15+ and Bun: the ES builds' registry).
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { installedNodes, nodeMajorOf, runCli } from "./harness";
import type { TraceEvent } from "../src/core/model";
import { installTools, writeProject } from "./toolchain-harness";

afterAll(cleanup);

const body = (imports: string) => `${imports}
const t = initTRPC.create();
const appRouter = t.router({
  greet: t.procedure.input((v) => { if (typeof v !== "string") throw new Error("want a string"); return v; }).query(({ input }) => "hello " + input),
  cat: t.router({ byId: t.procedure.input((v) => v).query(({ input }) => ({ id: input, name: "Tom" })) }),
  add: t.procedure.input((v) => v).mutation(({ input }) => input.a + input.b),
  secret: t.procedure.query(() => { throw new TRPCError({ code: "UNAUTHORIZED", message: "no token" }); }),
  boom: t.procedure.query(async () => { await null; throw new Error("exploded"); }),
});
const server = createHTTPServer({ router: appRouter });
server.listen(0, "127.0.0.1", async () => {
  const base = "http://127.0.0.1:" + server.address().port;
  const calls = [
    ["GET", "/greet?input=" + encodeURIComponent(JSON.stringify("ann"))],
    ["GET", "/cat.byId?input=7"],
    ["POST", "/add", JSON.stringify({ a: 2, b: 3 })],
    ["GET", "/secret"],
    ["GET", "/boom"],
    ["GET", "/greet?input=5"],
    ["GET", "/greet,secret,cat.byId?batch=1&input=" + encodeURIComponent(JSON.stringify({ 0: "bob", 2: 9 }))],
    ["GET", "/nowhere"],
  ];
  for (const [method, path, data] of calls) {
    const res = await fetch(base + path, { method, body: data, headers: data ? { "content-type": "application/json" } : {} });
    const headers = [...res.headers].filter(([k]) => k !== "date").map(([k, v]) => k + ": " + v).join("; ");
    console.log(method, path, res.status, headers, await res.text());
  }
  server.close();
});
`;

const cjs = body(`const { initTRPC, TRPCError } = require("@trpc/server");
const { createHTTPServer } = require("@trpc/server/adapters/standalone");`);
const esm = body(`import { initTRPC, TRPCError } from "@trpc/server";
import { createHTTPServer } from "@trpc/server/adapters/standalone";`);

/** Per server request (in start order): [status, route, [code, message]...]. */
function requests(events: TraceEvent[]) {
  return ofKind(events, "http_server_request").map((request) => {
    const errors = events.filter((e) => e.kind === "http_error" && e.fields.requestIndex === request.index).map((e) => [e.fields.code, e.fields.message]);
    return [request.fields.status, request.fields.route ?? null, ...errors];
  });
}

const expected = [
  [200, "query greet"],
  [200, "query cat.byId"],
  [200, "mutation add"],
  [401, "query secret", ["UNAUTHORIZED", "secret: no token"]],
  [500, "query boom", ["INTERNAL_SERVER_ERROR", "boom: exploded"]],
  [400, "query greet", ["BAD_REQUEST", "greet: want a string"]],
  [207, "query greet,secret,cat.byId", ["UNAUTHORIZED", "secret: no token"]],
  [404, null, ["NOT_FOUND", 'nowhere: No procedure found on path "nowhere"']],
];

const runtimes: [string, string][] = [...installedNodes, ["bun", process.execPath]];

for (const [name, runtime] of runtimes) {
  for (const [format, source] of [["CommonJS", cjs], ["ES", esm]] as const) {
    // Node's ES builds' hook needs module.registerHooks (22.15+): Node 20 imports tRPC untraced.
    // Bun loads a .cjs file without Module._extensions (it has no ".cjs" entry): its require of tRPC untraced.
    const hooked = format === "CommonJS" ? name !== "bun" : name === "bun" || nodeMajorOf(runtime) >= 22;
    test(`${name}: tRPC's ${format} build: each request's procedures as its route, each failed call as its error, responses as untraced`, async () => {
      const nodeModules = await installTools("trpc");
      const file = format === "CommonJS" ? "app.cjs" : "app.mjs";
      const dir = writeProject(join(scratchDir(), `trpc-${format}-${name.replace(/\W/g, "")}`), nodeModules, { [file]: source });
      const argv = [runtime, join(dir, file)];
      const plain = await runUntraced(argv, { cwd: dir });
      const run = await runTraced(argv, { cwd: dir });
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: plain.stderr });
      // tRPC's error bodies hold their stacks (outside production): the same traced.
      expect(plain.stdout).toContain('"stack":"TRPCError: no token');
      expect(ofKind(run.events, "agent_error")).toEqual([]);
      if (!hooked) return;
      expect(requests(run.events)).toEqual(expected);
      expect(ofKind(run.events, "http_route")[0]!.fields.framework).toBe("trpc");
      if (name !== "node" || format !== "CommonJS") return;
      // OTLP: the server span named by the procedures, rpc.system trpc and rpc.method their paths.
      const out = join(scratchDir(), "trpc-otlp.json");
      expect((await runCli(["export", "--otlp", out, run.out])).exitCode).toBe(0);
      const spans = (JSON.parse(readFileSync(out, "utf8")).resourceSpans as any[]).flatMap((r) => r.scopeSpans.flatMap((s: any) => s.spans)).filter((span) => span.kind === 2 || span.kind === "SPAN_KIND_SERVER");
      const attributes = (span: any) => Object.fromEntries(span.attributes.map((a: any) => [a.key, a.value.stringValue ?? a.value.intValue ?? a.value.boolValue]));
      expect(spans.map((span) => [span.name, attributes(span)["rpc.system"] ?? null, attributes(span)["rpc.method"] ?? null, attributes(span)["error.type"] ?? null])).toEqual([
        ["query greet", "trpc", "greet", null],
        ["query cat.byId", "trpc", "cat.byId", null],
        ["mutation add", "trpc", "add", null],
        ["query secret", "trpc", "secret", "UNAUTHORIZED"],
        ["query boom", "trpc", "boom", "INTERNAL_SERVER_ERROR"],
        ["query greet", "trpc", "greet", "BAD_REQUEST"],
        ["query greet,secret,cat.byId", "trpc", "greet,secret,cat.byId", "UNAUTHORIZED"],
        ["GET", null, null, "NOT_FOUND"],
      ]);
    }, 120_000);
  }
}
