/**
 * HTTP in Node: servers (node:http, node:https), clients (node:http/https requests and
 * fetch, which is undici) as request events (src/agent/shared/http.ts), each linked to
 * the request the program was handling when it made it.
 *
 * Mechanism (ARCHITECTURE.md "Requests"): Node's diagnostics channels where Node publishes
 * what is needed, patches where nothing is published.
 * - Subscribing costs nothing until a module publishes: no module is loaded for it, so a
 *   program without HTTP pays nothing. The core agent subscribes at start and loads this
 *   module (the second chunk, node-extras.cjs: src/agent/node/lazy.ts) on the first
 *   message; the patches below are installed the first time a channel says HTTP is in use
 *   (a server's first connection, a first client request).
 * - Server: `http.server.request.start` (the head parsed, published inside the runtime's
 *   call that emits 'request', so AsyncLocalStorage.enterWith there makes the request the
 *   context of the program's handler and of everything it starts), and
 *   `http.server.response.finish`. Not published, so patched: the end of a response that
 *   never finished (ServerResponse emit 'close', 'timeout'), parse errors and socket errors
 *   (the server's emit 'clientError'), upgrades (emit 'upgrade'/'connect'), body sizes
 *   (IncomingMessage push: the bytes the parser hands over; OutgoingMessage write/end:
 *   the bytes the program writes, only counted when Node sends a body).
 * - node:http client: `http.client.request.start`, `http.client.response.finish` (the
 *   response head); the rest (the response's end, errors, aborts, timeouts) through
 *   ClientRequest and IncomingMessage emit.
 * - fetch: undici's `undici:request:create`, `:headers`, `:trailers`, `:error` and
 *   `undici:client:sendHeaders` (its socket). Each redirect undici follows is a request
 *   of its own (it dispatches again).
 */
import type * as Http from "node:http";
import type * as Net from "node:net";
import type { Readable } from "node:stream";
import { HttpClient, HttpEnd, HttpEndFlag, Kind } from "../shared/kinds";
import {
  addTraceparent,
  chunkBytes,
  newTraceparent,
  propagateTraceparent,
  clientConnection,
  clientRequestStart,
  newConnection,
  protocolFlags,
  rawHeader,
  noteResponse,
  requestEnd,
  responseClosed,
  responseState,
  writtenResponseState,
  serverRequestStart,
  serverRequests,
  type Connection,
  type RequestState,
} from "../shared/http";
import type { Recorder } from "../shared/recorder";
import { enterRequest, runInRequest } from "../shared/request-context";
import { responseHooks, type ResponseHooks } from "../shared/response-emit";
import { makeStamp } from "../shared/stamp";
import type { Tracer } from "./hooks";
import { callerOf, protoData, renamed, v8Major } from "../shared/reflect";
import { builtinLoaded } from "./builtins";
import type { HttpChannel } from "./triggers";

/** A server request in flight. */
type ServerRequest = RequestState;

/** Per socket: its connection record and the request whose response it carries now. */
interface ServerSocket {
  connection: Connection;
  current: ServerRequest | undefined;
  /** The socket's `encrypted` as read when its connection was recorded (a TLS socket is one from its start). */
  tls: boolean;
  /** Its server's class was checked (onRequest): once a connection. */
  serverSeen: boolean;
}

/**
 * The integration's handler for each channel of HTTP_CHANNELS (src/agent/node/triggers.ts),
 * each catching its own errors. Made when a thread first sees HTTP in use: the core's
 * subscriptions (src/agent/node/lazy.ts) load this chunk on their first message and hand
 * every message on to these.
 */
export function httpHandlers(tracer: Tracer): Record<HttpChannel, (message: unknown) => void> {
  const { recorder } = tracer;
  const server = new ServerHooks(tracer);
  const client = new ClientHooks(tracer);
  const guarded =
    <T>(fn: (message: T) => void) =>
    (message: unknown) => {
      try {
        fn(message as T);
      } catch (error) {
        recorder.fail(error);
      }
    };
  return {
    "net.server.socket": guarded((message: { socket: Net.Socket }) => server.onConnection(message.socket)),
    "http.server.request.start": guarded((message: { request: Http.IncomingMessage; response: Http.ServerResponse; socket: Net.Socket }) => server.onRequest(message.request, message.response, message.socket)),
    "http.server.response.finish": guarded((message: { request?: Http.IncomingMessage; response: Http.ServerResponse }) => server.onFinish(message.response, message.request)),
    // A client socket being created (inside `new ClientRequest`, before the program writes
    // its body): the client's patches go in then, when node:http is loaded.
    "net.client.socket": guarded(() => {
      if (!client.patched && builtinLoaded("_http_client", true)) client.ensure();
    }),
    "http.client.request.start": guarded((message: { request: Http.ClientRequest }) => client.onRequest(message.request)),
    "http.client.response.finish": guarded((message: { request: Http.ClientRequest; response: Http.IncomingMessage }) => client.onResponse(message.request, message.response)),
    "undici:request:create": guarded((message: { request: UndiciRequest }) => client.onFetch(message.request)),
    "undici:client:sendHeaders": guarded((message: { request: UndiciRequest; socket: Net.Socket }) => client.onFetchSocket(message.request, message.socket)),
    "undici:request:headers": guarded((message: { request: UndiciRequest; response: { statusCode: number; headers: unknown } }) => client.onFetchHeaders(message.request, message.response)),
    "undici:request:trailers": guarded((message: { request: UndiciRequest }) => client.onFetchEnd(message.request, undefined)),
    "undici:request:error": guarded((message: { request: UndiciRequest; error: unknown }) => client.onFetchEnd(message.request, message.error)),
  };
}

/** Shared by server and client: body bytes counted where Node moves them (see patchBodies). */
// A request's state rides on the runtime's own objects as an invisible private field
// (src/agent/shared/stamp.ts): a WeakMap entry per short-lived message was measured far
// costlier (V8's ephemeron tables: microseconds a request with GC). One object a request
// carries it: a server request's IncomingMessage (its ServerResponse reaches it as
// `res.req`), a ClientRequest (its response's IncomingMessage reaches it as `res.req`),
// undici's Request.
const serverStamp = serverRequests;
const clientStamp = makeStamp<ClientState>(true);
/** Bytes a client request wrote before it was published (see patchBodies). */
const unclaimedStamp = makeStamp<number>();
/** A server request's state from its IncomingMessage. */
const serverOf = (message: object) => serverStamp.get(message);
/** A client request's state from its ClientRequest or undici Request. */
const clientOf = (message: object) => clientStamp.get(message);
/** The state of the request `message` answers (a ServerResponse) or is the answer to (a client's IncomingMessage). */
const ownerOf = (message: object) => (typeof message === "object" && message !== null ? (message as { req?: unknown }).req : undefined);
/**
 * Bun: a server response's request, stamped at its start. Bun publishes no finish channel, so
 * its responses end from their own 'finish' emit, and a program may have replaced `res.req`
 * by then (Node's channel names the request itself: onFinish).
 */
const bunResponses = makeStamp<ServerRequest>();
const clientOfResponse = (response: object) => {
  const request = ownerOf(response);
  return typeof request === "object" && request !== null ? clientStamp.get(request) : undefined;
};
let bodiesPatched = false;

/**
 * IncomingMessage.prototype.push (the parser hands each body chunk to it, then null) and
 * OutgoingMessage.prototype.write/end (what the program writes): counted for messages this
 * agent follows, nothing read, copied or delayed.
 */
function patchBodies(recorder: Recorder, http: typeof Http): void {
  if (bodiesPatched) return;
  bodiesPatched = true;
  const byteLength = Buffer.byteLength as (text: string, encoding?: string) => number;
  const incoming = http.IncomingMessage.prototype as unknown as { push: (this: object, chunk: unknown, encoding?: unknown) => boolean };
  const push = incoming.push;
  const callPush = callerOf(push);
  // Named parameters handed on for the usual counts (callerOf), else `arguments` untouched,
  // in these per-chunk and per-emit wrappers: the bundle is strict (an unmapped arguments
  // object), and V8's optimizing tiers forward such `arguments` without making it; a rest
  // array read by index is allocated each call (BENCHMARKS.md "Web: the wrappers' own cost",
  // "Web: the agent's own cost a request").
  incoming.push = renamed(push, function (this: object, chunk: unknown, encoding?: unknown): boolean {
    const request = serverOf(this);
    if (chunk !== null && chunk !== undefined) {
      const response = request === undefined ? clientOfResponse(this) : undefined;
      if (request !== undefined || response !== undefined) {
        try {
          const bytes = chunkBytes(chunk, encoding, byteLength);
          if (request !== undefined) request.requestBytes += bytes;
          else response!.responseBytes += bytes;
        } catch (error) {
          recorder.fail(error);
        }
      }
    }
    // The parser hands a server request's body over in its connection's callbacks, which run
    // in the context the connection was accepted in: on AsyncContextFrame (Node 24) not the
    // request's (async_hooks carried it on the parser's resource, which the request's start
    // entered). A body the program reads ('data' listeners or a pipe: flowing; 'readable'
    // listeners) is pushed in the request, so the 'data' it emits and the ticks it schedules
    // ('end', 'readable') run in it. A body nobody reads yet is pushed as it is: what reads it
    // later (resume, read) runs in the program's own context. (An ALS run on the frame makes
    // two frames: ~2.6 k instructions a request of the web workload if done for every push.)
    if (request !== undefined && bodyRead(this)) {
      return runInRequest(request.id, push as never, this, arguments) as boolean;
    }
    const n = arguments.length;
    return n === 1 ? callPush(this, chunk) : n === 2 ? callPush(this, chunk, encoding) : (Reflect.apply(push, this, arguments) as boolean);
  });
  // Bun's ServerResponse has write and end of its own; Node's inherits OutgoingMessage's.
  const targets = [http.OutgoingMessage.prototype, http.ServerResponse.prototype, http.ClientRequest.prototype] as unknown as Record<"write" | "end", (this: OutgoingLike, ...args: unknown[]) => unknown>[];
  for (const [index, target] of targets.entries()) {
    for (const name of ["write", "end"] as const) {
      if (index > 0 && !Object.prototype.hasOwnProperty.call(target, name)) continue;
      patchWrite(target, name);
    }
  }
  function patchWrite(outgoing: Record<"write" | "end", (this: OutgoingLike, ...args: unknown[]) => unknown>, name: "write" | "end"): void {
    const original = outgoing[name];
    const call = callerOf(original);
    outgoing[name] = renamed(original, function (this: OutgoingLike, chunk: unknown, encoding?: unknown) {
      // Not counted: no chunk, a chunk Node refuses (it throws), a message already ended or
      // destroyed, and a body Node does not send (HEAD, 204, 304: _hasBody false); nor a call
      // on a receiver that is no object (the original's own error, nothing read first).
      const n = arguments.length;
      if (typeof chunk === "function" || chunk === null || chunk === undefined || this === null || typeof this !== "object" || this.finished || this.destroyed) {
        return n === 0 ? call(this) : n === 1 ? call(this, chunk) : Reflect.apply(original, this, arguments);
      }
      const result = n === 1 ? call(this, chunk) : n === 2 ? call(this, chunk, encoding) : Reflect.apply(original, this, arguments);
      try {
        if (this._hasBody !== false) {
          const bytes = chunkBytes(chunk, typeof encoding === "function" ? undefined : encoding, byteLength);
          // A client request is published when it is ended (its _finish), after the program
          // wrote its body: those bytes wait here until then.
          // A server's response first: asking a ServerResponse for a client request's stamp
          // it does not carry is a runtime call in V8 (stamp.ts `add`). The running request's
          // first (writtenResponseState): the program writes a response in its handler.
          const response = writtenResponseState(this);
          const request = response === undefined ? clientOf(this) : undefined;
          if (response !== undefined) response.responseBytes += bytes;
          else if (request !== undefined) request.requestBytes += bytes;
          else if (this instanceof http.ClientRequest) unclaimedStamp.set(this, (unclaimedStamp.get(this) ?? 0) + bytes);
        }
      } catch (error) {
        recorder.fail(error);
      }
      return result;
    });
  }
}

/**
 * Whether the program reads `message`'s body now: `readableFlowing === true` ('data'
 * listeners, a pipe, resume) or `listenerCount("readable") > 0`, computed as Node computes
 * them, from the message's own `_readableState.flowing` and `_events.readable` (listenerCount
 * counts a function as 1, a listener array as its length, never empty), not through the
 * getter and the method along its prototypes: Express gives each request a prototype of its
 * own before its body's end is pushed, and on Node 20 each look-up along that chain missed
 * V8's caches (~8 k instructions a request: BENCHMARKS.md "Web: the HTTP server's part of a request").
 */
function bodyRead(message: object): boolean {
  const own = message as { _readableState?: { flowing?: unknown } | null; _events?: Record<string, unknown> | null };
  const state = own._readableState;
  if (state !== undefined && state !== null) {
    if (state.flowing === true) return true;
    const events = own._events;
    return events !== undefined && events !== null && events.readable !== undefined;
  }
  // Not a Readable as Node makes them: its own getter and method, as before.
  return (message as Readable).readableFlowing === true || (message as Readable).listenerCount("readable") > 0;
}

/**
 * `object[name]`, the same look-up (its own fields, then its prototypes; a getter runs). On
 * Node 20 (V8 11) through V8's GetProperty builtin (Reflect.get; TurboFan calls the builtin)
 * instead of an inline cache: for a read of a message Express gave a prototype of its own
 * (`setPrototypeOf`) the cache missed every request there, ~1 k instructions a miss (the
 * runtime's LookupIterator, a handler made and put in the stub cache), against ~0.25 k for
 * the builtin's look-up. V8 12 and later (Node 22 and later, Bun) a plain read: Node 24's cache hits (~10
 * instructions), where the builtin cost +0.25 k. Only for a name no other code reads of that
 * message right after (it would miss in our place): BENCHMARKS.md "Web: reads of a
 * per-request response on Node 20".
 */
const uncachedGet: (object: object, name: string) => unknown =
  v8Major < 12 ? (Reflect.get as (object: object, name: string) => unknown) : (object, name) => (object as Record<string, unknown>)[name];

interface OutgoingLike {
  finished?: boolean;
  destroyed?: boolean;
  _hasBody?: boolean;
}

/** Status a Node server answers a client error with when the program has no 'clientError' listener (socketOnError). */
function clientErrorStatus(code: string | undefined): number {
  if (code === "HPE_HEADER_OVERFLOW") return 431;
  if (code === "HPE_CHUNK_EXTENSIONS_OVERFLOW") return 413;
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return 408;
  return 400;
}

export class ServerHooks {
  private readonly recorder: Recorder;
  /** Bun: no response.finish channel; a response's 'finish' emit ends it. */
  finishFromEmit = false;
  /**
   * Per server socket its ServerSocket: a stamp (a private-field test and load a request), not
   * a WeakMap (its look-up, ~77 instructions a request: BENCHMARKS.md "Web: the HTTP server's
   * part of a request"); a copy of its own (makeStamp's perRequest), read at every request.
   */
  private readonly sockets = makeStamp<ServerSocket>(true);
  private http: typeof Http | undefined;
  private readonly patchedServers = new WeakSet<object>();
  /** The prototype of the last request's server (onRequest): patched already (or not an HTTP server's). */
  private lastServerClass: object | null | undefined;

  constructor(private readonly tracer: Tracer) {
    this.recorder = tracer.recorder;
  }

  /** A server's new connection: HTTP's patches go in before its first byte is parsed, when node:http (or node:http2) is loaded. */
  onConnection(socket: Net.Socket): void {
    const server = (socket as { server?: object }).server;
    if (!server) return;
    // Every connection of every server passes here: a server class seen once costs one look-up.
    const proto = Object.getPrototypeOf(server) as object | null;
    if (proto === null || this.patchedServers.has(proto) || this.otherServers.has(proto)) return;
    if (this.http || builtinLoaded("_http_server", true)) this.patchServer(server);
    if (builtinLoaded("http2")) this.patchHttp2Server(server);
    // Neither HTTP nor HTTP/2 (a plain net or tls server): never looked at again. (Before
    // node:http is loaded no HTTP server can exist, so this never hides one.)
    if (!this.patchedServers.has(proto)) this.otherServers.add(proto);
  }

  private readonly otherServers = new WeakSet<object>();

  private readonly sessions = new WeakMap<object, Connection>();

  /**
   * node:http2 servers, the core API (a 'stream' listener) and the compatibility API
   * (`createServer((req, res) => ...)`, which Node builds on 'stream'): Node 20 publishes
   * nothing for HTTP/2, so at an HTTP/2 server's first connection the server class's emit
   * is wrapped ('stream': the request starts, its listeners, and so the compatibility
   * layer's 'request', run in the request's context) and, at the first stream, the server
   * stream class's push (request body bytes as the session hands them over), _write and
   * _writev (response body bytes: whatever API wrote them) and emit ('close': the end, with
   * the status it sent; finished when it closed without a reset, else aborted; 'timeout',
   * 'error'). A connection is a session, the ordinal a stream's order in it. Bodies sent
   * with respondWithFile/respondWithFD do not pass _write: their size is recorded unknown.
   */
  private patchHttp2Server(server: object): void {
    const name = (server as { constructor?: { name?: unknown } }).constructor?.name;
    if (name !== "Http2Server" && name !== "Http2SecureServer") return;
    const proto = Object.getPrototypeOf(server) as { emit: (this: object, ...args: unknown[]) => boolean };
    if (this.patchedServers.has(proto)) return;
    this.patchedServers.add(proto);
    const hooks = this;
    const recorder = this.recorder;
    const original = proto.emit;
    const emit = renamed(original, function (this: object, event: unknown, first: unknown, second: unknown) {
      let state: RequestState | undefined;
      if (event === "stream" && recorder.groups.http) {
        try {
          state = hooks.onHttp2Stream(first as Http2Stream, second as Record<string, unknown>);
        } catch (error) {
          recorder.fail(error);
        }
      }
      if (state === undefined) return Reflect.apply(original, this, arguments) as boolean;
      return runInRequest(state.id, original as never, this, arguments) as boolean;
    });
    Object.defineProperty(proto, "emit", { configurable: true, writable: true, enumerable: false, value: emit });
  }

  private readonly patchedStreams = new WeakSet<object>();

  private patchHttp2Stream(stream: object): void {
    const proto = Object.getPrototypeOf(stream) as Record<string, unknown> | null;
    if (proto === null || this.patchedStreams.has(proto)) return;
    this.patchedStreams.add(proto);
    const recorder = this.recorder;
    const byteLength = Buffer.byteLength as (text: string, encoding?: string) => number;
    const own = (name: string, replacement: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown) => {
      const original = proto[name];
      if (typeof original !== "function") return;
      Object.defineProperty(proto, name, { configurable: true, writable: true, enumerable: false, value: renamed(original, replacement(original as (...args: unknown[]) => unknown)) });
    };
    own("push", (push) =>
      function (this: object, chunk: unknown) {
        const state = serverOf(this);
        if (state !== undefined && chunk !== null && chunk !== undefined) state.requestBytes += chunkBytes(chunk, undefined, byteLength);
        return Reflect.apply(push, this, arguments);
      },
    );
    own("_write", (write) =>
      function (this: object, chunk: unknown, encoding: unknown) {
        const state = serverOf(this);
        if (state !== undefined) state.responseBytes += chunkBytes(chunk, encoding, byteLength);
        return Reflect.apply(write, this, arguments);
      },
    );
    own("_writev", (writev) =>
      function (this: object, chunks: unknown) {
        const state = serverOf(this);
        if (state !== undefined && Array.isArray(chunks)) for (const entry of chunks) state.responseBytes += chunkBytes((entry as { chunk?: unknown })?.chunk, (entry as { encoding?: unknown })?.encoding, byteLength);
        return Reflect.apply(writev, this, arguments);
      },
    );
    own("respondWithFile", (respond) =>
      function (this: object) {
        const state = serverOf(this);
        if (state !== undefined) state.endFlags |= HttpEndFlag.responseSizeUnknown;
        return Reflect.apply(respond, this, arguments);
      },
    );
    own("respondWithFD", (respond) =>
      function (this: object) {
        const state = serverOf(this);
        if (state !== undefined) state.endFlags |= HttpEndFlag.responseSizeUnknown;
        return Reflect.apply(respond, this, arguments);
      },
    );
    hookEmit(proto, recorder, ["close", "timeout", "error"], function (this: Http2Stream, event, first) {
      const state = serverOf(this);
      if (state === undefined || state.ended) return;
      if (event === "timeout") state.timedOut = true;
      else if (event === "error") state.error ??= first;
      else {
        const sent = this.sentHeaders?.[":status"];
        state.status = typeof sent === "number" ? sent : Number(sent) || 0;
        const finished = this.rstCode === 0 && this.headersSent === true && state.error === undefined;
        requestEnd(recorder, Kind.http_server_response, state, finished ? HttpEnd.finished : 0);
      }
    });
  }

  private onHttp2Stream(stream: Http2Stream, headers: Record<string, unknown>): RequestState {
    this.patchHttp2Stream(stream);
    const session = stream.session;
    let connection: Connection | undefined;
    let tls = false;
    if (session) {
      connection = this.sessions.get(session);
      const socket = session.socket as Net.Socket | undefined;
      tls = session.encrypted === true;
      if (connection === undefined && socket) {
        connection = newConnection(this.recorder, socket, tls, false);
        this.sessions.set(session, connection);
      }
    }
    const text = (value: unknown) => (typeof value === "string" ? value : undefined);
    const state = serverRequestStart(this.recorder, text(headers?.[":method"]), text(headers?.[":path"]), connection, protocolFlags(2, 0, tls), text(headers?.traceparent));
    serverStamp.add(stream, state);
    return state;
  }

  ensure(): typeof Http {
    if (this.http === undefined) {
      this.http = require("node:http") as typeof Http;
      patchBodies(this.recorder, this.http);
      this.patchResponses(this.http);
    }
    return this.http;
  }

  /** The server class's emit (http.Server, https.Server: found from the instance), once per class. */
  private patchServer(server: object): void {
    this.ensure();
    const proto = Object.getPrototypeOf(server) as { emit?: unknown } | null;
    if (proto === null || this.patchedServers.has(proto) || typeof proto.emit !== "function") return;
    // Only HTTP servers: a plain net.Server has no 'request' to parse.
    if (!isHttpServer(server)) return;
    this.patchedServers.add(proto);
    const hooks = this;
    hookEmit(proto, this.recorder, ["clientError", "upgrade", "connect"], function (this: object, event, first, second) {
      if (event === "clientError") return hooks.onClientError(this, first, second as Net.Socket);
      if (event === "upgrade" || event === "connect") hooks.onUpgrade(first as Http.IncomingMessage, second as Net.Socket);
    });
  }

  private patchResponses(http: typeof Http): void {
    const hooks = this;
    // The one ServerResponse emit wrapper, shared with the frameworks' steps (response-emit.ts),
    // which looks up the response's request (`state`) once for both hooks. Node: a response
    // that finished ends from the finish channel (onFinish), so its 'finish' emit calls this
    // not (requestAtFinish: Bun only): no look-up of its request (on Node 20 ~1 k instructions
    // of inline-cache misses a response, BENCHMARKS.md "Web: the cost scope induces in the program's code").
    this.responseHooks = responseHooks(http.ServerResponse.prototype, this.recorder);
    this.responseHooks.request = function (response: object, event, state) {
      const request = state ?? (hooks.finishFromEmit ? bunResponses.get(response) : undefined);
      // A response's last emit: not kept by scope past it.
      if (event === "close" && request !== undefined) responseClosed(request, response);
      if (request === undefined || request.ended === true) return;
      if (event === "timeout") request.timedOut = true;
      else if (event === "close") hooks.end(response as Http.ServerResponse, request, 0);
      else if (hooks.finishFromEmit) hooks.end(response as Http.ServerResponse, request, HttpEnd.finished);
    };
  }

  /** The ServerResponse emit wrapper's hooks (patchResponses). */
  private responseHooks: ResponseHooks | undefined;

  private connectionOf(socket: Net.Socket): ServerSocket {
    let known = this.sockets.get(socket);
    if (known === undefined) {
      const tls = (socket as { encrypted?: boolean }).encrypted === true;
      known = { connection: newConnection(this.recorder, socket, tls, false), current: undefined, tls, serverSeen: false };
      // A socket's first request: it carries no stamp yet (add: no test first).
      this.sockets.add(socket, known);
    }
    return known;
  }

  /**
   * `enter`: make the request the async context of the rest of the running call (Node's
   * channel runs inside the call that emits 'request'); Bun's emit wrapper runs the
   * listeners inside it instead.
   */
  onRequest(request: Http.IncomingMessage, response: Http.ServerResponse, socket: Net.Socket, enter = true): RequestState | undefined {
    if (this.recorder.groups.http !== true) return undefined;
    this.ensure();
    const known = this.connectionOf(socket);
    // A server's class is patched once; a connection's server is looked at at its first request
    // only (its socket's server does not change): then a prototype load and a comparison (no
    // WeakSet look-up; no server kept alive).
    if (enter && !known.serverSeen) {
      known.serverSeen = true;
      const server = (socket as { server?: object }).server ?? {};
      const proto = Object.getPrototypeOf(server) as object | null;
      if (proto !== this.lastServerClass) {
        this.patchServer(server);
        this.lastServerClass = proto;
      }
    }
    const tls = known.tls;
    const state = serverRequestStart(
      this.recorder,
      request.method,
      request.url,
      known.connection,
      protocolFlags(request.httpVersionMajor, request.httpVersionMinor, tls),
      rawHeader(request.rawHeaders, "traceparent"),
    ) as ServerRequest;
    known.current = state;
    // The response reaches it as res.req. A request's IncomingMessage is new: add, no look-up.
    serverStamp.add(request, state);
    // And by identity while it is among the last few (recentResponse): no read of res.req.
    if (response !== null && typeof response === "object") noteResponse(response, state);
    // The program's handler runs right after this, in the same call: it and all it starts belong to the request.
    if (enter) enterRequest(state.id);
    return state;
  }

  /**
   * Bun's node:http publishes nothing: its Server's emit is wrapped. 'request' records the
   * start and runs the program's listeners with the request as their async context; parse
   * errors and upgrades as in Node.
   */
  hookBunServer(http: typeof Http): void {
    this.finishFromEmit = true;
    this.ensure();
    // Its 'finish' emit ends a response (no finish channel): the request hook is called there too.
    this.responseHooks!.requestAtFinish = true;
    const proto = http.Server.prototype as unknown as { emit: (this: object, ...args: unknown[]) => boolean };
    if (this.patchedServers.has(proto)) return;
    this.patchedServers.add(proto);
    const original = proto.emit;
    const hooks = this;
    const recorder = this.recorder;
    const emit = renamed(original, function (this: object, event: unknown, first: unknown, second: unknown) {
      let state: RequestState | undefined;
      try {
        if (event === "request") {
          const request = first as Http.IncomingMessage;
          state = hooks.onRequest(request, second as Http.ServerResponse, request.socket as Net.Socket, false);
          if (state !== undefined && typeof second === "object" && second !== null) bunResponses.add(second, state);
        } else if (event === "clientError") hooks.onClientError(this, first, second as Net.Socket);
        else if (event === "upgrade" || event === "connect") hooks.onUpgrade(first as Http.IncomingMessage, second as Net.Socket);
      } catch (error) {
        recorder.fail(error);
      }
      if (state === undefined) return Reflect.apply(original, this, arguments) as boolean;
      return runInRequest(state.id, original as never, this, arguments) as boolean;
    });
    Object.defineProperty(proto, "emit", { configurable: true, writable: true, enumerable: false, value: emit });
  }

  /**
   * `request`: the channel's own (Node publishes the request with its response), so its state
   * is one stamp look-up, not a read of `response.req` first. On Node 20 every property read
   * of scope's on a request's ServerResponse (Express gave it a prototype of its own) missed
   * V8's inline caches, ~1 k instructions each (BENCHMARKS.md "Web: the cost scope induces in
   * the program's code"); `req` as the response holds it when the message has none.
   */
  onFinish(response: Http.ServerResponse, request?: Http.IncomingMessage): void {
    const state = request !== null && typeof request === "object" ? serverStamp.get(request) : responseState(response);
    if (state !== undefined) this.end(response, state, HttpEnd.finished);
  }

  private end(response: Http.ServerResponse, request: ServerRequest, reason: number): void {
    if (request.ended === true) return;
    // A finished response sent its head: headersSent (a getter along its prototypes) is read only for the others.
    // Its status through uncachedGet: on Node 20 this read missed V8's cache every request
    // (Express's per-request prototype; nothing else reads the response's `statusCode` here).
    request.status = reason === HttpEnd.finished || response.headersSent ? (uncachedGet(response, "statusCode") as number) : 0;
    requestEnd(this.recorder, Kind.http_server_response, request, reason);
  }

  /**
   * 'clientError': a parse error (Node answers 400/408/413/431 itself unless the program
   * listens) is recorded as a request of its own with what is known (no method, no target)
   * and its error; a socket error during a request is that request's error.
   */
  onClientError(server: object, error: unknown, socket: Net.Socket | undefined): void {
    if (!this.recorder.groups.http || socket === undefined || socket === null) return;
    const known = this.connectionOf(socket);
    const current = known.current;
    const code = typeof (error as { code?: unknown })?.code === "string" ? ((error as { code: string }).code) : undefined;
    const listened = (server as { listenerCount?: (name: string) => number }).listenerCount?.("clientError") ?? 0;
    const reason = code === "ERR_HTTP_REQUEST_TIMEOUT" ? HttpEnd.timeout : HttpEnd.socketError;
    if (current !== undefined && !current.ended) {
      current.error ??= error;
      // A request Node parsed and then answers itself (socketOnError: nothing listens, the socket
      // still writable, no head of its response sent): requestTimeout's 408 for a body that did
      // not arrive in time, 413, or 400 for a malformed body. It ends here with that status; the
      // socket is destroyed next. Not a client that went away mid-body (the parser's EOF error,
      // a reset): Node's 400 reaches no one and the request ends aborted, as before.
      const inFlight = (socket as { _httpMessage?: { _headerSent?: unknown } | null })._httpMessage;
      const answered = code === "ERR_HTTP_REQUEST_TIMEOUT" || (code !== undefined && code.startsWith("HPE_") && code !== "HPE_INVALID_EOF_STATE");
      if (listened === 0 && answered && socket.writable && inFlight?._headerSent !== true) {
        current.status = clientErrorStatus(code);
        requestEnd(this.recorder, Kind.http_server_response, current, reason);
      }
      return;
    }
    // An idle keep-alive connection reset by the client is no request.
    if (code === "ECONNRESET" || code === "EPIPE") return;
    const request = serverRequestStart(this.recorder, undefined, undefined, known.connection, 0, undefined);
    request.error = error;
    request.status = listened > 0 ? 0 : clientErrorStatus(code);
    requestEnd(this.recorder, Kind.http_server_response, request, reason);
  }

  /** An upgrade or CONNECT handed to the program: a request that ends there (upgraded). */
  onUpgrade(request: Http.IncomingMessage, socket: Net.Socket): void {
    if (!this.recorder.groups.http || request === undefined || socket === undefined) return;
    const known = this.connectionOf(socket);
    const tls = (socket as { encrypted?: boolean }).encrypted === true;
    const state = serverRequestStart(this.recorder, request.method, request.url, known.connection, protocolFlags(request.httpVersionMajor, request.httpVersionMinor, tls), rawHeader(request.rawHeaders, "traceparent"));
    requestEnd(this.recorder, Kind.http_server_response, state, HttpEnd.upgraded);
    enterRequest(state.id);
  }
}

/** What a server's HTTP/2 stream offers (read without running the program's code). */
interface Http2Stream {
  rstCode?: number;
  headersSent?: boolean;
  sentHeaders?: Record<string, unknown>;
  session?: { socket?: unknown; encrypted?: boolean } & object;
}

function isHttpServer(server: object): boolean {
  const http = require("node:http") as typeof Http;
  if (server instanceof http.Server) return true;
  const list = (process as { moduleLoadList?: unknown }).moduleLoadList;
  if (Array.isArray(list) && !list.includes("NativeModule https")) return false;
  return server instanceof (require("node:https") as typeof import("node:https")).Server;
}

/** An outgoing request in flight; `response` once its head arrived (node:http). */
type ClientState = RequestState;

/** The parts of undici's Request the channels hand over (undici 5/6 in Node 20). */
interface UndiciRequest {
  origin?: unknown;
  method?: unknown;
  path?: unknown;
  headers?: unknown;
  body?: unknown;
}

export class ClientHooks {
  private readonly recorder: Recorder;
  /** Bun: nothing published; a request starts at its end() call and its response is its 'response' emit. */
  bun = false;
  private readonly sockets = new WeakMap<object, Connection>();
  private readonly undiciPatched = new WeakSet<object>();
  patched = false;

  constructor(private readonly tracer: Tracer) {
    this.recorder = tracer.recorder;
  }

  ensure(): void {
    if (this.patched) return;
    this.patched = true;
    const http = require("node:http") as typeof Http;
    patchBodies(this.recorder, http);
    const hooks = this;
    if (this.bun) {
      // Bun's ClientRequest inherits OutgoingMessage's end: an own one records the start (in
      // the program's context, before the end chunk is counted), once per request.
      const proto = http.ClientRequest.prototype as unknown as { end: (this: object, ...args: unknown[]) => unknown };
      const end = proto.end;
      const recorder = this.recorder;
      Object.defineProperty(proto, "end", {
        configurable: true,
        writable: true,
        enumerable: false,
        value: renamed(end, function (this: object) {
          if (clientOf(this) === undefined) {
            if (propagateTraceparent) recorder.safe(() => addTraceparent(this as Http.ClientRequest));
            recorder.safe(() => void hooks.onRequest(this as Http.ClientRequest));
          }
          return Reflect.apply(end, this, arguments);
        }),
      });
    } else {
      // Node builds a request's head in _implicitHeader, at the program's first write or
      // end (or flushHeaders), in its context, before any byte is sent: the start is recorded
      // there (`http.client.request.start` comes from _finish, after the head was written,
      // too late for `scope merge`'s clock bound: a server could stamp the request first),
      // and with --propagate the traceparent goes in just before. The patch is made at the
      // first client socket (inside the first ClientRequest's constructor), before that.
      // Headers given as an array (Node builds that head in the constructor) and a request
      // whose socket came before the patch are recorded from the channel, as before.
      const proto = http.ClientRequest.prototype as unknown as { _implicitHeader?: (this: object) => unknown };
      const implicit = proto._implicitHeader;
      const recorder = this.recorder;
      if (typeof implicit === "function") {
        proto._implicitHeader = renamed(implicit, function (this: object) {
          if (clientOf(this) === undefined) {
            if (propagateTraceparent) recorder.safe(() => addTraceparent(this as Http.ClientRequest));
            recorder.safe(() => void hooks.onRequest(this as Http.ClientRequest));
          }
          return Reflect.apply(implicit, this, arguments);
        });
      }
    }
    hookEmit(http.ClientRequest.prototype, this.recorder, ["response", "error", "close", "timeout", "abort"], function (this: object, event, first) {
      if (event === "response" && hooks.bun) return void hooks.onResponse(this as Http.ClientRequest, first as Http.IncomingMessage);
      if (event !== "error" && event !== "close" && event !== "timeout" && event !== "abort") return;
      // An error before the program ended the request (never published): recorded now.
      const request = clientOf(this) ?? (event === "error" ? hooks.onRequest(this as Http.ClientRequest) : undefined);
      if (request === undefined || request.ended) return;
      if (event === "timeout") request.timedOut = true;
      else if (event === "error") {
        request.error ??= first;
        // A response in progress ends at its own 'close'/'end'; else the request ends here.
        if (request.response === undefined) requestEnd(hooks.recorder, Kind.http_client_response, request, 0);
      } else if (event === "close" && request.response === undefined) {
        // A 101 or a CONNECT's answer handed to the program ('upgrade'/'connect', then 'close'
        // at once): Node marks the request upgradeOrConnect and keeps the response on it.
        const upgraded = protoData(this, "upgradeOrConnect") === true;
        if (upgraded) {
          const response = protoData(this, "res");
          const status = response !== null && typeof response === "object" ? protoData(response, "statusCode") : undefined;
          if (typeof status === "number") request.status = status;
        }
        requestEnd(hooks.recorder, Kind.http_client_response, request, upgraded ? HttpEnd.upgraded : 0);
      }
    });
  }

  private responsesHooked = false;

  /**
   * IncomingMessage's emit ('end', 'close': a client response's end), wrapped at the first
   * client request recorded (onRequest), not with the other client patches: those go in at
   * the first client socket while node:http is loaded, which a service's database sockets
   * (pg's) are, and a server's every request is an IncomingMessage too, whose 'end' and
   * 'close' then passed the wrapper for nothing (~0.3 k instructions a request of the web
   * workload, BENCHMARKS.md "Web: fewer records and wrappers a request"). A response whose
   * request was not recorded has nothing to end, so nothing is missed.
   */
  private hookResponses(): void {
    if (this.responsesHooked) return;
    this.responsesHooked = true;
    const http = require("node:http") as typeof Http;
    const hooks = this;
    hookEmit(http.IncomingMessage.prototype, this.recorder, ["end", "close"], function (this: object, event) {
      const request = clientOfResponse(this);
      if (request === undefined || request.ended) return;
      if (event === "end") requestEnd(hooks.recorder, Kind.http_client_response, request, HttpEnd.finished);
      else if (event === "close") requestEnd(hooks.recorder, Kind.http_client_response, request, (this as { complete?: boolean }).complete === true ? HttpEnd.finished : 0);
    });
  }

  private connectionOf(socket: Net.Socket): Connection {
    let connection = this.sockets.get(socket);
    if (connection === undefined) {
      const tls = (socket as { encrypted?: boolean }).encrypted === true;
      connection = newConnection(this.recorder, socket, tls, true);
      this.sockets.set(socket, connection);
    }
    return connection;
  }

  /** As its head is built (_implicitHeader), else when the program ends the request (ClientRequest _finish), in the context it does so. */
  onRequest(request: Http.ClientRequest): ClientState | undefined {
    if (!this.recorder.groups.http) return undefined;
    // Already recorded as its head was built (_implicitHeader, above).
    const known = clientOf(request);
    if (known !== undefined) return known;
    this.ensure();
    this.hookResponses();
    const host = request.getHeader("host");
    const protocol = typeof request.protocol === "string" ? request.protocol : "http:";
    const url = `${protocol}//${typeof host === "string" ? host : request.host}${request.path}`;
    const traceparent = request.getHeader("traceparent");
    const state: ClientState = clientRequestStart(this.recorder, request.method, url, protocol === "https:" ? HttpClient.https : HttpClient.http, typeof traceparent === "string" ? traceparent : undefined);
    state.requestBytes = unclaimedStamp.get(request) ?? 0;
    clientStamp.set(request, state);
    return state;
  }

  onResponse(request: Http.ClientRequest, response: Http.IncomingMessage): void {
    const state = clientOf(request);
    if (state === undefined) return;
    state.status = response.statusCode ?? 0;
    state.response = response;
    const socket = request.socket;
    if (socket) clientConnection(this.recorder, state, this.connectionOf(socket));
  }

  /**
   * undici's Request.prototype (Node's bundled undici, reached through the channel's
   * message): onBodySent and onData see every body chunk sent and received; counted.
   */
  private patchUndici(request: object): void {
    const proto = Object.getPrototypeOf(request) as Record<string, unknown> | null;
    if (proto === null || this.undiciPatched.has(proto)) return;
    this.undiciPatched.add(proto);
    const recorder = this.recorder;
    for (const [name, field] of [["onBodySent", "requestBytes"], ["onData", "responseBytes"]] as const) {
      const original = proto[name];
      if (typeof original !== "function") continue;
      proto[name] = renamed(original, function (this: object, chunk: unknown) {
        const state = clientOf(this);
        if (state !== undefined) {
          try {
            state[field] += chunkBytes(chunk, undefined, Buffer.byteLength as (text: string) => number);
          } catch (error) {
            recorder.fail(error);
          }
        }
        return Reflect.apply(original, this, arguments);
      });
    }
  }

  onFetch(request: UndiciRequest): void {
    if (!this.recorder.groups.http) return;
    this.patchUndici(request as object);
    const origin = typeof request.origin === "string" ? request.origin : String(request.origin ?? "");
    const path = typeof request.path === "string" ? request.path : "";
    let traceparent = headerOf(request.headers, "traceparent");
    // --propagate: undici sends the headers later (the create channel runs in its Request's constructor).
    if (propagateTraceparent && traceparent === undefined) traceparent = addUndiciHeader(request, "traceparent", newTraceparent());
    // One channel for fetch and the undici package's own API (request, stream, a Client's):
    // fetch always sends sec-fetch-mode (its headers are set before this channel runs).
    const api = headerOf(request.headers, "sec-fetch-mode") === undefined ? HttpClient.undici : HttpClient.fetch;
    const state = clientRequestStart(this.recorder, typeof request.method === "string" ? request.method : undefined, `${origin}${path}`, api, traceparent);
    clientStamp.set(request as object, state);
  }

  onFetchSocket(request: UndiciRequest, socket: Net.Socket): void {
    const state = clientOf(request as object);
    if (state === undefined || !socket) return;
    clientConnection(this.recorder, state, this.connectionOf(socket));
  }

  onFetchHeaders(request: UndiciRequest, response: { statusCode: number }): void {
    const state = clientOf(request as object);
    if (state !== undefined) state.status = response.statusCode;
  }

  /** The body ended (trailers) or the request failed. */
  onFetchEnd(request: UndiciRequest, error: unknown): void {
    const state = clientOf(request as object);
    if (state === undefined || state.ended) return;
    if (error !== undefined) state.error = error;
    requestEnd(this.recorder, Kind.http_client_response, state, error === undefined ? HttpEnd.finished : 0);
  }
}

/** Adds a header to undici's Request before it is sent (its addHeader, else its raw list or text); the value when added. */
function addUndiciHeader(request: UndiciRequest, name: string, value: string): string | undefined {
  const target = request as UndiciRequest & { addHeader?: (key: string, value: string) => unknown };
  if (typeof target.addHeader === "function") target.addHeader(name, value);
  else if (Array.isArray(target.headers)) target.headers.push(name, value);
  else if (typeof target.headers === "string") target.headers += `${name}: ${value}\r\n`;
  else return undefined;
  return value;
}

/** A header of undici's request or response: an array [name, value, ...] of strings or Buffers, or "name: value\r\n" text. */
function headerOf(headers: unknown, name: string): string | undefined {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const key = headers[i];
      const text = typeof key === "string" ? key : key instanceof Uint8Array ? Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1") : undefined;
      if (text !== undefined && text.length === name.length && text.toLowerCase() === name) {
        const value = headers[i + 1];
        return typeof value === "string" ? value : value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("latin1") : undefined;
      }
    }
    return undefined;
  }
  if (typeof headers === "string") {
    const lower = headers.toLowerCase();
    const at = lower.startsWith(`${name}:`) ? 0 : lower.indexOf(`\r\n${name}:`);
    if (at < 0) return undefined;
    const start = (at === 0 ? 0 : at + 2) + name.length + 1;
    const end = headers.indexOf("\r\n", start);
    return headers.slice(start, end < 0 ? headers.length : end).trim();
  }
  return undefined;
}

type EmitHook = (this: never, event: string, first: unknown, second: unknown) => void;

/**
 * Wraps `target.emit` (an own, non-enumerable property of a prototype) to run `hook` before
 * the listeners, for the named events only: every other emit costs one comparison per name
 * and a call. (wrapEmit in hooks.ts is the general form, with after-hooks and several hooks
 * per target; the HTTP prototypes emit several times per request, so this one is lean.)
 */
function hookEmit(target: object, recorder: Recorder, events: readonly string[], hook: EmitHook): void {
  const host = target as { emit: (this: unknown, ...args: unknown[]) => boolean };
  const original = host.emit;
  const [e0, e1 = e0, e2 = e0, e3 = e0, e4 = e0] = events;
  if (events.length > 5) throw new Error("hookEmit: at most 5 events");
  // hook.call(this, ...) without an arguments array per matched event (and immune to a later
  // change of Function.prototype.call: bound now).
  const invoke = Function.prototype.call.bind(hook) as unknown as (self: unknown, event: unknown, first: unknown, second: unknown) => void;
  const call = callerOf(original);
  // Named parameters for 1 to 3 arguments, else `arguments` untouched (see patchBodies); its
  // length redefined below.
  const emit = function emit(this: unknown, event: unknown, first: unknown, second: unknown) {
    if (event === e0 || event === e1 || event === e2 || event === e3 || event === e4) {
      try {
        invoke(this, event, first, second);
      } catch (error) {
        recorder.fail(error);
      }
    }
    const n = arguments.length;
    return n === 1 ? call(this, event) : n === 2 ? call(this, event, first) : n === 3 ? call(this, event, first, second) : (Reflect.apply(original, this, arguments) as boolean);
  };
  Object.defineProperty(emit, "length", { value: original.length });
  Object.defineProperty(target, "emit", { configurable: true, writable: true, enumerable: false, value: emit });
}

