/**
 * HTTP in Bun. Bun publishes no diagnostics channel for node:http, fetch or Bun.serve
 * (oven-sh/bun#29586), so everything here is a patch, installed when the program reaches
 * what it patches:
 * - `Bun.serve` (a global: wrapped at start, nothing loaded): each `fetch` handler (and each
 *   function of `routes`) is wrapped: the request starts when the handler is called, runs
 *   with the request as its async context, and ends when its Response is ready (status).
 *   Bun sends the body afterwards, natively: its size is the Response's Content-Length
 *   when set, else unknown (flags), and a body that fails while streaming is not seen. A
 *   client that disconnects first ends it as aborted (the Request's signal). The server's
 *   `reload(options)` gets its handlers wrapped the same way.
 * - Bun's node:http server is built on Bun.serve (its `onNodeHTTPRequest`): that Bun.serve
 *   call installs the node:http hooks of src/agent/node/http.ts on Bun's classes (Server
 *   emit, ServerResponse emit/write/end, IncomingMessage push), so such requests are
 *   recorded as in Node (sizes, ends, keep-alive ordinals), once, not twice.
 * - Bun's node:http client: those hooks plus ClientRequest end, installed when the program
 *   requires node:http/https (Module.prototype.require, process.getBuiltinModule) or
 *   starts a node:http server. Loading node:http in Bun costs ~150 ms here, so the agent
 *   never loads it itself: a program that only `import`s node:http as an ES module and
 *   never serves with it is not seen (Bun's import of a builtin passes no hook).
 * - `fetch` (global, wrapped at start): starts at the call, ends when the response head
 *   arrives (Bun reads the body natively); its size from Content-Length, else unknown.
 *   Redirects Bun follows itself are inside that one request; no connection is known.
 */
import type * as Http from "node:http";
import { HttpClient, HttpEnd, HttpEndFlag, Kind } from "../shared/kinds";
import { clientRequestStart, newTraceparent, propagateTraceparent, newConnection, protocolFlags, requestEnd, serverRequestStart, serverRequests, type Connection, type RequestState } from "../shared/http";
import type { Recorder } from "../shared/recorder";
import { runInRequest } from "../shared/request-context";
import type { Tracer } from "../node/hooks";
import { ClientHooks, ServerHooks } from "../node/http";
import { renamed } from "../shared/reflect";
import { ServerSockets } from "./websocket";

const { requestSizeUnknown: REQUEST_SIZE_UNKNOWN, responseSizeUnknown: RESPONSE_SIZE_UNKNOWN } = HttpEndFlag;

export function hookBunHttp(tracer: Tracer): void {
  const { recorder } = tracer;
  const server = new ServerHooks(tracer);
  const client = new ClientHooks(tracer);
  client.bun = true;
  let nodeHttp = false;
  const hookNodeHttp = () => {
    if (nodeHttp) return;
    nodeHttp = true;
    const http = require("node:http") as typeof Http;
    server.hookBunServer(http);
    client.ensure();
  };
  recorder.safe(() => hookServe(tracer, hookNodeHttp));
  if (!recorder.groups.http) return;
  recorder.safe(() => hookFetch(recorder));
  recorder.safe(() => hookRequire(recorder, hookNodeHttp));
}

const httpIds = new Set(["http", "node:http", "https", "node:https"]);

/** node:http/https reached through CommonJS require or process.getBuiltinModule: hooked right after it loads. */
function hookRequire(recorder: Recorder, hookNodeHttp: () => void): void {
  const Module = require("node:module") as { prototype: { require: (this: unknown, id: string) => unknown } };
  const original = Module.prototype.require;
  let done = false;
  Module.prototype.require = renamed(original, function (this: unknown, id: string) {
    // Any other module: the original in tail position (tailCall in shared/patches.ts).
    if (done || !httpIds.has(id)) return Reflect.apply(original, this, arguments);
    const exports = Reflect.apply(original, this, arguments);
    done = true;
    recorder.safe(hookNodeHttp);
    return exports;
  });
  const host = process as unknown as { getBuiltinModule?: (id: string) => unknown };
  const get = host.getBuiltinModule;
  if (typeof get === "function") {
    host.getBuiltinModule = renamed(get, function (this: unknown, id: string) {
      const exports = Reflect.apply(get, this, arguments);
      if (!done && httpIds.has(id)) {
        done = true;
        recorder.safe(hookNodeHttp);
      }
      return exports;
    });
  }
}

interface ServeOptions {
  fetch?: unknown;
  routes?: unknown;
  error?: unknown;
  onNodeHTTPRequest?: unknown;
  websocket?: unknown;
  hostname?: unknown;
  port?: unknown;
  tls?: unknown;
}

interface BunServer {
  requestIP?: (request: Request) => { address: string; port: number } | null;
  hostname?: string;
  port?: number;
}

function hookServe(tracer: Tracer, hookNodeHttp: () => void): void {
  const { recorder } = tracer;
  const bun = Bun as unknown as { serve: (this: unknown, options: ServeOptions, ...rest: unknown[]) => unknown };
  const original = bun.serve;
  const connections = new RemoteConnections(recorder);
  const sockets = recorder.groups.message ? new ServerSockets(tracer) : undefined;
  /** Whether Bun.serve or reload with these options has anything to record. */
  const traced = (options: ServeOptions) => recorder.groups.http || (sockets !== undefined && options.websocket !== undefined && options.websocket !== null);
  bun.serve = renamed(original, function (this: unknown, options: ServeOptions) {
    if (options === null || typeof options !== "object") return Reflect.apply(original, this, arguments);
    // node:http's own server: recorded by the node:http hooks (installed now, before its first request).
    if (typeof options.onNodeHTTPRequest === "function") {
      recorder.safe(hookNodeHttp);
      return Reflect.apply(original, this, arguments);
    }
    if (!traced(options)) return Reflect.apply(original, this, arguments);
    const tls = options.tls !== undefined && options.tls !== null && options.tls !== false;
    const args = Array.prototype.slice.call(arguments);
    const wrapped = wrapOptions(options, tls);
    args[0] = wrapped;
    const server = Reflect.apply(original, this, args) as unknown;
    recorder.safe(() => hookReload(server, tls));
    if (sockets !== undefined && wrapped.websocket !== options.websocket) recorder.safe(() => sockets.server(server));
    return server;
  });
  /** The program's options with its handlers wrapped (serveHandler), for Bun.serve and its server's reload. */
  const wrapOptions = (options: ServeOptions, tls: boolean): ServeOptions => {
    const wrapped: ServeOptions = { ...options };
    if (sockets !== undefined) recorder.safe(() => (wrapped.websocket = sockets.wrap(options.websocket)));
    if (!recorder.groups.http) return wrapped;
    const site: Site = { connections, tls, answers: typeof options.error === "function" ? new WeakMap() : undefined };
    if (typeof options.fetch === "function") wrapped.fetch = serveHandler(recorder, options.fetch as Handler, site);
    if (options.routes !== null && typeof options.routes === "object") wrapped.routes = wrapRoutes(recorder, options.routes as Record<string, unknown>, site);
    if (site.answers !== undefined) wrapped.error = errorHandler(recorder, options.error as ErrorHandler, site.answers);
    return wrapped;
  };
  // `server.reload(options)` replaces the handlers: its options are wrapped as Bun.serve's are
  // (the server classes' own reload, writable on their prototypes, wrapped once each).
  const servers = new WeakMap<object, boolean>();
  const hooked = new WeakSet<object>();
  const hookReload = (server: unknown, tls: boolean): void => {
    if (server === null || typeof server !== "object") return;
    servers.set(server, tls);
    const proto = Object.getPrototypeOf(server) as { reload?: unknown; upgrade?: unknown } | null;
    if (proto === null || hooked.has(proto) || typeof proto.reload !== "function") return;
    hooked.add(proto);
    if (recorder.groups.http && typeof proto.upgrade === "function") proto.upgrade = upgradeEnds(recorder, proto.upgrade as Upgrade);
    const reload = proto.reload as (this: unknown, options: ServeOptions) => unknown;
    proto.reload = renamed(reload, function (this: unknown, options: ServeOptions) {
      const tls = this !== null && typeof this === "object" ? servers.get(this) : undefined;
      if (tls === undefined || options === null || typeof options !== "object" || !traced(options)) return Reflect.apply(reload, this, arguments);
      const args = Array.prototype.slice.call(arguments);
      args[0] = wrapOptions(options, tls);
      return Reflect.apply(reload, this, args);
    });
  };
}

type Handler = (this: unknown, request: Request, server: BunServer) => unknown;
type Upgrade = (this: unknown, request: unknown, options?: unknown) => unknown;

/**
 * `server.upgrade(request)`: a request it takes ends `upgraded` there. Bun ignores what the
 * handler returns after that, and a framework may still return a Response (Elysia's ws routes
 * give back what their composed handler made of `undefined`: a 200), which the request's end
 * would otherwise have taken for the answer (auditbun). Only an upgrade pays the look-up.
 */
function upgradeEnds(recorder: Recorder, upgrade: Upgrade): Upgrade {
  return renamed(upgrade, function (this: unknown, request: unknown) {
    const taken = Reflect.apply(upgrade, this, arguments);
    if (taken === true && request !== null && typeof request === "object") {
      recorder.safe(() => {
        const state = serverRequests.get(request);
        if (state !== undefined) serveEnd(recorder, state, undefined, HttpEnd.upgraded);
      });
    }
    return taken;
  });
}

/** A route's value: a handler, an object of handlers by method, or a static Response (not a request the program handles). */
function wrapRoutes(recorder: Recorder, routes: Record<string, unknown>, site: Site): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(routes)) {
    const value = routes[key];
    if (typeof value === "function") out[key] = serveHandler(recorder, value as Handler, site, key);
    else if (value !== null && typeof value === "object" && !(value instanceof Response) && Object.getPrototypeOf(value) === Object.prototype) {
      const methods: Record<string, unknown> = {};
      for (const method of Object.keys(value)) {
        const handler = (value as Record<string, unknown>)[method];
        methods[method] = typeof handler === "function" ? serveHandler(recorder, handler as Handler, site, key) : handler;
      }
      out[key] = methods;
    } else out[key] = value;
  }
  return out;
}

/**
 * Bun.serve has no socket object: a connection is told by the client's address and port
 * (a keep-alive connection keeps its port). Bounded: past 4096 remembered, it starts over.
 */
class RemoteConnections {
  private readonly known = new Map<string, Connection>();
  constructor(private readonly recorder: Recorder) {}

  of(server: BunServer, request: Request, tls: boolean): Connection | undefined {
    const remote = typeof server?.requestIP === "function" ? server.requestIP(request) : null;
    if (!remote) return undefined;
    const key = `${remote.address}:${remote.port}`;
    let connection = this.known.get(key);
    if (connection === undefined) {
      if (this.known.size >= 4096) this.known.clear();
      connection = newConnection(this.recorder, { localAddress: server.hostname, localPort: server.port, remoteAddress: remote.address, remotePort: remote.port }, tls, false);
      this.known.set(key, connection);
    }
    return connection;
  }
}

/** What the handlers of one Bun.serve (or reload) call share. */
interface Site {
  connections: RemoteConnections;
  tls: boolean;
  /** With an `error` option: a failed request by its error, until that handler answered it (errorHandler). */
  answers: Answers | undefined;
}

type Answers = WeakMap<object, [RequestState, Request]>;
type ErrorHandler = (this: unknown, error: unknown) => unknown;

/**
 * A handler that threw or rejected: Bun answers with the `error` option's Response (the
 * request ends when it is ready: errorHandler), else with a 500 of its own. An error that is
 * no object cannot be told to the error handler's call: it ends now, its status unknown.
 */
function failed(recorder: Recorder, state: RequestState, error: unknown, request: Request, answers: Answers | undefined): void {
  state.error = error;
  if (answers === undefined) {
    state.status = 500;
    serveEnd(recorder, state, undefined, HttpEnd.finished);
  } else if (error !== null && (typeof error === "object" || typeof error === "function")) answers.set(error, [state, request]);
  else serveEnd(recorder, state, undefined, HttpEnd.socketError);
}

/** The `error` option: a failed request ends with what it answers (a Response, else Bun's 500), the program's result unchanged. */
function errorHandler(recorder: Recorder, handler: ErrorHandler, answers: Answers): ErrorHandler {
  return renamed(handler, function (this: unknown, error: unknown) {
    const entry = error !== null && (typeof error === "object" || typeof error === "function") ? answers.get(error) : undefined;
    if (entry === undefined) return Reflect.apply(handler, this, arguments);
    answers.delete(error as object);
    const [state, request] = entry;
    const answered = (response: unknown) =>
      recorder.safe(() => {
        if (!(response instanceof Response)) state.status = 500;
        serveEnd(recorder, state, response, HttpEnd.finished, request);
      });
    let result: unknown;
    try {
      result = Reflect.apply(handler, this, arguments);
    } catch (thrown) {
      answered(undefined);
      throw thrown;
    }
    if (result instanceof Promise) Promise.prototype.then.call(result, answered, () => answered(undefined));
    else answered(result);
    return result;
  });
}

/** `route`: the `routes` key the handler serves (recorded as the request's http_route). */
function serveHandler(recorder: Recorder, handler: Handler, site: Site, route?: string): Handler {
  const { connections, tls, answers } = site;
  return renamed(handler, function (this: unknown, request: Request, server: BunServer) {
    let state: RequestState | undefined;
    try {
      const url = request.url;
      const slash = url.indexOf("/", url.indexOf("//") + 2);
      const target = slash < 0 ? "/" : url.slice(slash);
      state = serverRequestStart(recorder, request.method, target, connections.of(server, request, tls), protocolFlags(1, 1, tls), request.headers.get("traceparent") ?? undefined);
      if (route !== undefined) recorder.event(Kind.http_route, state.id, recorder.str(route), recorder.str("bun"));
      const length = request.headers.get("content-length");
      if (length !== null && /^\d+$/.test(length)) state.requestBytes = Number(length);
      // A request has a body when it says so (Content-Length or Transfer-Encoding): its `body` is not read (bodyless).
      else if (request.headers.has("transfer-encoding")) state.endFlags |= REQUEST_SIZE_UNKNOWN;
      serverRequests.set(request, state);
      const current = state;
      request.signal.addEventListener("abort", () => recorder.safe(() => serveEnd(recorder, current, undefined, HttpEnd.aborted)), { once: true });
    } catch (error) {
      recorder.fail(error);
    }
    if (state === undefined) return Reflect.apply(handler, this, arguments);
    const current = state;
    let result: unknown;
    try {
      result = runInRequest(state.id, handler as never, this, arguments);
    } catch (error) {
      recorder.safe(() => failed(recorder, current, error, request, answers));
      throw error;
    }
    if (result instanceof Response) serveEnd(recorder, current, result, HttpEnd.finished, request);
    // No Response: the handler took the connection (server.upgrade() to a WebSocket).
    else if (result === undefined) serveEnd(recorder, current, undefined, HttpEnd.upgraded);
    else if (result instanceof Promise) {
      // A reaction on the program's promise: its value is unchanged, and Bun handles its
      // rejection itself either way (the `error` option or a 500).
      Promise.prototype.then.call(
        result,
        (response: unknown) => recorder.safe(() => serveEnd(recorder, current, response, HttpEnd.finished, request)),
        (error: unknown) => recorder.safe(() => failed(recorder, current, error, request, answers)),
      );
    }
    return result;
  });
}

function serveEnd(recorder: Recorder, state: RequestState, response: unknown, reason: number, request?: Request): void {
  if (state.ended) return;
  if (response instanceof Response) {
    state.status = response.status;
    const length = response.headers.get("content-length");
    if (length !== null && /^\d+$/.test(length)) state.responseBytes = Number(length);
    else if (!bodyless(response.status, request?.method)) state.endFlags |= RESPONSE_SIZE_UNKNOWN;
  }
  requestEnd(recorder, Kind.http_server_response, state, reason);
}

/**
 * A response HTTP sends without a body (RFC 9110: to HEAD; 1xx, 204, 304), told without
 * reading its `body`: Bun's getter turns a text or Blob body into a stream, and Bun.serve
 * then sends it as application/octet-stream instead of the text/plain it gives such a body
 * (audit11: every Bun.serve `new Response("...")` changed its Content-Type). A response
 * without Content-Length and with a body (a text, a stream) has its size unknown, as before;
 * one made with a null body is now unknown as well.
 */
function bodyless(status: number, method: string | undefined): boolean {
  return method === "HEAD" || (status >= 100 && status < 200) || status === 204 || status === 304;
}

function hookFetch(recorder: Recorder): void {
  const host = globalThis as unknown as { fetch: (this: unknown, input: unknown, init?: unknown) => Promise<Response> };
  const original = host.fetch;
  const fetch = renamed(original, function (this: unknown, input: unknown, init?: unknown) {
    let state: RequestState | undefined;
    let head = false;
    let args: ArrayLike<unknown> = arguments;
    if (propagateTraceparent) {
      try {
        const propagated = withTraceparent(input, init);
        if (propagated !== undefined) {
          init = propagated;
          args = [input, propagated, ...Array.prototype.slice.call(arguments, 2)];
        }
      } catch (error) {
        recorder.fail(error);
      }
    }
    try {
      if (recorder.groups.http) ({ state, head } = fetchStart(recorder, input, init));
    } catch (error) {
      recorder.fail(error);
    }
    const result = Reflect.apply(original, this, args) as Promise<Response>;
    if (state !== undefined && result instanceof Promise) {
      const current = state;
      // The program gets the promise of this reaction, which settles as fetch's did: a
      // rejection the program never handles stays unhandled (a reaction on fetch's own
      // promise would mark it handled), at the cost of one more microtask before it resumes.
      return Promise.prototype.then.call(
        result,
        (response: unknown) => {
          recorder.safe(() => {
            if (response instanceof Response) {
              current.status = response.status;
              const length = response.headers.get("content-length");
              if (length !== null && /^\d+$/.test(length)) current.responseBytes = Number(length);
              // Not through its `body` (bodyless): a response the program hands on (a proxy's `return fetch(...)`) stays as fetch made it.
              else if (!bodyless(response.status, head ? "HEAD" : undefined)) current.endFlags |= RESPONSE_SIZE_UNKNOWN;
            }
            requestEnd(recorder, Kind.http_client_response, current, HttpEnd.finished);
          });
          return response;
        },
        (error: unknown) => {
          recorder.safe(() => {
            current.error = error;
            requestEnd(recorder, Kind.http_client_response, current, 0);
          });
          throw error;
        },
      ) as Promise<Response>;
    }
    return result;
  });
  // fetch.preconnect and other own properties stay reachable.
  for (const key of Reflect.ownKeys(original)) {
    if (key === "name" || key === "length" || key === "prototype") continue;
    const descriptor = Object.getOwnPropertyDescriptor(original, key);
    if (descriptor) Object.defineProperty(fetch, key, descriptor);
  }
  host.fetch = fetch;
}

/** The request's state, and whether it is a HEAD (its response has no body: bodyless). */
function fetchStart(recorder: Recorder, input: unknown, init: unknown): { state: RequestState; head: boolean } {
  let url: string | undefined;
  let method: string | undefined;
  let headers: unknown;
  let body: unknown;
  if (typeof input === "string") url = input;
  else if (input instanceof URL) url = input.href;
  else if (input instanceof Request) {
    url = input.url;
    method = input.method;
    headers = input.headers;
    body = input.body;
  } else url = String(input);
  if (init !== null && typeof init === "object") {
    const options = init as { method?: unknown; headers?: unknown; body?: unknown };
    if (typeof options.method === "string") method = options.method.toUpperCase();
    if (options.headers !== undefined) headers = options.headers;
    if (options.body !== undefined) body = options.body;
  }
  const state = clientRequestStart(recorder, method ?? "GET", url, HttpClient.fetch, headerValue(headers, "traceparent"));
  if (typeof body === "string") state.requestBytes = Buffer.byteLength(body);
  else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) state.requestBytes = (body as ArrayBufferView).byteLength;
  else if (body !== undefined && body !== null) state.endFlags |= REQUEST_SIZE_UNKNOWN;
  return { state, head: method === "HEAD" };
}

/**
 * --propagate: fetch's init with a traceparent added (a copy: the program's init and Headers
 * are not touched), or undefined when the program set one itself.
 */
function withTraceparent(input: unknown, init: unknown): object | undefined {
  const options = init !== null && typeof init === "object" ? (init as { headers?: unknown }) : undefined;
  const given = options?.headers !== undefined ? options.headers : input instanceof Request ? input.headers : undefined;
  if (headerValue(given, "traceparent") !== undefined) return undefined;
  const headers = new Headers(given as ConstructorParameters<typeof Headers>[0]);
  if (headers.has("traceparent")) return undefined;
  headers.set("traceparent", newTraceparent());
  return { ...options, headers };
}

/** A header from fetch's `headers` option: Headers, an array of pairs, or a plain object (own data properties only). */
function headerValue(headers: unknown, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  if (Array.isArray(headers)) {
    for (const pair of headers) if (Array.isArray(pair) && typeof pair[0] === "string" && pair[0].toLowerCase() === name && typeof pair[1] === "string") return pair[1];
    return undefined;
  }
  if (headers !== null && typeof headers === "object") {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() !== name) continue;
      const descriptor = Object.getOwnPropertyDescriptor(headers, key);
      return descriptor && typeof descriptor.value === "string" ? descriptor.value : undefined;
    }
  }
  return undefined;
}

