// NestJS 11 on Express (argv[2] "express") or Fastify ("fastify"): a guard, a pipe, an
// interceptor, an exception filter, a thrown HttpException and Error, a 404, and a route that
// calls another server over fetch; decorators applied as the functions tsc's output calls.
require("reflect-metadata");
const http = require("node:http");
const { Controller, Get, Post, Body, Param, UseGuards, UseFilters, UseInterceptors, Catch, HttpException, BadRequestException, NotFoundException, Injectable, Inject, Module } = require("@nestjs/common");
const { NestFactory } = require("@nestjs/core");
const { map } = require("rxjs");
const { load } = require("./load.cjs");

let downstream = "";
class Cats {
  constructor() { this.cats = [{ id: 1, name: "Tom" }, { id: 2, name: "Felix" }]; }
  findOne(id) { const cat = this.cats.find((c) => c.id === id); if (!cat) throw new NotFoundException(`cat ${id} not found`); return cat; }
  async price(id) { return (await fetch(`${downstream}/price/${id}`)).json(); }
}
Injectable()(Cats);
class Guard { canActivate(context) { return context.switchToHttp().getRequest().headers["x-token"] !== "bad"; } }
Injectable()(Guard);
class PositivePipe { transform(value) { const n = Number(value); if (!Number.isInteger(n) || n <= 0) throw new BadRequestException("id must be positive"); return n; } }
Injectable()(PositivePipe);
class Wrap { intercept(_context, next) { return next.handle().pipe(map((data) => ({ data }))); } }
Injectable()(Wrap);
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
  findAll() { return this.cats.cats; }
  teapot() { throw new HttpException("short and stout", 418); }
  boom() { throw new Error("plain failure"); }
  findOne(id) { return this.cats.findOne(id); }
  async price(id) { return { ...this.cats.findOne(id), ...(await this.cats.price(id)) }; }
  create(body) { return { id: 3, ...body }; }
}
const method = (name, ...decorators) => { const proto = CatsController.prototype; for (const d of decorators) d(proto, name, Object.getOwnPropertyDescriptor(proto, name)); };
method("findAll", Get());
method("teapot", Get("teapot"), UseFilters(TeapotFilter));
method("boom", Get("boom"));
method("findOne", Get(":id"), UseInterceptors(Wrap));
method("price", Get(":id/price"));
method("create", Post());
Param("id", PositivePipe)(CatsController.prototype, "findOne", 0);
Param("id", PositivePipe)(CatsController.prototype, "price", 0);
Body()(CatsController.prototype, "create", 0);
Inject(Cats)(CatsController, undefined, 0);
UseGuards(Guard)(CatsController);
Controller("cats")(CatsController);
class AppModule {}
Module({ controllers: [CatsController], providers: [Cats] })(AppModule);

(async () => {
  const down = http.createServer((req, res) => { res.setHeader("content-type", "application/json"); res.end(JSON.stringify({ price: Number(req.url.split("/").pop()) * 10 })); });
  await new Promise((resolve) => down.listen(0, "127.0.0.1", resolve));
  downstream = `http://127.0.0.1:${down.address().port}`;
  const adapter = process.argv[2] === "fastify" ? new (require("@nestjs/platform-fastify").FastifyAdapter)() : undefined;
  const app = adapter ? await NestFactory.create(AppModule, adapter, { logger: false }) : await NestFactory.create(AppModule, { logger: false });
  app.setGlobalPrefix("api");
  await app.listen(0, "127.0.0.1");
  await load(app.getHttpServer().address().port, [
    { path: "/api/cats" }, { path: "/api/cats/2" }, { path: "/api/cats/9" }, { path: "/api/cats/abc" }, { path: "/api/cats/1/price" },
    { path: "/api/cats/teapot" }, { path: "/api/cats/boom" }, { path: "/api/cats", headers: { "x-token": "bad" } },
    { method: "POST", path: "/api/cats", body: '{"name":"Kit"}' }, { path: "/nowhere" },
  ]);
  await app.close();
  down.close();
})();
