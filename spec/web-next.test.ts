/**
 * Next.js's route and a render's error (src/agent/node/next.ts), on a small stand-in of the
 * files of Next's that scope hooks, with their shapes as in Next 15.5 and 16.4 (no Next here:
 * scripts/real-next/run.sh runs the real one): next/dist/server/lib/trace/tracer.js (the
 * tracer whose `setRootSpanAttribute("next.route", …)` names a request's route, called a
 * second time for a route handler with its file's path), next/dist/server/next-server.js
 * (which loads it), and a route-module runtime (next/dist/compiled/next-server/
 * app-page.runtime.prod.js: webpack's getter exports; RouteModule's `onRequestError(req,
 * error, context)`, which a page's bundle calls when its render threw, before answering 500).
 *
 * Each request's route is Next's app path, the first of its calls (`/api/cats`, not
 * `/api/cats/route`), with requests interleaved; a request no page matched has none; the
 * thrown error is a failed `error` step named onRequestError; the service's output as untraced.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { TraceEvent } from "../src/core/model";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { installedNodes } from "./harness";

afterAll(cleanup);

const files: Record<string, string> = {
  "node_modules/next/dist/server/lib/trace/tracer.js": `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
function _export(target, all) { for (var name in all) Object.defineProperty(target, name, { enumerable: true, get: all[name] }); }
_export(exports, { getTracer: function () { return getTracer; } });
// Next keeps root span attributes only when an OpenTelemetry SDK is registered: none here, as in production by default.
class NextTracerImpl {
  setRootSpanAttribute(key, value) { const attributes = undefined; if (attributes) attributes.set(key, value); }
}
const getTracer = (() => { const tracer = new NextTracerImpl(); return () => tracer; })();
`,
  "node_modules/next/dist/server/next-server.js": `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
Object.defineProperty(exports, "default", { enumerable: true, get: function () { return NextNodeServer; } });
const _tracer = require("./lib/trace/tracer");
class NextNodeServer {
  async renderPageComponent(pathname, render) {
    await null;
    if (pathname !== null) (0, _tracer.getTracer)().setRootSpanAttribute("next.route", pathname);
    return render();
  }
}
`,
  "node_modules/next/dist/compiled/next-server/app-page.runtime.prod.js": `(() => {
  "use strict";
  var e = {};
  class RouteModule {
    async onRequestError(req, err, errorContext, routerServerContext) {
      console.error(" ⨯ " + err.name + ": " + err.message + " (" + errorContext.routePath + ")");
      await null;
    }
  }
  class AppPageRouteModule extends RouteModule {
    render(req, pathname) {
      require("next/dist/server/lib/trace/tracer.js").getTracer().setRootSpanAttribute("next.route", pathname + "/route");
    }
  }
  Object.defineProperty(e, "__esModule", { value: true });
  Object.defineProperty(e, "AppPageRouteModule", { enumerable: true, get: function AppPageRouteModule_() { return AppPageRouteModule; } });
  module.exports = e;
})();
`,
  "node_modules/next/package.json": `{ "name": "next", "version": "0.0.0-fixture" }`,
  "server.js": `const http = require("node:http");
const NextNodeServer = require("next/dist/server/next-server.js").default;
const { AppPageRouteModule } = require("next/dist/compiled/next-server/app-page.runtime.prod.js");
const next = new NextNodeServer();
const pages = new AppPageRouteModule();
const routes = [[/^\\/cats\\/[^/]+$/, "/cats/[id]"], [/^\\/api\\/cats$/, "/api/cats"], [/^\\/boom$/, "/boom"], [/^\\/$/, "/"]];
const server = http.createServer((req, res) => {
  const match = routes.find(([pattern]) => pattern.test(req.url));
  next.renderPageComponent(match ? match[1] : null, async () => {
    if (!match) { res.statusCode = 404; return res.end("not found"); }
    pages.render(req, match[1]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (match[1] === "/boom") {
      await pages.onRequestError(req, new Error("the cat knocked it over"), { routerKind: "App Router", routePath: "/boom", routeType: "render" });
      res.statusCode = 500;
      return res.end("Internal Server Error");
    }
    res.end("page " + match[1] + " for " + req.url);
  });
});
server.listen(0, "127.0.0.1", async () => {
  const { port } = server.address();
  const paths = ["/cats/1", "/api/cats", "/boom", "/nowhere", "/cats/2", "/"];
  // All at once: the requests' calls interleave.
  const answers = await Promise.all(paths.map(async (path) => { const r = await fetch("http://127.0.0.1:" + port + path); return path + " " + r.status + " " + (await r.text()); }));
  console.log(answers.join("\\n"));
  server.close();
});
`,
};

/** Per server request, by target: [status, route, framework, [step name, kind, failed, errorType, errorMessage]...]. */
function requests(events: TraceEvent[]) {
  const frameworks = new Map(ofKind(events, "http_route").map((e) => [e.fields.requestIndex, e.fields.framework]));
  const routeCounts = new Map<unknown, number>();
  for (const e of ofKind(events, "http_route")) routeCounts.set(e.fields.requestIndex, (routeCounts.get(e.fields.requestIndex) ?? 0) + 1);
  const rows = ofKind(events, "http_server_request").map((request) => {
    const steps = ofKind(events, "http_step_start")
      .filter((e) => e.fields.requestIndex === request.index)
      .map((e) => [e.fields.name, e.fields.stepKind, e.fields.failed, e.fields.errorType ?? null, e.fields.errorMessage ?? null]);
    return [request.fields.target, request.fields.status, request.fields.route ?? null, frameworks.get(request.index) ?? null, routeCounts.get(request.index) ?? 0, ...steps];
  });
  return rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

// Bun (`bun --bun next start`): the same files reached by Bun's require (src/agent/bun/library-files.ts).
for (const [name, runtime] of [...installedNodes, ["bun", process.execPath] as const]) {
  test(`${name}: Next.js: a request's route is Next's app path (its first next.route), a render's thrown error a failed onRequestError step`, async () => {
    const dir = join(scratchDir(), `next-${name.replace(/\W/g, "")}`);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const argv = [runtime, join(dir, "server.js")];
    const plain = await runUntraced(argv, { cwd: dir });
    const run = await runTraced(argv, { cwd: dir });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: plain.stderr });
    expect(plain.stdout).toContain("/boom 500 Internal Server Error");
    expect(plain.stderr).toContain("⨯ Error: the cat knocked it over (/boom)");
    expect(ofKind(run.events, "agent_error")).toEqual([]);
    expect(requests(run.events)).toEqual([
      ["/", 200, "/", "next", 1],
      ["/api/cats", 200, "/api/cats", "next", 1],
      ["/boom", 500, "/boom", "next", 1, ["onRequestError", "error", true, "Error", "the cat knocked it over"]],
      ["/cats/1", 200, "/cats/[id]", "next", 1],
      ["/cats/2", 200, "/cats/[id]", "next", 1],
      // Next's not-found page: no page matched, no route.
      ["/nowhere", 404, null, null, 0],
    ]);
  }, 60_000);
}
