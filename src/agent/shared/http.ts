/**
 * HTTP requests as events, for both runtimes: what a request start, end, connection and
 * error record hold (zig/layout.zig, kinds 48..63), written through the Recorder. The
 * runtime-specific parts (src/agent/node/http.ts, src/agent/bun/http.ts) find the requests
 * (diagnostics channels where the runtime publishes them, patches where it does not) and
 * call these. Nothing here reads a body, adds a header or keeps a request alive: a
 * request's state is a small object the runtime's own objects carry under a symbol.
 */
import { markTurn } from "./loop";
import { HTTP_TLS_FLAG, HttpConnectionFlag, HttpEnd, HttpEndFlag, HttpProtocol, Kind, LongTaskKind } from "./kinds";
import { REDACTED, redaction, redactUserinfo } from "./redact";
import type { Recorder } from "./recorder";
import { currentRequest, newConnectionId, newRequestId } from "./request-context";
import { makeStamp, type Stamp } from "./stamp";
import { protoData } from "./reflect";

/** The same secret-key test as the previews' (preview.ts), read from redact.ts so the Node agent's second chunk needs no preview module. */
const SECRET_KEY = redaction().secretKey;

/**
 * Server requests by the runtime object that carries them (invisibly, stamp.ts): Node's and
 * Bun's node:http IncomingMessage (its ServerResponse reaches it as `res.req`), the
 * HTTP/2 compatibility request and response, Bun.serve's Request.
 */
export const serverRequests = lastOneKept(makeStamp<RequestState>(true));

/**
 * A stamp whose last object looked up (or stamped) and its value are kept: a server request's
 * IncomingMessage is looked up ~15 times a request (each Express layer, the response's emits,
 * its body counters), and Express changes its shape layer by layer, so each stamp read there
 * is a megamorphic private-field look-up (~200 instructions); the same object again is one
 * comparison. Holds one object (the last request looked up) until the next look-up.
 */
function lastOneKept<T>(stamp: Stamp<T>): Stamp<T> {
  let last: object | undefined;
  let lastValue: T | undefined;
  return {
    get(object: object): T | undefined {
      if (object === last) return lastValue;
      const value = stamp.get(object);
      if (value !== undefined) {
        last = object;
        lastValue = value;
      }
      return value;
    },
    set(object: object, value: T): void {
      stamp.set(object, value);
      last = object;
      lastValue = value;
    },
    add(object: object, value: T): void {
      stamp.add(object, value);
      last = object;
      lastValue = value;
    },
    replace(object: object, value: T): void {
      stamp.replace(object, value);
      last = object;
      lastValue = value;
    },
  };
}

/**
 * What a noted state's `response` holds once its response closed: an object, not undefined.
 * recentResponse compares the noted responses with `===`, and while every one it had met was
 * an object V8's optimized code checks for one; the first closed response met there (the
 * newest requests all answered: any pause between requests, as the in-process service's hold
 * before its measured window) deoptimized recentResponse and the emit and body wrappers that
 * inline it, and their next code was Maglev's for thousands of requests (BENCHMARKS.md "Web: 16
 * requests in flight"). For the same reason the slots hold NO_STATE, never undefined, until a
 * request's state: a first found response (a miss: any time) met only undefined would do it too.
 */
const RESPONSE_CLOSED: object = Object.freeze({});

/** A state no response is found in (its response closed): what the slots hold before a request's. */
const NO_STATE: RequestState = requestState(0);
NO_STATE.response = RESPONSE_CLOSED;

/**
 * The responses of the last few server requests started, by identity, with their requests'
 * states: a ServerResponse's request found without reading `res.req`. On Node 20 Express
 * gives each request's response a map of its own (`setPrototypeOf`), so every property
 * read of it misses V8's inline caches (~0.7–1 k instructions each, four a request: the
 * body counters' `end`, the response's 'finish' and 'close' emits); an identity compare
 * reads nothing (BENCHMARKS.md "Web: scope's added instructions by function"). A response
 * is noted at its request's start (Node publishes them together), on its request's state,
 * and dropped from it at its 'close' (so that scope keeps no response alive: responseClosed).
 *
 * The states of the last STATES_BY_ID server requests started are kept at their id's slot
 * (ids are a thread's counter: requests started together have neighbouring ids), and a
 * response is compared with the RECENT_RESPONSES newest. With many requests in flight (16
 * connections, the bench's web workload) a response's first look-up (its body counter's
 * `end`, in its handler) comes 7–25 request starts after its own (each connection's next
 * request starts at its previous response; /orders waits for two queries), past the newest:
 * its state is then the running request's (the request context's id, its slot; the body
 * counter reads that slot first: writtenResponseState), not read through `res.req` and its
 * IncomingMessage's stamp, and it is noted among the two found so
 * (foundStates), which are compared first: its next look-ups (its 'finish' and 'close' emits)
 * find it at the first or second compare (BENCHMARKS.md "Web: 16 requests in flight", "Web: 16
 * connections steady, traced against untraced"). One store a request start, as a ring of the
 * newest alone had. The compares' exact form is what Node 24's TurboFan still inlines into the
 * emit wrapper with `hooks.steps` and what costs Node 20 least at one connection (two compares
 * at constant indices; the found as variables, or after the newest's slot, made Node 24 leave
 * `recentResponse` or `hooks.steps` out, +0.1–0.5 k a request; a loop over them cost Node 20's
 * one connection +0.18 k).
 */
const RECENT_RESPONSES = 4;
const STATES_BY_ID = 64;
const statesById: RequestState[] = new Array<RequestState>(STATES_BY_ID).fill(NO_STATE);
/** The id of the newest server request noted. */
let newestId = 0;
/** The two states found last past the newest (compared at constant indices), and the index of the later one. */
const foundStates: RequestState[] = [NO_STATE, NO_STATE];
let foundLast = 0;

/** Notes `response` as the one answering the request of `state` (at that request's start). */
export function noteResponse(response: object, state: RequestState): void {
  state.response = response;
  const id = state.id;
  statesById[id & (STATES_BY_ID - 1)] = state;
  newestId = id;
}

/** Notes `state`, whose response is open and was found past the newest, among the found. */
function noteFound(state: RequestState): void {
  const at = foundLast ^ 1;
  foundStates[at] = state;
  foundLast = at;
}

/** At a response's 'close' (its last emit): `state` keeps it no longer. */
export function responseClosed(state: RequestState, response: object): void {
  if (state.response === response) state.response = RESPONSE_CLOSED;
}

/**
 * The state of the request `response` answers when it is one of the two found last or the
 * responses noted last; else undefined. The found first (with many requests in flight, a
 * response's emits after its body counter's `end`; with one, they hold NO_STATE or an answered
 * response: two compares), then the newest first: a response's own emits and writes come
 * mostly before the next request starts.
 */
export function recentResponse(response: unknown): RequestState | undefined {
  const found = foundStates[0]!;
  if (found.response === response) return found;
  const other = foundStates[1]!;
  if (other.response === response) return other;
  let id = newestId;
  for (let i = 0; i < RECENT_RESPONSES; i++) {
    const state = statesById[id & (STATES_BY_ID - 1)]!;
    if (state.response === response) return state;
    id--;
  }
  return undefined;
}

/**
 * The state of the server request a ServerResponse answers: recentResponse, else the running
 * request's (its slot by the request context's id), else `res.req`'s stamp (as Node sets it).
 * One found past recentResponse is noted among the found (noteFound).
 */
export function responseState(response: unknown): RequestState | undefined {
  // `this` of an emit: any value the program called it with (strict code passes it on).
  if (response === null || typeof response !== "object") return undefined;
  const recent = recentResponse(response);
  return recent !== undefined ? recent : requestOfResponse(response);
}

/**
 * The state of the server request a response's body counter writes for (node/http.ts: the
 * program's `write` and `end` of it): the running request's slot first, then recentResponse,
 * then `res.req`'s stamp. The program writes a response in its handler, in the request's
 * context; with many requests in flight the body counter's `end` is a response's first
 * look-up and comes past the newest responses noted (16 connections: 7–25 starts later), so
 * recentResponse's six compares (the two found, the four newest, each a state read) all
 * missed before the running request's slot found it: on Node 24 15 code lines run and ~20 D1
 * read misses a request more (BENCHMARKS.md "Web: the body counter's end and the ended flags").
 */
export function writtenResponseState(response: object): RequestState | undefined {
  const running = runningState(response);
  if (running !== undefined) return running;
  const recent = recentResponse(response);
  return recent !== undefined ? recent : stampedState(response);
}

/**
 * responseState's path past recentResponse, a function of its own: the callers that inline
 * responseState (the emit wrapper's hooks) inline the compares, not this.
 */
function requestOfResponse(response: object): RequestState | undefined {
  const running = runningState(response);
  return running !== undefined ? running : stampedState(response);
}

/**
 * The running request's state when `response` is its response (noted among the found), else
 * undefined: one context read (Node 24: its AsyncContextFrame's map; Node 20: the running
 * resource's, cached by async id) and an identity compare, where `res.req` is a read of the
 * response (on Node 20 a miss of V8's caches on Express's per-request response map, ~1 k
 * instructions) and a private-field look-up on an IncomingMessage whose shape Express changed
 * layer by layer.
 */
function runningState(response: object): RequestState | undefined {
  const running = statesById[currentRequest() & (STATES_BY_ID - 1)]!;
  if (running.response !== response) return undefined;
  noteFound(running);
  return running;
}

/** The state `res.req` (as Node sets it) carries; noted among the found while its response is open. */
function stampedState(response: object): RequestState | undefined {
  const request = (response as { req?: unknown }).req;
  if (request === null || typeof request !== "object") return undefined;
  const state = serverRequests.get(request);
  // Still open (not past its 'close': scope keeps no closed response).
  if (state !== undefined && state.response === response) noteFound(state);
  return state;
}

/**
 * The id of the server request `message` is or answers (an IncomingMessage, a
 * ServerResponse, a Bun.serve Request), 0 when scope recorded none: for framework
 * integrations, which write http_route / http_step_start / http_step_end with it (inside a
 * handler, currentRequest() gives the same id).
 */
export function serverRequestId(message: unknown): number {
  if (message === null || typeof message !== "object") return 0;
  const own = serverRequests.get(message);
  if (own !== undefined) return own.id;
  const request = (message as { req?: unknown }).req;
  return request !== null && typeof request === "object" ? (serverRequests.get(request)?.id ?? 0) : 0;
}

/** Longest target/URL recorded (characters); longer ones are cut with "…". */
const MAX_TARGET_CHARS = 1024;
/** Longest traceparent recorded (a valid one is 55). */
const MAX_TRACEPARENT_CHARS = 128;

/**
 * The request target with the values of secret-looking query keys (the message previews'
 * rule: password, token, key, session, ...) replaced by "[redacted]", a key percent-encoded
 * (`p%61ssword`) as well, and an absolute URL's user information (`user:password@`, which
 * Bun's fetch takes) replaced whole, as a key named "password" would be. The path is kept
 * as received (a non-UTF-8 path arrives as latin1 characters and is recorded as such).
 */
export function redactTarget(target: string): string {
  let text = target.length > MAX_TARGET_CHARS ? `${target.slice(0, MAX_TARGET_CHARS - 1)}…` : target;
  if (text.charCodeAt(0) !== 47 /* "/": an origin-form target, no authority */) text = redactUserinfo(text);
  const question = text.indexOf("?");
  if (question < 0) return text;
  const hash = text.indexOf("#", question);
  const end = hash < 0 ? text.length : hash;
  const query = text.slice(question + 1, end);
  // A key is also tested decoded (decodeKey): a query with a `%` may hold a secret key the raw text does not show.
  if (!SECRET_KEY.test(query) && query.indexOf("%") < 0) return text;
  const parts = query.split("&");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const equals = part.indexOf("=");
    const key = equals < 0 ? part : part.slice(0, equals);
    if (SECRET_KEY.test(key) || SECRET_KEY.test(decodeKey(key))) parts[i] = `${key}=${REDACTED}`;
  }
  return `${text.slice(0, question + 1)}${parts.join("&")}${text.slice(end)}`;
}

function decodeKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, " "));
  } catch {
    return key;
  }
}

/** A connection as the recorder knows it: written once (http_connection), then named by id. */
export interface Connection {
  id: number;
  /** Requests seen on it so far (the last one's ordinal). */
  requests: number;
}

export interface Addresses {
  localAddress?: string | undefined;
  localPort?: number | undefined;
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
}

/** Writes an http_connection record for a new connection and returns it. */
export function newConnection(recorder: Recorder, addresses: Addresses, tls: boolean, outgoing: boolean): Connection {
  const id = newConnectionId();
  const flags = (tls ? HttpConnectionFlag.tls : 0) | (outgoing ? HttpConnectionFlag.outgoing : 0);
  recorder.event(
    Kind.http_connection,
    id,
    recorder.str(addresses.localAddress),
    addresses.localPort ?? 0,
    recorder.str(addresses.remoteAddress),
    addresses.remotePort ?? 0,
    flags,
  );
  return { id, requests: 0 };
}

/**
 * What the framework steps of one server request share (src/agent/node/frameworks.ts `Steps`,
 * which names the step type): fields of the request's state itself, not an object of their
 * own made at its first step (an allocation, and a load at each step: BENCHMARKS.md "Web: the
 * HTTP server's and Express's part on Node 24").
 */
export interface StepsState {
  /** The request's id. */
  id: number;
  /** The last step's ordinal. */
  ordinal: number;
  /**
   * The innermost step begun and not yet ended; the ones it began inside follow through
   * their `below` (a list in the steps themselves: no array grown a request).
   */
  top: unknown;
  /** The route pattern matched last (handlers are named with it) and its string id. */
  route: string | undefined;
  routeId: number;
  /** A Fastify hook failed: Fastify still publishes its handler's start, but runs no handler. */
  hookFailed: boolean;
  /** Steps ended at the response's 'finish' whose ends ride on the request's end record: the innermost, the rest through `below` (left set once that record is written). */
  ending: unknown;
  /** The framework's string id of a route matched and not recorded yet: it rides on the next handler step's start (flushRoute). */
  routeFramework: number;
}

/** A request in flight: what its end record needs, and a server request's framework steps (StepsState). */
export interface RequestState extends StepsState {
  requestBytes: number;
  responseBytes: number;
  status: number;
  /**
   * Tested `=== true` / `!== true` on the request path: V8's optimized code keeps no field type
   * for a boolean, so a bare test is TurboFan's whole ToBoolean (~70–95 bytes), this one compare
   * (BENCHMARKS.md "Web: the body counter's end and the ended flags"; sink.ts `Groups`).
   */
  ended: boolean;
  timedOut: boolean;
  error: unknown;
  /**
   * HttpEndFlag, ORed into the end record's flags: body sizes the runtime does not expose, and
   * `stepsEnd`: the frameworks ended the steps still open at the response's 'finish' without
   * records of their own (the end record says so, one record less). One field, not a flag
   * field and a boolean: a state is allocated per request (BENCHMARKS.md "Web: what the agent
   * allocates a request").
   */
  endFlags: number;
  /**
   * The response: a server request's ServerResponse from its start to the response's 'close'
   * (recentResponse), a client request's IncomingMessage once its head arrived (node:http).
   */
  response: object | undefined;
}

/** A new request's state (also the frameworks' steps of a request scope did not record: frameworks.ts). */
export function requestState(id: number): RequestState {
  return {
    id,
    requestBytes: 0,
    responseBytes: 0,
    status: 0,
    ended: false,
    timedOut: false,
    error: undefined,
    endFlags: 0,
    response: undefined,
    ordinal: 0,
    top: undefined,
    route: undefined,
    routeId: 0,
    hookFailed: false,
    ending: undefined,
    routeFramework: 0,
  };
}

export function protocolFlags(major: number | undefined, minor: number | undefined, tls: boolean): number {
  const protocol = major === 2 ? HttpProtocol.http2 : major === 1 ? (minor === 0 ? HttpProtocol.http1_0 : HttpProtocol.http1_1) : HttpProtocol.unknown;
  return protocol | (tls ? HTTP_TLS_FLAG : 0);
}

/** The last method's string id (Node's parser hands each method as one string of its own table: an identity compare). */
let lastMethod: string | undefined;
let lastMethodId = 0;
let lastMethodOf: Recorder | undefined;

function methodId(recorder: Recorder, method: string | undefined): number {
  if (method === lastMethod && recorder === lastMethodOf && method !== undefined) return lastMethodId;
  const id = recorder.str(method);
  if (id !== 0) {
    lastMethod = method;
    lastMethodId = id;
    lastMethodOf = recorder;
  }
  return id;
}

/** Server request targets as received → the string id of their recorded (redacted) text, for the recorder of `targetsOf`. */
const targets = new Map<string, number>();
let targetsOf: Recorder | undefined;
/** Targets kept at most: a program whose targets all differ (ids in the path) looks each up once more, and pays redactTarget as before. */
const MAX_TARGETS = 1024;

/**
 * The last few targets looked up and their ids, compared by text (`===`): the parser makes
 * each request's target a new string, whose Map look-up first hashes it (~350 instructions
 * a request of the web workload with the look-up, BENCHMARKS.md "Web: the HTTP server's part
 * of a request"); a compare stops at a different length or the first different character.
 * A service's requests repeat a few targets (its health check, its pages); one whose targets
 * all differ pays RECENT_TARGETS failed compares more.
 */
const RECENT_TARGETS = 4;
const recentTargets: (string | undefined)[] = new Array<string | undefined>(RECENT_TARGETS).fill(undefined);
const recentTargetIds: number[] = new Array<number>(RECENT_TARGETS).fill(0);
let recentTargetNext = 0;

/**
 * The string id of a server request's target: a target received before is one of the recent
 * targets' compares, else one Map look-up (its hash), not redactTarget's scan and the
 * recorder's look-up of the redacted text; the id is the one `str` gave it the first time
 * (an interned string: the same as `str` would give again).
 */
function targetId(recorder: Recorder, target: string): number {
  if (targetsOf !== recorder) {
    targets.clear();
    recentTargets.fill(undefined);
    targetsOf = recorder;
  }
  for (let i = 0; i < RECENT_TARGETS; i++) {
    if (recentTargets[i] === target) return recentTargetIds[i]!;
  }
  let id = targets.get(target);
  if (id === undefined) {
    id = recorder.str(redactTarget(target));
    if (id === 0) return 0;
    if (targets.size < MAX_TARGETS) targets.set(target, id);
  }
  const at = recentTargetNext;
  recentTargets[at] = target;
  recentTargetIds[at] = id;
  recentTargetNext = at === RECENT_TARGETS - 1 ? 0 : at + 1;
  return id;
}

/** http_server_request (and http_traceparent when the request has one). */
export function serverRequestStart(recorder: Recorder, method: string | undefined, target: string | undefined, connection: Connection | undefined, flags: number, traceparent: string | undefined): RequestState {
  const id = newRequestId();
  let ordinal = 0;
  if (connection) ordinal = ++connection.requests;
  markTurn(LongTaskKind.http);
  recorder.event(Kind.http_server_request, id, methodId(recorder, method), target === undefined ? 0 : targetId(recorder, target), connection?.id ?? 0, ordinal, flags);
  if (traceparent !== undefined) recorder.event(Kind.http_traceparent, id, recorder.str(traceparent.slice(0, MAX_TRACEPARENT_CHARS), false));
  return requestState(id);
}

/** http_client_request: made in the current request's context (field d), by `api` (HttpClient). */
export function clientRequestStart(recorder: Recorder, method: string | undefined, url: string | undefined, api: number, traceparent: string | undefined): RequestState {
  const id = newRequestId();
  recorder.event(Kind.http_client_request, id, recorder.str(method), recorder.str(url === undefined ? undefined : redactTarget(url)), currentRequest(), api);
  if (traceparent !== undefined) recorder.event(Kind.http_traceparent, id, recorder.str(traceparent.slice(0, MAX_TRACEPARENT_CHARS), false), 0, 0, 0, 1);
  return requestState(id);
}

/**
 * scope run --propagate (SCOPE_PROPAGATE=1): outgoing requests get a `traceparent` header
 * unless the program set one, so the server side (traced or not) sees which request reached
 * it; the client's http_traceparent records the value sent. Off by default: it changes what
 * the server receives.
 */
export const propagateTraceparent = typeof process === "object" && process.env?.SCOPE_PROPAGATE === "1";

const random = new Uint8Array(24);
const hex = (from: number, to: number) => {
  let text = "";
  for (let i = from; i < to; i++) text += (random[i]! < 16 ? "0" : "") + random[i]!.toString(16);
  return text;
};

/** A new W3C traceparent (version 00, a random trace id and parent id, sampled). */
export function newTraceparent(): string {
  const crypto = (globalThis as { crypto?: { getRandomValues?: (array: Uint8Array) => Uint8Array } }).crypto;
  if (typeof crypto?.getRandomValues === "function") crypto.getRandomValues(random);
  else for (let i = 0; i < random.length; i++) random[i] = Math.floor(Math.random() * 256);
  // All-zero ids are invalid (W3C): never the case with 8 and 16 random bytes in practice, but cheap to rule out.
  random[15] ||= 1;
  random[23] ||= 1;
  return `00-${hex(0, 16)}-${hex(16, 24)}-01`;
}

/** --propagate on a node:http ClientRequest (Node, Bun) whose head is not built yet and that has no traceparent. */
export function addTraceparent(request: { headersSent?: boolean; getHeader(name: string): unknown; setHeader(name: string, value: string): unknown }): void {
  if (request.headersSent === true || request.getHeader("traceparent") !== undefined) return;
  request.setHeader("traceparent", newTraceparent());
}

/** http_client_connection: the outgoing request's connection and its ordinal on it. */
export function clientConnection(recorder: Recorder, request: RequestState, connection: Connection): void {
  recorder.event(Kind.http_client_connection, request.id, connection.id, ++connection.requests);
}

/** Codes of errors that mean the other side went away (the request was aborted, not failed). */
// HPE_INVALID_EOF_STATE: the client closed the connection in the middle of its request.
const ABORT_CODES = new Set(["ECONNRESET", "ECONNABORTED", "EPIPE", "ABORT_ERR", "UND_ERR_ABORTED", "AbortError", "HPE_INVALID_EOF_STATE"]);
const TIMEOUT_CODES = new Set(["ERR_HTTP_REQUEST_TIMEOUT", "ETIMEDOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "TimeoutError"]);

/** An error's code, else its name; never runs a getter of the error. */
export function errorCode(error: unknown): string | undefined {
  if (error === null || typeof error !== "object") return error === undefined ? undefined : typeof error;
  const code = ownData(error, "code");
  if (typeof code === "string") return code;
  const name = protoData(error, "name");
  return typeof name === "string" ? name : "Error";
}

function ownData(object: object, key: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return descriptor && "value" in descriptor ? descriptor.value : undefined;
}

/**
 * Writes the end of a request once: http_error first when an error ended it, then
 * http_server_response / http_client_response. `reason`: HttpEnd, or 0 to derive it from
 * the state (an error's code: aborted, timeout or socket error; a timeout seen: timeout;
 * else aborted). `flags`: HttpEndFlag (a body size not known).
 */
export function requestEnd(recorder: Recorder, kind: number, request: RequestState, reason: number, flags = 0): void {
  if (request.ended === true) return;
  request.ended = true;
  let end = reason;
  const error = request.error;
  if (error !== undefined) {
    const code = errorCode(error);
    const message = error !== null && typeof error === "object" ? protoData(error, "message") : undefined;
    recorder.event(Kind.http_error, request.id, recorder.str(code), recorder.message(typeof message === "string" ? message : undefined, false));
    // Bun's parser errors carry no code, only Node's message ("Parse Error: Invalid EOF state").
    const aborted = (code !== undefined && ABORT_CODES.has(code)) || (typeof message === "string" && message.endsWith("Invalid EOF state"));
    // A timeout seen first explains the error that follows (the program destroys the request on 'timeout').
    if (end === 0) end = request.timedOut || (code !== undefined && TIMEOUT_CODES.has(code)) ? HttpEnd.timeout : aborted ? HttpEnd.aborted : HttpEnd.socketError;
  }
  if (end === 0) end = request.timedOut ? HttpEnd.timeout : HttpEnd.aborted;
  recorder.event(kind, request.id, request.status, request.requestBytes, request.responseBytes, end, flags | request.endFlags);
}

/** Byte length of a chunk the program writes (string in `encoding`, or any byte view). */
export function chunkBytes(chunk: unknown, encoding: unknown, byteLength: (text: string, encoding?: string) => number): number {
  if (chunk === null || chunk === undefined) return 0;
  if (typeof chunk === "string") return byteLength(chunk, typeof encoding === "string" ? encoding : "utf8");
  if (ArrayBuffer.isView(chunk)) return chunk.byteLength;
  if (chunk instanceof ArrayBuffer) return chunk.byteLength;
  return 0;
}

/** The value of header `name` (lower case) in a raw header list [name, value, ...], without building a headers object. */
export function rawHeader(raw: unknown, name: string): string | undefined {
  if (!Array.isArray(raw)) return undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i];
    if (typeof key === "string" && key.length === name.length && key.toLowerCase() === name) {
      const value = raw[i + 1];
      return typeof value === "string" ? value : undefined;
    }
  }
  return undefined;
}
