/**
 * tRPC 11 procedures: the procedure a request called, its type and path (`query cat.byId`), as
 * the request's route (`http_route`, framework `trpc`); a batch (several procedures in one
 * HTTP request, `/greet,secret?batch=1`) names each, in order (`query greet,secret`); and each
 * error a call answered (a procedure's TRPCError, an Error tRPC turned into one) as an
 * `http_error` of the request: its code (`UNAUTHORIZED`) and "path: message".
 *
 * tRPC publishes nothing, and its chunks export through accessors that cannot be redefined.
 * What the program makes can be seen: `initTRPC` (index.cjs's export, a data property, or the
 * ES build's binding) is a builder whose `create` (on its class's prototype, which `context()`
 * and `meta()` builders share) is wrapped; the `t` it returns gets `router` and `mergeRouters`
 * wrapped, and each router they make:
 * - its `_def.procedures` (path → procedure, which the adapters' request parsing reads once a
 *   call, through getProcedureAtPath) becomes a Proxy with one `get` trap: a procedure read
 *   while a request runs names the request's route. No function of scope's is on a
 *   procedure's stack (tRPC puts an error's stack in its response outside production).
 * - its config's `errorFormatter` (tRPC's default, or the program's) is wrapped: tRPC calls
 *   it with the error, the path and the type when it answers a failed call.
 * What a program can see: `t.router`, `t.mergeRouters` and `t._config.errorFormatter` are
 * scope's functions (same names and lengths); a router's `_def.procedures` is a Proxy. A read
 * of a router's procedures the program makes inside a request (a server-side caller's) names
 * the request's route too. A procedure with its own error formatter (`.errorFormatter()`):
 * tRPC answers with the shape that made, without the config's formatter: no error recorded.
 */
import { Kind } from "../shared/kinds";
import type { Recorder } from "../shared/recorder";
import { assignPatch } from "../shared/patches";
import { protoData, renamed } from "../shared/reflect";
import { currentRequest } from "../shared/request-context";

/** Whether `filename` is @trpc/server's CommonJS entry. */
export function isTrpcFile(filename: string): boolean {
  return /[\\/]@trpc[\\/]server[\\/]dist[\\/]index\.cjs$/.test(filename);
}

type Fn = (this: unknown, ...args: unknown[]) => unknown;

export class TrpcHooks {
  private readonly patched = new WeakSet<object>();
  private frameworkId = 0;
  /** The request whose procedures were read last, and their type and paths so far. */
  private request = 0;
  private type = "";
  private paths = "";

  constructor(private readonly recorder: Recorder) {}

  /** index.cjs's exports or index.mjs's bindings: `initTRPC`. */
  hook(exports: unknown): void {
    if (exports === null || typeof exports !== "object") return;
    const builder = (exports as { initTRPC?: unknown }).initTRPC;
    if (builder === null || typeof builder !== "object") return;
    const proto = Object.getPrototypeOf(builder) as Record<string, unknown> | null;
    if (proto === null || this.patched.has(proto) || typeof proto.create !== "function") return;
    this.patched.add(proto);
    const original = proto.create as Fn;
    const hooks = this;
    assignPatch(proto, "create", renamed(original, function create(this: unknown) {
      const t = Reflect.apply(original, this, arguments);
      hooks.recorder.safe(() => hooks.onRoot(t));
      return t;
    }));
  }

  /** The object `create` returned: its router makers wrapped. */
  private onRoot(t: unknown): void {
    if (t === null || typeof t !== "object") return;
    const root = t as Record<string, unknown>;
    for (const name of ["router", "mergeRouters"]) {
      const maker = root[name];
      if (typeof maker !== "function") continue;
      const hooks = this;
      assignPatch(root, name, renamed(maker as Fn, function (this: unknown) {
        const router = Reflect.apply(maker as Fn, this, arguments);
        hooks.recorder.safe(() => hooks.onRouter(router));
        return router;
      }));
    }
  }

  /** A router made: its procedures' reads and its config's error formatter. */
  private onRouter(router: unknown): void {
    const def = (router as { _def?: unknown } | null)?._def;
    if (def === null || typeof def !== "object") return;
    const holder = def as { procedures?: unknown; _config?: unknown };
    const procedures = holder.procedures;
    if (procedures !== null && typeof procedures === "object" && !this.patched.has(procedures)) {
      const proxy = new Proxy(procedures, { get: this.procedureRead() });
      this.patched.add(proxy);
      // Through assignPatch: a detach (scope attach) puts the router's own object back.
      assignPatch(holder, "procedures", proxy);
    }
    const config = holder._config;
    if (config !== null && typeof config === "object" && !this.patched.has(config)) {
      this.patched.add(config);
      this.hookFormatter(config as Record<string, unknown>);
    }
  }

  private procedureRead(): ProxyHandler<object>["get"] {
    const hooks = this;
    const recorder = this.recorder;
    return function get(target: object, key: string | symbol, receiver: unknown): unknown {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value === "function" && typeof key === "string") {
        const request = currentRequest();
        if (request !== 0 && recorder.groups.http === true) recorder.safe(() => hooks.onProcedure(request, key, value));
      }
      return value;
    };
  }

  /** A procedure read in `request`: the request's route, every procedure of the request so far (a batch's, in order). */
  onProcedure(request: number, path: string, procedure: unknown): void {
    const def = (procedure as { _def?: { type?: unknown } })._def;
    const type = typeof def?.type === "string" ? def.type : "unknown";
    if (request === this.request) this.paths = `${this.paths},${path}`;
    else {
      this.request = request;
      this.type = type;
      this.paths = path;
    }
    const recorder = this.recorder;
    if (this.frameworkId === 0) this.frameworkId = recorder.str("trpc");
    recorder.event(Kind.http_route, request, recorder.str(`${this.type} ${this.paths}`), this.frameworkId);
  }

  private hookFormatter(config: Record<string, unknown>): void {
    const original = config.errorFormatter;
    if (typeof original !== "function") return;
    const hooks = this;
    const recorder = this.recorder;
    assignPatch(config, "errorFormatter", renamed(original as Fn, function errorFormatter(this: unknown, opts: unknown) {
      const request = currentRequest();
      if (request !== 0 && recorder.groups.http === true) recorder.safe(() => hooks.onError(request, opts));
      return Reflect.apply(original as Fn, this, arguments);
    }));
  }

  /** A call tRPC answers with an error: its code (`UNAUTHORIZED`) and "path: message". */
  onError(request: number, opts: unknown): void {
    if (opts === null || typeof opts !== "object") return;
    const error = protoData(opts, "error");
    const path = protoData(opts, "path");
    let code = "TRPCError";
    let message: string | undefined;
    if (error !== null && typeof error === "object") {
      const own = protoData(error, "code");
      const name = protoData(error, "name");
      const text = protoData(error, "message");
      if (typeof own === "string") code = own;
      else if (typeof name === "string") code = name;
      if (typeof text === "string") message = text;
    }
    const recorder = this.recorder;
    const text = typeof path === "string" && path !== "" ? `${path}: ${message ?? ""}` : message;
    recorder.event(Kind.http_error, request, recorder.str(code), recorder.message(text, false));
  }
}
