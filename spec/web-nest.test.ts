/**
 * NestJS 11 (pinned, from npm) on @nestjs/platform-express and @nestjs/platform-fastify: the
 * platform records Nest's route (the controller's path with the global prefix); a
 * controller method's run (its guards, pipes and interceptors with it) is a step of its own,
 * named "Controller.method", inside the platform's handler step, failed with what Nest's
 * pipeline threw (which Nest's exception filters answer: the platform sees no error); Nest's
 * not-found handler a middleware step, failed with its NotFoundException. An error's stack, as
 * Nest's logger prints it, the same traced (no reaction of scope's on the pipeline's promise).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanup, ofKind, runTraced, runUntraced, scratchDir } from "./agent-harness";
import { installedNodes } from "./harness";
import type { TraceEvent } from "../src/core/model";
import { installTools, writeProject } from "./toolchain-harness";

afterAll(cleanup);

// Plain JavaScript: Nest's decorators applied as the functions they are (what tsc emits, without a compile).
const app = `
require("reflect-metadata");
const http = require("node:http");
const { Controller, Get, Param, UseGuards, UseFilters, Catch, HttpException, BadRequestException, Injectable, Inject, Module } = require("@nestjs/common");
const { NestFactory } = require("@nestjs/core");

class Cats {
  list() { return [{ id: 1, name: "Tom" }]; }
}
Injectable()(Cats);

class Guard {
  canActivate(context) { return context.switchToHttp().getRequest().headers["x-token"] !== "bad"; }
}
Injectable()(Guard);

class PositivePipe {
  transform(value) {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new BadRequestException("id must be positive");
    return n;
  }
}
Injectable()(PositivePipe);

class TeapotFilter {
  catch(exception, host) {
    const res = host.switchToHttp().getResponse();
    const body = { filtered: exception.message };
    if (typeof res.code === "function") res.code(exception.getStatus()).send(body);
    else res.status(exception.getStatus()).json(body);
  }
}
Catch(HttpException)(TeapotFilter);

class CatsController {
  constructor(cats) { this.cats = cats; }
  findAll() { return this.cats.list(); }
  teapot() { throw new HttpException("short and stout", 418); }
  boom() { throw new Error("plain failure"); }
  findOne(id) { return { id }; }
}
const method = (name, ...decorators) => {
  const proto = CatsController.prototype;
  for (const decorate of decorators) decorate(proto, name, Object.getOwnPropertyDescriptor(proto, name));
};
method("findAll", Get());
method("teapot", Get("teapot"), UseFilters(TeapotFilter));
method("boom", Get("boom"));
method("findOne", Get(":id"));
Param("id", PositivePipe)(CatsController.prototype, "findOne", 0);
Inject(Cats)(CatsController, undefined, 0);
UseGuards(Guard)(CatsController);
Controller("cats")(CatsController);

class AppModule {}
Module({ controllers: [CatsController], providers: [Cats] })(AppModule);

function get(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve(res.statusCode + " " + body));
    }).on("error", reject);
  });
}

(async () => {
  let adapter;
  if (process.argv[2] === "fastify") adapter = new (require("@nestjs/platform-fastify").FastifyAdapter)();
  // Nest's logger prints a 500's error with its stack: the stack as it is printed (no time or pid).
  const quiet = () => {};
  const logger = { log: quiet, warn: quiet, debug: quiet, verbose: quiet, fatal: quiet, error: (...args) => console.error(args.map((a) => (a instanceof Error ? a.stack : String(a))).join(" | ")) };
  const nest = adapter ? await NestFactory.create(AppModule, adapter, { logger }) : await NestFactory.create(AppModule, { logger });
  nest.setGlobalPrefix("api");
  await nest.listen(0, "127.0.0.1");
  const port = nest.getHttpServer().address().port;
  for (const [path, headers] of [["/api/cats"], ["/api/cats/7"], ["/api/cats/teapot"], ["/api/cats/abc"], ["/api/cats", { "x-token": "bad" }], ["/api/cats/boom"], ["/nowhere"]]) console.log(path, await get(port, path, headers));
  await nest.close();
})();
`;

/** Per server request (in start order): [target, status, route, [kind, name, route, failed, errorType, errorMessage]...]. */
function requests(events: TraceEvent[]) {
  return ofKind(events, "http_server_request").map((request) => {
    const steps = events
      .filter((e) => e.kind === "http_step_start" && e.fields.requestIndex === request.index && (e.fields.stepKind === "handler" || e.fields.name === "NotFoundHandler"))
      .map((e) => [e.fields.name, e.fields.route ?? null, e.fields.failed, e.fields.errorType ?? null, e.fields.errorMessage ?? null]);
    return [request.fields.target, request.fields.status, request.fields.route ?? null, ...steps];
  });
}

const proxy = (route: string) => ["<anonymous>", route, false, null, null];

for (const [name, runtime] of installedNodes) {
  for (const platform of ["express", "fastify"]) {
    test(`${name}: NestJS on ${platform}: Nest's route, a controller method's step by its name, failed with what Nest's pipeline threw`, async () => {
      const nodeModules = await installTools("nest");
      const dir = writeProject(join(scratchDir(), `nest-${platform}-${name.replace(/\W/g, "")}`), nodeModules, { "app.js": app });
      const argv = [runtime, join(dir, "app.js"), platform];
      const plain = await runUntraced(argv, { cwd: dir });
      const run = await runTraced(argv, { cwd: dir });
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: plain.stdout, stderr: plain.stderr });
      expect(plain.stdout).toContain('/api/cats/teapot 418 {"filtered":"short and stout"}');
      // The 500's stack, printed by Nest, the same traced: down to Nest's proxy (\`at async …/router-proxy.js\`).
      expect(plain.stderr).toContain("Error: plain failure");
      expect(plain.stderr).toContain("router-proxy.js");
      expect(ofKind(run.events, "agent_error")).toEqual([]);
      expect(requests(run.events)).toEqual([
        ["/api/cats", 200, "/api/cats", proxy("/api/cats"), ["CatsController.findAll", null, false, null, null]],
        ["/api/cats/7", 200, "/api/cats/:id", proxy("/api/cats/:id"), ["CatsController.findOne", null, false, null, null]],
        ["/api/cats/teapot", 418, "/api/cats/teapot", proxy("/api/cats/teapot"), ["CatsController.teapot", null, true, "HttpException", "short and stout"]],
        ["/api/cats/abc", 400, "/api/cats/:id", proxy("/api/cats/:id"), ["CatsController.findOne", null, true, "BadRequestException", "id must be positive"]],
        ["/api/cats", 403, "/api/cats", proxy("/api/cats"), ["CatsController.findAll", null, true, "ForbiddenException", "Forbidden resource"]],
        ["/api/cats/boom", 500, "/api/cats/boom", proxy("/api/cats/boom"), ["CatsController.boom", null, true, "Error", "plain failure"]],
        // Nest's not-found handler: a middleware step of its own, failed with the exception Nest answers 404 with.
        ["/nowhere", 404, null, ["NotFoundHandler", null, true, "NotFoundException", "Cannot GET /nowhere"]],
      ]);
      const notFound = ofKind(run.events, "http_step_start").find((e) => e.fields.name === "NotFoundHandler")!;
      expect(notFound.fields.stepKind).toBe("middleware");
      // The method's step is inside the platform's handler step: it starts after it and ends first.
      const handlers = ofKind(run.events, "http_step_start").filter((e) => e.fields.stepKind === "handler");
      for (let i = 0; i < handlers.length; i += 2) {
        const outer = handlers[i]!;
        const inner = handlers[i + 1]!;
        expect(inner.fields.step).toBe((outer.fields.step as number) + 1);
        expect(inner.timestampNs + BigInt(inner.fields.durationNs as number)).toBeLessThanOrEqual(outer.timestampNs + BigInt(outer.fields.durationNs as number));
      }
    }, 120_000);
  }
}
